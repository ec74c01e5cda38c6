//! The maintenance page: while a backup or restore has Structr stopped, a small
//! listener on Structr's HTTP port answers every request with `503 Service
//! Unavailable`, a `Retry-After` and a short page, so visitors and monitors see
//! planned maintenance instead of "connection refused". It is released before
//! Structr starts: dropping the [`Guard`] closes the listener, ends every
//! connection and joins every thread before it returns.

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// Where the page is looked for when the config names none.
pub const DEFAULT_PAGE: &str = "/etc/structr-backup/maintenance.html";
/// A page file larger than this is not served (the built-in one is).
const MAX_PAGE_BYTES: u64 = 256 * 1024;
/// A request head larger than this is not read further.
const MAX_HEAD_BYTES: usize = 8 * 1024;
/// What is read (and dropped) after the answer while waiting for the client's close.
const MAX_DRAIN_BYTES: usize = 64 * 1024;
/// How long a client may take to send its request head, in all.
const HEAD_DEADLINE: Duration = Duration::from_secs(2);
/// At most this many connections are served at once; more wait in the backlog.
const MAX_CONNECTIONS: usize = 16;
/// How often the accept loop looks for a stop request.
const POLL: Duration = Duration::from_millis(20);

/// What the page serves, decided when the installation is detected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The address Structr listens on (all addresses by default, as Structr does).
    pub addr: IpAddr,
    pub port: u16,
    /// A page file; None: [`DEFAULT_PAGE`] if it exists, else the built-in page.
    pub page: Option<PathBuf>,
    /// `Retry-After` when no downtime is expected from an earlier run.
    pub default_retry: Duration,
}

impl Spec {
    /// The page's HTML, and a warning when a configured file could not be used.
    pub fn html(&self, until: SystemTime) -> (String, Option<String>) {
        let (path, named) = match &self.page {
            Some(p) => (p.as_path(), true),
            None => (Path::new(DEFAULT_PAGE), false),
        };
        match read_page(path) {
            Ok(text) => (text, None),
            Err(e) if !named && e.kind() == std::io::ErrorKind::NotFound => {
                (builtin_page(until), None)
            }
            Err(e) => (
                builtin_page(until),
                Some(format!(
                    "maintenance page {} cannot be used ({e}); the built-in page is served instead. Fix [maintenance] page",
                    path.display()
                )),
            ),
        }
    }
}

fn read_page(path: &Path) -> std::io::Result<String> {
    let f = std::fs::File::open(path)?;
    let mut text = String::new();
    f.take(MAX_PAGE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_PAGE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} KiB",
            MAX_PAGE_BYTES / 1024
        )));
    }
    Ok(text)
}

/// The built-in page: planned maintenance, and when it is expected to end.
pub fn builtin_page(until: SystemTime) -> String {
    let end = chrono::DateTime::<chrono::Local>::from(until).format("%H:%M %Z");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Planned maintenance</title></head>\n<body>\
         <h1>Planned maintenance</h1>\n<p>This site is being backed up and will be back shortly \
         (expected by {end}).</p>\n<p>Please try again in a few minutes.</p></body></html>\n"
    )
}

/// The running page; dropping it takes the page down and releases the port.
pub struct Guard {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Guard {
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            // The accept thread closes the listener and joins its connections.
            let _ = t.join();
        }
    }
}

/// Binds `addr:port` and serves `page` with `503` until the guard is dropped.
/// `Retry-After` counts down to `until` (never below 5 s). A bind that fails
/// (the port belongs to someone else) is returned: the caller leaves it alone.
pub fn serve(addr: IpAddr, port: u16, page: String, until: SystemTime) -> std::io::Result<Guard> {
    // std sets SO_REUSEADDR on Unix listeners: Structr's bind right after we
    // close works even while connections of ours linger in TIME_WAIT.
    let listener = TcpListener::bind(SocketAddr::new(addr, port))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let page: Arc<str> = page.into();
    let thread = std::thread::Builder::new()
        .name("maintenance-page".into())
        .spawn(move || accept_loop(listener, &flag, &page, until))?;
    Ok(Guard {
        port,
        stop,
        thread: Some(thread),
    })
}

