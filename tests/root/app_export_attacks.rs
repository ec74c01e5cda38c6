//! The application export attacked (issue 18, points 2, 3, 6, 7, 8), as root with
//! a hostile local user `nobody` and hostile HTTP servers on 127.0.0.1: the
//! superuser password goes to no listener of another user and follows no
//! redirect; `export-app --to` leaves a neighbouring zip alone and never writes
//! through a link a user plants while it downloads (nor does `restore --only
//! --to` of the restic kind); Ctrl-C or SIGTERM during a stalled export ends the
//! run at once without touching the services; and an endless body or a zip bomb
//! is cut at the configured limit while the data backup goes on.

use crate::common;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::servers::{free_port, wait_for_port};
use common::{text, Kind, Options, Sandbox};

const PASSWORD: &str = "app-secret-4711";

fn assert_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test plays a hostile user `nobody`: run the suite as root (scripts/test)"
    );
}

/// A sandbox whose structr.conf names `port` and the superuser password; the
/// stand-in Structr serves its export there when `http`, else some test server
/// does. `extra` is appended to the config (e.g. an `[application]` section).
fn sandbox(kind: Kind, port: u16, http: bool, extra: &str) -> Sandbox {
    let mut sb = Sandbox::new(Options {
        kind,
        app_export: true,
        ..Options::default()
    });
    fs::create_dir_all(&sb.structr_dir).unwrap();
    fs::write(
        sb.structr_dir.join("structr.conf"),
        format!("superuser.password = {PASSWORD}\napplication.http.port = {port}\n"),
    )
    .unwrap();
    if http {
        sb.opts.structr_start = Some(format!(
            "{} --http 127.0.0.1:{port}",
            sb.ctl("start", "structr")
        ));
    }
    sb.write_config();
    if !extra.is_empty() {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&sb.config)
            .unwrap();
        writeln!(f, "\n{extra}").unwrap();
    }
    if matches!(sb.opts.kind, Kind::Restic { .. }) {
        sb.init();
    }
    let structr_start = sb
        .opts
        .structr_start
        .clone()
        .unwrap_or_else(|| sb.ctl("start", "structr"));
    for line in [sb.ctl("start", "neo4j"), structr_start] {
        let argv = shell_words::split(&line).unwrap();
        let out = Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
        assert!(out.status.success(), "{line}: {}", text(&out));
    }
    common::wait_until(Duration::from_secs(20), "structr writes files", || {
        sb.file_count() >= 5
    });
    if http {
        assert!(
            wait_for_port(port, Duration::from_secs(20)),
            "stand-in HTTP"
        );
    }
    sb
}

/// What a test server was asked, one request head per connection.
type Heard = Arc<Mutex<Vec<String>>>;

/// An HTTP server of ours (root) on 127.0.0.1: every connection's request head
/// is recorded, then `answer` writes whatever it likes.
fn serve(
    listener: TcpListener,
    answer: impl Fn(&mut TcpStream, &str) + Send + Sync + 'static,
) -> Heard {
    let heard: Heard = Arc::default();
    let answer = Arc::new(answer);
    let h = heard.clone();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let (h, answer) = (h.clone(), answer.clone());
            std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let req = String::from_utf8_lossy(&req).into_owned();
                h.lock().unwrap().push(req.clone());
                answer(&mut s, &req);
            });
        }
    });
    heard
}

