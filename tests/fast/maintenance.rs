//! The maintenance page: while a backup has the stand-in Structr stopped, its
//! HTTP port (from structr.conf) answers 503 with Retry-After; after the backup
//! the stand-in answers there again; a port held by someone else is left alone.
//! Everything listens on 127.0.0.1 only.

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{text, Options, Sandbox};

const LOCAL_ONLY: &str = "bind = \"127.0.0.1\"";

/// `GET path` on 127.0.0.1:port; the whole answer, or None when nothing answers.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .ok()?;
    let mut out = Vec::new();
    // The page keeps the connection until the client closes; read what came.
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
        let t = String::from_utf8_lossy(&out);
        if let Some(end) = t.find("\r\n\r\n") {
            let len = header(&t, "Content-Length").and_then(|l| l.parse::<usize>().ok());
            if len.is_some_and(|l| out.len() >= end + 4 + l) {
                break;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn header<'a>(reply: &'a str, name: &str) -> Option<&'a str> {
    reply
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(str::trim)
}

/// A stand-in installation serving HTTP on the port its structr.conf names, with
/// the page on (on 127.0.0.1) and a Neo4j stop that takes 3 s: a window long
/// enough to look at.
fn slow_sandbox() -> (Sandbox, u16) {
    let (mut sb, port) = Sandbox::with_structr_http(
        Options {
            maintenance: LOCAL_ONLY.into(),
            ..Options::default()
        },
        "pw",
    );
    let stop = format!(
        "sh -c {}",
        shell_words::quote(&format!("sleep 3; {}", sb.ctl("stop", "neo4j")))
    );
    sb.opts.neo4j_commands = Some([sb.ctl("start", "neo4j"), stop, sb.ctl("status", "neo4j")]);
    sb.write_config();
    (sb, port)
}

/// Runs the tool with `args` and polls `port` while it runs: the first 503
/// seen, and the run's output.
fn run_watching(sb: &Sandbox, port: u16, args: &[&str]) -> (Option<String>, std::process::Output) {
    let child = sb
        .cli_command(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let mut seen = None;
    while seen.is_none() && t.elapsed() < Duration::from_secs(30) {
        if let Some(r) = get(port, "/structr/health/ready") {
            if r.starts_with("HTTP/1.1 503") {
                seen = Some(r);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (seen, child.wait_with_output().unwrap())
}

#[test]
fn during_a_backup_structrs_port_answers_503_with_retry_after_and_structr_answers_after() {
    let (sb, port) = slow_sandbox();
    let before = get(port, "/structr/health/ready").unwrap_or_default();
    assert!(before.starts_with("HTTP/1.1 200"), "before: {before}");

    let (seen, out) = run_watching(&sb, port, &["backup"]);
    assert!(out.status.success(), "backup: {}", text(&out));
    let page =
        seen.unwrap_or_else(|| panic!("no 503 on port {port} during the backup: {}", text(&out)));
    // No earlier window: the default 60 s, counted from the first stop.
    let retry: u64 = header(&page, "Retry-After").unwrap().parse().unwrap();
    assert!((45..=60).contains(&retry), "Retry-After {retry}\n{page}");
    assert_eq!(
        header(&page, "Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&page, "Cache-Control"), Some("no-store"));
    assert!(page.contains("Planned maintenance"), "{page}");
    let said = text(&out);
    assert!(
        said.contains(&format!("maintenance page up on 127.0.0.1:{port}")),
        "{said}"
    );
    assert!(
        said.contains(&format!("maintenance page on port {port} taken down")),
        "{said}"
    );

    // Structr started on its port (our listener was gone) and answers again.
    let t = Instant::now();
    let after = loop {
        let r = get(port, "/structr/health/ready").unwrap_or_default();
        if r.starts_with("HTTP/1.1 200") || t.elapsed() > Duration::from_secs(20) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(after.starts_with("HTTP/1.1 200"), "after: {after:?}");
    assert!(sb.running("structr"));

    // The next window expects what this one took (about 3 s), not 60 s.
    let (seen, out) = run_watching(&sb, port, &["backup"]);
    assert!(out.status.success(), "second backup: {}", text(&out));
    let page = seen.expect("a 503 during the second backup");
    let retry: u64 = header(&page, "Retry-After").unwrap().parse().unwrap();
    assert!(
        retry <= 15,
        "Retry-After {retry} after a window of a few seconds"
    );

    // A restore's window has the page too, and Structr its port back after it.
    let id = sb.newest();
    let (seen, out) = run_watching(&sb, port, &["--yes", "restore", &id]);
    assert!(out.status.success(), "restore: {}", text(&out));
    assert!(seen.is_some(), "no 503 during the restore: {}", text(&out));
    assert!(common::servers::wait_for_port(
        port,
        Duration::from_secs(20)
    ));
    assert!(sb.running("structr"));
}

#[test]
fn a_port_held_by_another_listener_is_left_alone_with_a_warning() {
    let other = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = other.local_addr().unwrap().port();
    let sb = Sandbox::new(Options {
        maintenance: format!("{LOCAL_ONLY}\nport = {port}"),
        ..Options::default()
    });
    sb.start();
    let (_, said) = sb.backup_ok(&[]);
    assert!(
        said.contains(&format!(
            "no maintenance page: port {port} on 127.0.0.1 cannot be used"
        )),
        "{said}"
    );
    assert!(!said.contains("maintenance page up"), "{said}");
    // The other listener still owns the port and gets the connection.
    let _c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    other.set_nonblocking(false).unwrap();
    assert!(other.accept().is_ok());
    assert!(sb.running("structr") && sb.running("neo4j"));
}