type Open = Arc<Mutex<Vec<(u64, TcpStream)>>>;

fn accept_loop(listener: TcpListener, stop: &AtomicBool, page: &Arc<str>, until: SystemTime) {
    let open: Open = Arc::default();
    let mut handlers: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id = 0u64;
    while !stop.load(Ordering::SeqCst) {
        handlers.retain(|h| !h.is_finished());
        if handlers.len() >= MAX_CONNECTIONS {
            std::thread::sleep(POLL);
            continue;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                next_id += 1;
                if let Some(h) = spawn_handler(stream, next_id, &open, page, until) {
                    handlers.push(h);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
    }
    // The port is released here, before any connection is waited for.
    drop(listener);
    for (_, s) in lock(&open).iter() {
        let _ = s.shutdown(Shutdown::Both);
    }
    for h in handlers {
        let _ = h.join();
    }
}

fn lock(open: &Open) -> std::sync::MutexGuard<'_, Vec<(u64, TcpStream)>> {
    open.lock().unwrap_or_else(|p| p.into_inner())
}

fn spawn_handler(
    stream: TcpStream,
    id: u64,
    open: &Open,
    page: &Arc<str>,
    until: SystemTime,
) -> Option<JoinHandle<()>> {
    let _ = stream.set_nonblocking(false);
    let handle = stream.try_clone().ok()?;
    lock(open).push((id, handle));
    let (open, page) = (open.clone(), page.clone());
    let spawned = std::thread::Builder::new()
        .name("maintenance-conn".into())
        .spawn(move || {
            let _ = answer(stream, &page, until);
            lock(&open).retain(|(i, _)| *i != id);
        });
    spawned.ok()
}

/// Reads the request head (bounded in size and time), answers 503, then gives the
/// client a moment to close first (it has the whole answer, `Connection: close`),
/// so the closing handshake's TIME_WAIT stays on its side, not on Structr's port.
fn answer(mut s: TcpStream, page: &str, until: SystemTime) -> std::io::Result<()> {
    let head = read_head(&mut s)?;
    let head_only = head.starts_with(b"HEAD ");
    let retry = until
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .as_secs()
        .max(5);
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {retry}\r\n\
         Content-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        page.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(page.as_bytes());
    }
    s.set_write_timeout(Some(HEAD_DEADLINE))?;
    s.write_all(&out)?;
    // Whatever the client still sends is dropped.
    s.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut sink = [0u8; 1024];
    let mut drained = 0;
    while drained < MAX_DRAIN_BYTES {
        match s.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    Ok(())
}

/// The request up to its blank line, at most [`MAX_HEAD_BYTES`], within
/// [`HEAD_DEADLINE`]; a client that sends less in time gets the answer anyway.
fn read_head(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let deadline = Instant::now() + HEAD_DEADLINE;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while head.len() < MAX_HEAD_BYTES && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) => return Err(e),
        }
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    /// One request; the answer read by its Content-Length, then closed (as curl
    /// and browsers do on `Connection: close`).
    fn get(port: u16, request: &str) -> String {
        let mut s = TcpStream::connect((LOCAL, port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&out).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let len: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap();
                let body = if text.starts_with("HEAD") { 0 } else { len };
                if request.starts_with("HEAD") || out.len() >= end + 4 + body {
                    return text;
                }
            }
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed before the whole answer: {out:?}");
            out.extend_from_slice(&buf[..n]);
        }
    }

    /// Sockets on local `port` in TIME_WAIT, from /proc/net/tcp (state 06).
    fn time_wait(port: u16) -> usize {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        table
            .lines()
            .skip(1)
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f[1].ends_with(&format!(":{port:04X}")) && f[3] == "06"
            })
            .count()
    }

    /// Binds `port` as `python3` does, with or without SO_REUSEADDR.
    fn python_bind(port: u16, reuse: bool) -> std::process::Output {
        let opt = if reuse {
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
        } else {
            ""
        };
        std::process::Command::new("python3")
            .args([
                "-c",
                &format!("import socket; s=socket.socket(); {opt}s.bind(('127.0.0.1', {port})); s.listen()"),
            ])
            .output()
            .unwrap()
    }

    #[test]
    fn answers_503_with_retry_after_and_releases_the_port_on_drop() {
        let until = SystemTime::now() + Duration::from_secs(120);
        let guard = serve(LOCAL, 0, "<p>down</p>".into(), until).unwrap();
        let port = guard.port();
        let reply = get(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(
            reply.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{reply}"
        );
        let retry: u64 = reply
            .lines()
            .find_map(|l| l.strip_prefix("Retry-After: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!((110..=120).contains(&retry), "{retry}");
        assert!(reply.contains("Content-Type: text/html; charset=utf-8\r\n"));
        assert!(reply.contains("Cache-Control: no-store\r\n"));
        assert!(reply.contains("Connection: close\r\n"));
        assert!(reply.ends_with("\r\n\r\n<p>down</p>"), "{reply}");
        let head = get(port, "HEAD /structr/health HTTP/1.1\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 503") && !head.contains("down"));
        // The clients closed first: nothing of ours waits on the port.
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(time_wait(port), 0);
        drop(guard);
        let plain = python_bind(port, false);
        assert!(
            plain.status.success(),
            "{}",
            String::from_utf8_lossy(&plain.stderr)
        );
    }

    #[test]
    fn a_client_that_holds_on_neither_delays_the_drop_nor_blocks_structrs_bind() {
        let guard = serve(LOCAL, 0, "x".into(), SystemTime::now()).unwrap();
        let port = guard.port();
        // One sends nothing, one reads nothing and never closes: we close on them.
        let silent = TcpStream::connect((LOCAL, port)).unwrap();
        let mut deaf = TcpStream::connect((LOCAL, port)).unwrap();
        deaf.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let t = Instant::now();
        drop(guard);
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        // Our side of those connections waits in TIME_WAIT once they close too;
        // Structr (Jetty, and the stand-in through std) binds with SO_REUSEADDR,
        // which that allows.
        drop((silent, deaf));
        std::thread::sleep(Duration::from_millis(100));
        assert!(time_wait(port) > 0, "the case under test did not arise");
        let reuse = python_bind(port, true);
        assert!(
            reuse.status.success(),
            "{}",
            String::from_utf8_lossy(&reuse.stderr)
        );
        TcpListener::bind((LOCAL, port)).unwrap();
    }

    #[test]
    fn a_taken_port_is_an_error_and_the_other_listener_keeps_it() {
        let other = TcpListener::bind((LOCAL, 0)).unwrap();
        let port = other.local_addr().unwrap().port();
        let err = serve(LOCAL, port, String::new(), SystemTime::now()).err();
        assert_eq!(err.map(|e| e.kind()), Some(std::io::ErrorKind::AddrInUse));
        TcpStream::connect((LOCAL, port)).unwrap();
        assert!(other.accept().is_ok());
    }

    #[test]
    fn an_oversized_request_head_is_cut_off_and_answered() {
        let guard = serve(LOCAL, 0, "x".into(), SystemTime::now()).unwrap();
        let big = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(64 * 1024));
        let mut s = TcpStream::connect((LOCAL, guard.port())).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(big.as_bytes());
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let out = String::from_utf8_lossy(&out);
        assert!(
            out.starts_with("HTTP/1.1 503") && out.contains("Retry-After: 5\r\n"),
            "{out}"
        );
    }

    #[test]
    fn a_missing_named_page_warns_and_serves_the_builtin_one() {
        let spec = Spec {
            addr: LOCAL,
            port: 0,
            page: Some(PathBuf::from("/nonexistent/maintenance.html")),
            default_retry: Duration::from_secs(60),
        };
        let (html, warning) = spec.html(SystemTime::now());
        assert!(html.contains("Planned maintenance"));
        assert!(warning.unwrap().contains("/nonexistent/maintenance.html"));
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("m.html");
        std::fs::write(&page, "<h1>Back at 3</h1>").unwrap();
        let spec = Spec {
            page: Some(page),
            ..spec
        };
        assert_eq!(
            spec.html(SystemTime::now()),
            ("<h1>Back at 3</h1>".into(), None)
        );
    }
}