fn bind() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// A zip shaped like a deployment export, with `extra` files.
fn export_zip(extra: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("schema/schema.json", opts).unwrap();
    w.write_all(b"{\"types\": []}\n").unwrap();
    w.start_file("pages/index/index.html", opts).unwrap();
    w.write_all(b"<html/>\n").unwrap();
    for (name, body) in extra {
        w.start_file(*name, opts).unwrap();
        w.write_all(body).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn ok_with(s: &mut TcpStream, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
}

/// A listener of the user `nobody` (python3, run through setpriv) on `port`: it
/// records every byte it is sent.
struct Hostile {
    child: Child,
    heard: Arc<Mutex<String>>,
}

impl Hostile {
    fn listen(port: u16) -> Hostile {
        assert_root();
        let script = r#"
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.settimeout(2)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d:
                break
            data += d
    except Exception:
        pass
    print(repr(data), flush=True)
    try:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nPK")
    except Exception:
        pass
    c.close()
"#;
        let mut child = Command::new("setpriv")
            .args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "/usr/bin/python3",
                "-c",
                script,
                &port.to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let heard = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        assert_eq!(first, "listening");
        let h = heard.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                h.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Hostile { child, heard }
    }

    fn heard(&self) -> String {
        self.heard.lock().unwrap().clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `sh -c script` as `nobody` (a racing local user), in the background.
fn as_nobody(script: &str) -> Child {
    assert_root();
    Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "sh",
            "-c",
            script,
        ])
        .spawn()
        .unwrap()
}

/// A folder every user may write in, sticky like /tmp, inside a folder every user
/// may enter; and a root-only folder beside it.
fn shared_and_secret() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let base = tempfile::Builder::new()
        .prefix("shared-")
        .tempdir()
        .unwrap();
    fs::set_permissions(base.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let shared = base.path().join("shared");
    let secret = base.path().join("secret");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    fs::create_dir(&secret).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o700)).unwrap();
    (base, shared, secret)
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// What the export left in the state folder for this installation (its work
/// folder, fresh folders of a failed unpack).
fn export_leftovers(sb: &Sandbox) -> Vec<String> {
    let journal = sb.journal_path();
    let key = journal.file_stem().unwrap().to_string_lossy().into_owned();
    names_in(journal.parent().unwrap())
        .into_iter()
        .filter(|n| n.contains(&format!("app-export-{key}")) || n.starts_with("app-download-"))
        .collect()
}

fn one_generation_without_app(sb: &Sandbox) {
    let ids = sb.generations();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let dir = sb.repo.join(&ids[0]);
    assert!(dir.join("neo4j-data.tar.zst").is_file() && dir.join("structr.tar.zst").is_file());
    assert!(!dir.join("app.tar.zst").exists());
}

#[test]
fn the_password_never_goes_to_a_listener_while_structr_is_stopped() {
    let port = free_port();
    let sb = sandbox(Kind::Archive, port, false, "");
    let stop = shell_words::split(&sb.ctl("stop", "structr")).unwrap();
    assert!(Command::new(&stop[0])
        .args(&stop[1..])
        .status()
        .unwrap()
        .success());
    let hostile = Hostile::listen(port);
    let log = sb.backup_ok(&[]).1;
    let heard = hostile.heard();
    assert!(!heard.contains(PASSWORD), "the listener heard: {heard}");
    assert!(
        log.contains("application export skipped: Structr is not running"),
        "{log}"
    );
    one_generation_without_app(&sb);
    assert!(!log.contains(PASSWORD), "{log}");
}

#[test]
fn the_password_never_goes_to_a_port_held_by_another_user() {
    let port = free_port();
    let sb = sandbox(Kind::Archive, port, false, "");
    let hostile = Hostile::listen(port);
    let log = sb.backup_ok(&[]).1;
    let heard = hostile.heard();
    assert!(!heard.contains(PASSWORD), "the listener heard: {heard}");
    assert!(
        log.contains("application export skipped")
            && log.contains("held by a socket of nobody (uid 65534)"),
        "{log}"
    );
    one_generation_without_app(&sb);
    assert!(sb.running("structr") && sb.running("neo4j"));
}

#[test]
fn a_redirect_is_never_followed_with_the_password() {
    let (other, other_port) = bind();
    let elsewhere = serve(other, |s, _| ok_with(s, &export_zip(&[])));
    let (l, port) = bind();
    let first = serve(l, move |s, _| {
        let _ = write!(
            s,
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{other_port}/structr/deploy?name=x&mode=app\r\nContent-Length: 0\r\n\r\n"
        );
    });
    let sb = sandbox(Kind::Archive, port, false, "");
    let log = sb.backup_ok(&[]).1;
    let followed = elsewhere.lock().unwrap().clone();
    assert!(
        followed.is_empty(),
        "the redirect target heard: {followed:?}"
    );
    assert!(
        log.contains("HTTP 302") && log.contains("not followed"),
        "{log}"
    );
    assert!(log.contains(&format!("127.0.0.1:{other_port}")), "{log}");
    // The log names the address that was asked, the only one.
    assert!(
        log.contains(&format!("http://127.0.0.1:{port}/structr/deploy")),
        "{log}"
    );
    one_generation_without_app(&sb);
    assert_eq!(first.lock().unwrap().len(), 1);
}

#[test]
fn export_app_leaves_a_neighbouring_zip_alone() {
    let port = free_port();
    let sb = sandbox(Kind::Archive, port, true, "");
    let work = tempfile::tempdir().unwrap();
    let zt = work.path().join("zt");
    fs::create_dir(&zt).unwrap();
    fs::write(zt.join("app.zip"), "precious\n").unwrap();
    fs::write(zt.join("release.zip"), "precious too\n").unwrap();
    for to in ["app", "release.v2"] {
        let out = sb.cli(&["export-app", "--to", zt.join(to).to_str().unwrap()]);
        assert!(out.status.success(), "export-app --to {to}: {}", text(&out));
        assert!(zt.join(to).join("schema/schema.json").is_file());
    }
    assert_eq!(
        fs::read_to_string(zt.join("app.zip")).unwrap(),
        "precious\n"
    );
    assert_eq!(
        fs::read_to_string(zt.join("release.zip")).unwrap(),
        "precious too\n"
    );
    assert_eq!(
        names_in(&zt),
        ["app", "app.zip", "release.v2", "release.zip"],
        "nothing else left"
    );
}

#[test]
fn export_app_into_a_shared_folder_never_writes_through_a_users_link() {
    let (base, shared, secret) = shared_and_secret();
    let go = shared.join("go");
    let go2 = go.clone();
    let (l, port) = bind();
    // Structr takes its time: the racing user acts while the export downloads.
    serve(l, move |s, _| {
        fs::write(&go2, "").unwrap();
        std::thread::sleep(Duration::from_millis(700));
        ok_with(s, &export_zip(&[]));
    });
    let sb = sandbox(Kind::Archive, port, false, "");
    let dir = shared.join("app");
    let racer = as_nobody(&format!(
        "while [ ! -e {go} ]; do sleep 0.01; done; i=0; while [ $i -lt 3000 ]; do mkdir {dir} 2>/dev/null; ln -s {secret} {dir}/schema 2>/dev/null; i=$((i+1)); done",
        go = go.display(),
        dir = dir.display(),
        secret = secret.display()
    ));
    let out = sb.cli(&["export-app", "--to", dir.to_str().unwrap()]);
    let mut racer = racer;
    let _ = racer.kill();
    let _ = racer.wait();
    assert!(
        names_in(&secret).is_empty(),
        "root wrote into the root-only folder: {:?}\n{}",
        names_in(&secret),
        text(&out)
    );
    // The user's folder is theirs: refused, and said so.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("belongs to uid 65534"),
        "{}",
        text(&out)
    );
    let left: Vec<String> = names_in(&shared)
        .into_iter()
        .filter(|n| n.contains("incoming"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    drop(base);
}

#[test]
fn restic_restore_only_into_a_shared_folder_never_goes_through_a_planted_link() {
    let port = free_port();
    let sb = sandbox(Kind::restic(), port, true, "");
    let log = sb.backup_ok(&[]).1;
    assert!(!log.contains("export skipped"), "{log}");
    let id = sb.newest();
    let (base, shared, secret) = shared_and_secret();
    // The sibling restic unpacked into used to be `.app.restic-ID`: a user makes
    // it a link to a root-only folder, again and again.
    let link = shared.join(format!(".app.restic-{id}"));
    let mut racer = as_nobody(&format!(
        "while true; do ln -s {} {} 2>/dev/null; done",
        secret.display(),
        link.display()
    ));
    std::thread::sleep(Duration::from_millis(200));
    let to = shared.join("app");
    let out = sb.cli(&[
        "restore",
        &id,
        "--only",
        "app",
        "--to",
        to.to_str().unwrap(),
    ]);
    let _ = racer.kill();
    let _ = racer.wait();
    assert!(
        names_in(&secret).is_empty(),
        "restic wrote into the root-only folder: {:?}",
        names_in(&secret)
    );
    assert!(out.status.success(), "restore --only app: {}", text(&out));
    assert!(to.join("schema/schema.json").is_file());
    drop(base);
}

/// Runs `args` in the background, sends `signal` once `heard` has a request and
/// a moment passed, and returns its output and how long it took after the signal.
fn signal_during_export(
    sb: &Sandbox,
    args: &[&str],
    heard: &Heard,
    signal: nix::sys::signal::Signal,
) -> (std::process::Output, Duration) {
    let child = sb
        .cli_command(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    common::wait_until(Duration::from_secs(30), "the export is asked for", || {
        !heard.lock().unwrap().is_empty()
    });
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(pid, signal).unwrap();
    let sent = Instant::now();
    let out = wait_bounded(child, Duration::from_secs(20));
    (out, sent.elapsed())
}

/// Waits for `child` at most `limit`, then kills it (and fails the test).
fn wait_bounded(mut child: Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("still running after {limit:?}; killed: {}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Headers and a few bytes, then nothing (the connection held open).
fn stall(s: &mut TcpStream, _: &str) {
    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nPK\x03\x04");
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn sigterm_during_a_stalled_export_ends_the_backup_without_touching_the_services() {
    let (l, port) = bind();
    let heard = serve(l, stall);
    let sb = sandbox(Kind::Archive, port, false, "");
    let pids = (sb.pid("structr"), sb.pid("neo4j"));
    let (out, took) =
        signal_during_export(&sb, &["backup"], &heard, nix::sys::signal::Signal::SIGTERM);
    let log = text(&out);
    assert_eq!(out.status.code(), Some(5), "{log}");
    assert!(took < Duration::from_secs(5), "{took:?}: {log}");
    assert!(!log.contains("export skipped"), "{log}");
    assert!(log.contains("nothing was stopped"), "{log}");
    assert_eq!((sb.pid("structr"), sb.pid("neo4j")), pids, "{log}");
    assert!(sb.running("structr") && sb.running("neo4j"));
    assert!(sb.generations().is_empty());
    assert!(
        export_leftovers(&sb).is_empty(),
        "{:?}",
        export_leftovers(&sb)
    );
}

#[test]
fn ctrl_c_during_a_stalled_export_app_ends_it_with_nothing_written() {
    let (l, port) = bind();
    let heard = serve(l, stall);
    let sb = sandbox(Kind::Archive, port, false, "");
    let work = tempfile::tempdir().unwrap();
    let to = work.path().join("app");
    let (out, took) = signal_during_export(
        &sb,
        &["export-app", "--to", to.to_str().unwrap()],
        &heard,
        nix::sys::signal::Signal::SIGINT,
    );
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(
        names_in(work.path()).is_empty(),
        "{:?}",
        names_in(work.path())
    );
}

#[test]
fn a_stalled_export_ends_after_the_idle_timeout_and_the_backup_goes_on() {
    let (l, port) = bind();
    serve(l, stall);
    let sb = sandbox(
        Kind::Archive,
        port,
        false,
        "[application]\nidle_timeout_secs = 2\n",
    );
    let t = Instant::now();
    let log = sb.backup_ok(&[]).1;
    assert!(
        log.contains("sent nothing for 2 s ([application] idle_timeout_secs)"),
        "{log}"
    );
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    one_generation_without_app(&sb);
}

#[test]
fn an_endless_body_is_cut_at_the_limit_and_the_backup_goes_on() {
    let (l, port) = bind();
    let sent = Arc::new(Mutex::new(0u64));
    let counted = sent.clone();
    serve(l, move |s, _| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\n\r\n");
        let chunk = vec![b'x'; 64 * 1024];
        // Paced, so that a client without a limit cannot fill the disk in the
        // time this test waits for it.
        while s.write_all(&chunk).is_ok() {
            *counted.lock().unwrap() += chunk.len() as u64;
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let sb = sandbox(
        Kind::Archive,
        port,
        false,
        "[application]\nmax_size_mb = 1\n",
    );
    let child = sb
        .cli_command(&["backup"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_bounded(child, Duration::from_secs(60));
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("application export skipped")
            && log.contains("larger than the limit of 1.0 MiB ([application] max_size_mb)"),
        "{log}"
    );
    one_generation_without_app(&sb);
    assert!(
        export_leftovers(&sb).is_empty(),
        "{:?}",
        export_leftovers(&sb)
    );
    assert!(
        *sent.lock().unwrap() < 64 << 20,
        "the download stopped early"
    );
}

#[test]
fn a_zip_bomb_is_cut_at_the_limit_and_the_backup_goes_on() {
    let bomb = export_zip(&[("files/zeros.bin", vec![0u8; 8 << 20])]);
    assert!(bomb.len() < 100 * 1024, "{} bytes", bomb.len());
    let (l, port) = bind();
    serve(l, move |s, _| ok_with(s, &bomb));
    let sb = sandbox(
        Kind::Archive,
        port,
        false,
        "[application]\nmax_size_mb = 1\n",
    );
    let log = sb.backup_ok(&[]).1;
    assert!(
        log.contains("application export skipped")
            && log.contains("unpacks to more than the limit of 1.0 MiB"),
        "{log}"
    );
    one_generation_without_app(&sb);
    assert!(
        export_leftovers(&sb).is_empty(),
        "{:?}",
        export_leftovers(&sb)
    );
}

#[test]
fn a_limit_beyond_the_free_space_skips_the_export_before_asking() {
    let (l, port) = bind();
    let heard = serve(l, |s, _| ok_with(s, &export_zip(&[])));
    // 1 TiB each for the download and the unpacked export.
    let st = nix::sys::statvfs::statvfs("/var/lib").unwrap();
    let free = st.blocks_available() * st.fragment_size();
    assert!(
        free < 2 << 40,
        "this test needs less than 2 TiB free where the state folder lives"
    );
    let sb = sandbox(
        Kind::Archive,
        port,
        false,
        "[application]\nmax_size_mb = 1048576\n",
    );
    let log = sb.backup_ok(&[]).1;
    assert!(
        log.contains("application export skipped")
            && log.contains("free space or lower max_size_mb"),
        "{log}"
    );
    assert!(heard.lock().unwrap().is_empty(), "nothing was asked");
    one_generation_without_app(&sb);
}
