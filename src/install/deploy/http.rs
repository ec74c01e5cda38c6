//! The one HTTP exchange the export needs, written out so that every rule about
//! it holds by construction: a GET to 127.0.0.1 over plain TCP; every blocking
//! read waits at most [`TICK`] and then looks at the cancel flag, the whole
//! exchange's deadline and, once the body has begun, the idle limit; the body is
//! counted against a size limit while it streams; a redirect is never followed
//! (the credentials travel in this one request's headers only).

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::cancel::Cancel;

/// How long one blocking read or write may wait before the flags are looked at.
pub const TICK: Duration = Duration::from_millis(100);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most a response head (status line and headers) may take.
const MAX_HEAD: usize = 64 * 1024;
/// The most a chunk-size line or a trailer line may take.
const MAX_LINE: usize = 4096;

/// Bounds of one export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most the body (and, apart, the unpacked export) may hold.
    pub max_bytes: u64,
    /// The longest pause without a byte once the body has begun.
    pub idle: Duration,
    /// The whole exchange, the server's preparing included.
    pub total: Duration,
}

#[derive(Debug, PartialEq, Eq)]
pub enum FetchError {
    /// The cancel flag was set (Ctrl-C, SIGTERM): no warning, the run ends.
    Cancelled,
    /// What went wrong, for the warning; never a credential.
    Failed(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Cancelled => f.write_str("cancelled"),
            FetchError::Failed(why) => f.write_str(why),
        }
    }
}

fn failed(why: impl Into<String>) -> FetchError {
    FetchError::Failed(why.into())
}

/// A response's status line and the headers we act on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub content_length: Option<u64>,
    pub chunked: bool,
    /// `Location`, as sent (may carry credentials: redact before showing).
    pub location: Option<String>,
}

/// One connection to `127.0.0.1:port`, read through a buffer.
pub struct Connection<'a> {
    stream: TcpStream,
    url: String,
    limits: Limits,
    cancel: &'a Cancel,
    deadline: Instant,
    /// Set once the body begins: from then on a pause longer than `limits.idle` fails.
    idle_from: Option<Instant>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl<'a> Connection<'a> {
    /// Connects; `url` (no credentials) names the exchange in every message.
    pub fn open(
        port: u16,
        url: &str,
        limits: Limits,
        cancel: &'a Cancel,
    ) -> Result<Self, FetchError> {
        if cancel.is_cancelled() {
            return Err(FetchError::Cancelled);
        }
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
            .map_err(|e| failed(format!("{url} did not answer: {e}")))?;
        let set = |r: io::Result<()>| r.map_err(|e| failed(format!("{url}: {e}")));
        set(stream.set_read_timeout(Some(TICK)))?;
        set(stream.set_write_timeout(Some(TICK)))?;
        Ok(Self {
            stream,
            url: url.to_string(),
            limits,
            cancel,
            deadline: Instant::now() + limits.total,
            idle_from: None,
            buf: vec![0; 256 * 1024],
            start: 0,
            end: 0,
        })
    }

    /// The local port of this connection (ours, the client's).
    pub fn local_port(&self) -> Option<u16> {
        self.stream.local_addr().ok().map(|a| a.port())
    }

    /// Whether to go on waiting: `Err` once cancelled, past the deadline or idle too long.
    fn may_wait(&self) -> Result<(), FetchError> {
        if self.cancel.is_cancelled() {
            return Err(FetchError::Cancelled);
        }
        if Instant::now() >= self.deadline {
            return Err(failed(format!(
                "{} did not finish within {} s ([application] timeout_secs)",
                self.url,
                self.limits.total.as_secs()
            )));
        }
        if let Some(since) = self.idle_from {
            if since.elapsed() >= self.limits.idle {
                return Err(failed(format!(
                    "{} sent nothing for {} s ([application] idle_timeout_secs)",
                    self.url,
                    self.limits.idle.as_secs()
                )));
            }
        }
        Ok(())
    }

    /// Sends `bytes` whole, a tick at a time.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), FetchError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            self.may_wait()?;
            match self.stream.write(rest) {
                Ok(0) => return Err(failed(format!("{} closed the connection", self.url))),
                Ok(n) => rest = &rest[n..],
                Err(e) if waits(&e) => {}
                Err(e) => return Err(failed(format!("sending to {}: {e}", self.url))),
            }
        }
        Ok(())
    }

    /// Reads more into the buffer; false at the end of the stream.
    fn fill(&mut self) -> Result<bool, FetchError> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        loop {
            self.may_wait()?;
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.end += n;
                    if self.idle_from.is_some() {
                        self.idle_from = Some(Instant::now());
                    }
                    return Ok(true);
                }
                Err(e) if waits(&e) => {}
                Err(e) => return Err(failed(format!("reading from {}: {e}", self.url))),
            }
        }
    }

    /// Reads up to and including the next `\r\n` (at most `max` bytes); the line
    /// without it. `Err` at the end of the stream.
    fn line(&mut self, max: usize) -> Result<String, FetchError> {
        let mut line = Vec::new();
        loop {
            let window = &self.buf[self.start..self.end];
            if let Some(i) = window.iter().position(|&b| b == b'\n') {
                line.extend_from_slice(&window[..i]);
                self.start += i + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            line.extend_from_slice(window);
            self.start = self.end;
            if line.len() > max {
                return Err(failed(format!(
                    "{} sent a line longer than {max} bytes",
                    self.url
                )));
            }
            if !self.fill()? {
                return Err(failed(format!(
                    "{} closed the connection mid-answer",
                    self.url
                )));
            }
        }
    }

    /// The status line and headers.
    pub fn head(&mut self) -> Result<Head, FetchError> {
        let mut head = Head::default();
        let mut taken = 0usize;
        let status_line = self.line(MAX_HEAD)?;
        head.status = parse_status(&status_line)
            .ok_or_else(|| failed(format!("{} does not speak HTTP", self.url)))?;
        loop {
            let line = self.line(MAX_HEAD)?;
            taken += line.len() + 2;
            if taken > MAX_HEAD {
                return Err(failed(format!(
                    "{} sent headers over {MAX_HEAD} bytes",
                    self.url
                )));
            }
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => {
                    let n = value
                        .parse()
                        .map_err(|_| failed(format!("{} sent a bad Content-Length", self.url)))?;
                    head.content_length = Some(n);
                }
                "transfer-encoding" => {
                    head.chunked = value.to_ascii_lowercase().contains("chunked");
                }
                "location" => head.location = Some(value.to_string()),
                _ => {}
            }
        }
        Ok(head)
    }

    /// Streams the body into `out`, at most `limits.max_bytes`; the byte count.
    pub fn body(&mut self, head: &Head, out: &mut dyn Write) -> Result<u64, FetchError> {
        let max = self.limits.max_bytes;
        if head.content_length.is_some_and(|n| n > max) && !head.chunked {
            return Err(too_large(&self.url, max));
        }
        self.idle_from = Some(Instant::now());
        let mut written = 0u64;
        if !head.chunked {
            self.copy(head.content_length, out, &mut written)?;
            return Ok(written);
        }
        loop {
            let line = self.line(MAX_LINE)?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size, 16)
                .map_err(|_| failed(format!("{} sent a bad chunk size {size:?}", self.url)))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.line(MAX_LINE)?.is_empty() {}
                return Ok(written);
            }
            self.copy(Some(size), out, &mut written)?;
            if !self.line(MAX_LINE)?.is_empty() {
                return Err(failed(format!("{} sent a malformed chunk", self.url)));
            }
        }
    }

    /// Copies `len` bytes (None: up to the end of the stream) into `out`.
    fn copy(
        &mut self,
        len: Option<u64>,
        out: &mut dyn Write,
        written: &mut u64,
    ) -> Result<(), FetchError> {
        let mut left = len;
        loop {
            if left == Some(0) {
                return Ok(());
            }
            if self.start == self.end && !self.fill()? {
                return match left {
                    None => Ok(()),
                    Some(_) => Err(failed(format!(
                        "{} closed the connection before the whole export came",
                        self.url
                    ))),
                };
            }
            let avail = (self.end - self.start) as u64;
            let n = left.map_or(avail, |l| l.min(avail)) as usize;
            if *written + n as u64 > self.limits.max_bytes {
                return Err(too_large(&self.url, self.limits.max_bytes));
            }
            out.write_all(&self.buf[self.start..self.start + n])
                .map_err(|e| failed(format!("cannot keep the export: {e}")))?;
            self.start += n;
            *written += n as u64;
            left = left.map(|l| l - n as u64);
        }
    }
}

fn waits(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

fn too_large(url: &str, max: u64) -> FetchError {
    failed(format!(
        "the export from {url} is larger than the limit of {} ([application] max_size_mb)",
        crate::units::bytes(max)
    ))
}

/// `HTTP/1.1 200 OK` → 200.
fn parse_status(line: &str) -> Option<u16> {
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// `s` with every byte but unreserved ones percent-encoded (a query value).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    const LIMITS: Limits = Limits {
        max_bytes: 1 << 20,
        idle: Duration::from_secs(2),
        total: Duration::from_secs(10),
    };

    /// A server that sends `answer` to the first connection, then keeps it open
    /// for `hold` (to stall) before closing.
    fn server(answer: Vec<u8>, hold: Duration) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            let _ = s.write_all(&answer);
            std::thread::sleep(hold);
        });
        port
    }

    fn fetch(port: u16, limits: Limits, cancel: &Cancel) -> Result<(Head, Vec<u8>), FetchError> {
        let mut c = Connection::open(port, "test", limits, cancel)?;
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
        let head = c.head()?;
        let mut out = Vec::new();
        c.body(&head, &mut out)?;
        Ok((head, out))
    }

    #[test]
    fn reads_length_chunked_and_close_delimited_bodies() {
        let c = Cancel::new();
        let p = server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA".to_vec(),
            Duration::ZERO,
        );
        assert_eq!(fetch(p, LIMITS, &c).unwrap().1, b"hello");
        let p = server(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n".to_vec(),
            Duration::ZERO,
        );
        assert_eq!(fetch(p, LIMITS, &c).unwrap().1, b"abcde");
        let p = server(
            b"HTTP/1.0 200 OK\r\n\r\nto the end".to_vec(),
            Duration::ZERO,
        );
        assert_eq!(fetch(p, LIMITS, &c).unwrap().1, b"to the end");
        let p = server(
            b"HTTP/1.1 302 Found\r\nLocation: http://u:pw@127.0.0.2/x\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
            Duration::ZERO,
        );
        let head = fetch(p, LIMITS, &c).unwrap().0;
        assert_eq!(
            (head.status, head.location.as_deref()),
            (302, Some("http://u:pw@127.0.0.2/x"))
        );
    }

    #[test]
    fn a_body_over_the_limit_fails_while_it_streams() {
        let c = Cancel::new();
        let small = Limits {
            max_bytes: 4,
            ..LIMITS
        };
        let p = server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
            Duration::ZERO,
        );
        let err = fetch(p, small, &c).unwrap_err().to_string();
        assert!(err.contains("larger than the limit of 4 B"), "{err}");
        let p = server(
            b"HTTP/1.1 200 OK\r\n\r\nno length, too long".to_vec(),
            Duration::ZERO,
        );
        assert!(fetch(p, small, &c)
            .unwrap_err()
            .to_string()
            .contains("larger than"));
    }

    #[test]
    fn a_stalled_body_ends_on_idle_and_on_cancel_at_once() {
        let stall = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab".to_vec();
        let c = Cancel::new();
        let quick = Limits {
            idle: Duration::from_millis(500),
            ..LIMITS
        };
        let t = Instant::now();
        let err = fetch(server(stall.clone(), Duration::from_secs(5)), quick, &c).unwrap_err();
        assert!(err.to_string().contains("sent nothing for"), "{err}");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());

        let p = server(stall, Duration::from_secs(5));
        let c2 = c.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            c2.cancel();
        });
        let t = Instant::now();
        assert_eq!(fetch(p, LIMITS, &c).unwrap_err(), FetchError::Cancelled);
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("20261124T031500Z"), "20261124T031500Z");
        assert_eq!(encode("a b&c=d"), "a%20b%26c%3Dd");
    }
}
