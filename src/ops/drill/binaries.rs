//! A drill with the installation's own Neo4j programs (a Debian package, a
//! tarball): `neo4j console` on the copy with a configuration of the drill's own
//! (see `conf`), up when it logs `Started.` or serves Bolt; node and relationship
//! counts through `cypher-shell` when there is one; stopped with SIGTERM (its
//! whole process group), then `neo4j-admin`'s consistency check on the copy.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::conf::{database_name, free_port, scratch_conf, Places};
use super::copy::{read_bounded, Copy, MAX_CONF, QUICK};
use crate::cancel::Cancel;
use crate::install::conf::parse_properties;
use crate::install::neo4j_bin::Neo4jBin;
use crate::ops::event::{Event, Sink};
use crate::ops::OpError;
use crate::process::{Cmd, Group, Output, RunError};

/// neo4j.service's TimeoutSec: how long a clean shutdown may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

/// Starts, counts, stops and checks; says what that proved, or why it failed.
pub fn drill(c: &Copy, timeout: Duration, cancel: &Cancel, on: Sink) -> Result<String, OpError> {
    let version = version(c.bin, cancel);
    let four = version.as_deref().is_some_and(|v| v.starts_with("4."));
    let named = match &version {
        Some(v) => format!("Neo4j {v}"),
        None => format!("Neo4j ({})", c.bin.neo4j.display()),
    };
    let work = c.scratch.join("neo4j-drill");
    let conf_dir = work.join("conf");
    for d in [&work, &conf_dir] {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(d)
            .map_err(|e| OpError::failed(format!("cannot make {}: {e}", d.display())))?;
    }
    let production_conf = c.bin.conf_dir.join("neo4j.conf");
    let production = read_bounded(&production_conf)?;
    let ports = (0..6)
        .map(|_| free_port())
        .collect::<std::io::Result<Vec<u16>>>()
        .map_err(|e| {
            OpError::failed(format!(
                "no free port on 127.0.0.1 for the drill's Neo4j: {e}"
            ))
        })?;
    let places = Places {
        data: c.data,
        work: &work,
        bolt: ports[0],
        others: [ports[1], ports[2], ports[3], ports[4], ports[5]],
    };
    let text = scratch_conf(&production, four, &places);
    std::fs::write(conf_dir.join("neo4j.conf"), text).map_err(|e| {
        OpError::failed(format!(
            "cannot write the drill's neo4j.conf in {}: {e}",
            conf_dir.display()
        ))
    })?;
    copy_log_configs(&c.bin.conf_dir, &conf_dir, on);
    // Read while only root can write in the scratch folder: afterwards the
    // Neo4j user could put a link where structr.conf was.
    let creds = super::counts::credentials(c);
    // Handed over only once root has written everything it writes there, so
    // Neo4j's user cannot race a link under one of root's writes.
    let as_user = match c.user {
        Some((uid, gid)) => {
            hand_over(&[c.scratch, &work, &conf_dir, c.data], uid, gid)?;
            format!(" as {}", user_name(uid))
        }
        None => String::new(),
    };
    let db = database_name(&parse_properties(&production));
    on(Event::Info(format!(
        "starting {named} on the copy{as_user}: `{} console` with NEO4J_CONF={}, Bolt on 127.0.0.1:{} only",
        c.bin.neo4j.display(),
        conf_dir.display(),
        ports[0]
    )));

    let group = Group::default();
    let (tx, rx) = mpsc::channel::<Said>();
    let cmd = as_service(Cmd::new(&c.bin.neo4j), c)
        .arg("console")
        .env("NEO4J_HOME", &c.bin.home)
        .env("NEO4J_CONF", &conf_dir)
        .timeout(timeout + STOP_TIMEOUT)
        .cancel(cancel)
        .interrupt_with(Signal::SIGTERM)
        .die_with_us(Signal::SIGTERM)
        .group(&group);
    let up_tx = tx.clone();
    let runner = std::thread::spawn(move || {
        let result = cmd.run(&mut |line| {
            if line.trim_end().ends_with("Started.") {
                let _ = up_tx.send(Said::Up);
            }
        });
        let _ = tx.send(Said::Exited(result));
    });
    let t = Instant::now();
    let bolt = format!("127.0.0.1:{}", ports[0]);
    let up = wait_up(&rx, &bolt, timeout);
    let outcome = match up {
        Ok(()) => {
            let secs = t.elapsed().as_secs_f64();
            on(Event::Info(format!(
                "{named} is up on the copy after {secs:.1} s"
            )));
            let counts = super::counts::counts(c, creds.as_ref(), &bolt, &db, cancel);
            Ok((secs, counts))
        }
        Err(e) => Err(e),
    };
    // Stopped as neo4j.service stops it, whatever happened: a hard kill would
    // leave a copy that needs recovery, which the check would then refuse.
    group.signal(Signal::SIGTERM);
    let stopped = wait_exit(&rx, &group);
    let _ = runner.join();
    let (secs, counts) = outcome?;
    stopped?;
    let mut proved = format!("{named} started on the copy{as_user} in {secs:.1} s");
    match counts {
        Ok((n, r)) => proved.push_str(&format!("; {n} nodes, {r} relationships")),
        Err(why) => proved.push_str(&format!("; counts not read ({why})")),
    }
    match c.bin.admin() {
        Some(admin) => {
            on(Event::Info(format!(
                "checking the copy's consistency with {}",
                admin.display()
            )));
            check(c, &admin, &conf_dir, &work, &db, four, timeout, cancel)?;
            proved.push_str(&format!("; consistency check of {db}: consistent"));
        }
        None => proved.push_str("; consistency not checked (no neo4j-admin beside neo4j)"),
    }
    Ok(proved)
}

/// `cmd` run as production's Neo4j user when the drill has one.
fn as_service(cmd: Cmd, c: &Copy) -> Cmd {
    match c.user {
        Some((uid, gid)) => cmd.as_user(uid, gid),
        None => cmd,
    }
}

/// The drill's folders handed to production's Neo4j user: the scratch folder
/// (still closed to everybody else), the drill's own configuration and logs,
/// and the top of the data folder's copy.
fn hand_over(dirs: &[&Path], uid: u32, gid: u32) -> Result<(), OpError> {
    for d in dirs {
        std::os::unix::fs::chown(d, Some(uid), Some(gid)).map_err(|e| {
            OpError::failed(format!(
                "cannot hand {} to the Neo4j user (uid {uid}): {e}",
                d.display()
            ))
        })?;
    }
    Ok(())
}

/// `neo4j (uid 7474)`, or `uid 7474` for a user without a name here.
fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => format!("{} (uid {uid})", u.name),
        _ => format!("uid {uid}"),
    }
}

enum Said {
    Up,
    Exited(Result<Output, RunError>),
}

/// Until Neo4j logs `Started.` or accepts on Bolt; `Err` with its last words
/// when it exits first, or when `timeout` passed.
fn wait_up(rx: &mpsc::Receiver<Said>, bolt: &str, timeout: Duration) -> Result<(), OpError> {
    let started = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(Said::Up) => return Ok(()),
            Ok(Said::Exited(r)) => {
                return Err(OpError::failed(format!(
                    "Neo4j stopped on the copy before it was up: {}",
                    ended(&r)
                )))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(OpError::failed(
                    "the drill lost its Neo4j runner".to_string(),
                ))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let addr: Option<std::net::SocketAddr> = bolt.parse().ok();
        if addr.is_some_and(|a| {
            std::net::TcpStream::connect_timeout(&a, Duration::from_millis(200)).is_ok()
        }) {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(OpError::failed(format!(
                "Neo4j was not up on the copy within {} s ([drill] timeout_secs)",
                timeout.as_secs()
            )));
        }
    }
}

/// Waits for the stopped Neo4j; SIGKILL after neo4j.service's stop timeout.
fn wait_exit(rx: &mpsc::Receiver<Said>, group: &Group) -> Result<(), OpError> {
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.max(Duration::from_millis(10))) {
            Ok(Said::Up) => {}
            Ok(Said::Exited(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                group.signal(Signal::SIGKILL);
                let _ = rx.recv_timeout(Duration::from_secs(10));
                return Err(OpError::failed(format!(
                    "Neo4j did not stop on the copy within {} s of SIGTERM and was killed",
                    STOP_TIMEOUT.as_secs()
                )));
            }
        }
    }
}

fn ended(r: &Result<Output, RunError>) -> String {
    match r {
        Ok(out) => format!(
            "exit {}: {}",
            out.status.map_or("by signal".into(), |c| c.to_string()),
            last_words(out)
        ),
        Err(e) => e.to_string(),
    }
}

/// What a Neo4j tool said, for a message: the consistency checker's summary
/// ("Inconsistencies found" and its counts) when it printed one, else its last
/// lines (stdout and stderr), without progress dots, stack frames or stray
/// indentation.
pub(super) fn last_words(out: &Output) -> String {
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .chain(out.stderr.lines())
        .map(|l| l.trim_matches(|c: char| !c.is_ascii_graphic()))
        // Progress dots and Java stack frames say nothing; the `Caused by:` lines do.
        .filter(|l| l.len() > 1 && !l.starts_with("....") && !l.starts_with("at "))
        .filter(|l| !(l.starts_with("... ") && l.ends_with(" more")))
        .collect();
    if let Some(at) = lines
        .iter()
        .position(|l| l.contains("Inconsistencies found"))
    {
        let summary: Vec<&str> = lines[at + 1..]
            .iter()
            .filter(|l| l.starts_with("Number of") && !l.ends_with(": 0"))
            .take(8)
            .copied()
            .collect();
        return format!("inconsistencies found: {}", summary.join("; "));
    }
    lines[lines.len().saturating_sub(8)..].join(" | ")
}

/// `neo4j-admin --version`, else `neo4j --version`: `5.26.30`.
fn version(bin: &Neo4jBin, cancel: &Cancel) -> Option<String> {
    let programs: Vec<PathBuf> = bin.admin().into_iter().chain([bin.neo4j.clone()]).collect();
    programs.iter().find_map(|p| {
        let out = Cmd::new(p)
            .arg("--version")
            .env("NEO4J_HOME", &bin.home)
            .env("NEO4J_CONF", &bin.conf_dir)
            .timeout(QUICK)
            .cancel(cancel)
            .output()
            .ok()?;
        out.stdout
            .lines()
            .filter_map(|l| l.split_whitespace().last())
            .find(|w| w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('.'))
            .map(String::from)
    })
}

/// Neo4j's consistency checker on the stopped copy; `Err` with what it found.
#[allow(clippy::too_many_arguments)]
fn check(
    c: &Copy,
    admin: &Path,
    conf_dir: &Path,
    work: &Path,
    db: &str,
    four: bool,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<(), OpError> {
    let reports = work.join("check");
    let args = check_args(db, four, &reports.to_string_lossy());
    let out = as_service(Cmd::new(admin), c)
        .args(&args)
        .env("NEO4J_HOME", &c.bin.home)
        .env("NEO4J_CONF", conf_dir)
        .timeout(timeout)
        .cancel(cancel)
        .output()
        .map_err(|e| OpError::failed(e.to_string()))?;
    match out.success() {
        true => Ok(()),
        false => Err(OpError::failed(format!(
            "Neo4j's consistency check of {db} on the copy failed (`{} {} {db}`, exit {}): {}",
            admin.display(),
            // Its report is in the scratch folder, removed with the copy: not named.
            if four {
                "check-consistency"
            } else {
                "database check"
            },
            out.status.map_or("by signal".into(), |c| c.to_string()),
            last_words(&out)
        ))),
    }
}

/// neo4j-admin's consistency check of `db`, its report written into `reports`:
/// 4.x's `check-consistency`, 5.x's and later `database check`.
pub(super) fn check_args(db: &str, four: bool, reports: &str) -> Vec<String> {
    match four {
        true => vec![
            "check-consistency".into(),
            format!("--database={db}"),
            format!("--report-dir={reports}"),
        ],
        // At most a quarter of the free memory: production may run beside it.
        false => vec![
            "database".into(),
            "check".into(),
            format!("--report-path={reports}"),
            "--max-off-heap-memory=25%".into(),
            db.into(),
        ],
    }
}

/// The logging configurations beside neo4j.conf (server-logs.xml, user-logs.xml):
/// they name folders through neo4j.conf's settings, so they log into the copy's
/// folder. neo4j-admin.conf is not taken: it would name production's folders again.
fn copy_log_configs(from: &Path, to: &Path, on: Sink) {
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let is_xml = name.to_string_lossy().ends_with(".xml");
        let small = e
            .metadata()
            .is_ok_and(|m| m.is_file() && m.len() <= MAX_CONF);
        if is_xml && small {
            if let Err(err) = std::fs::copy(e.path(), to.join(&name)) {
                on(Event::Warning(format!(
                    "cannot copy {} for the drill's Neo4j: {err}",
                    e.path().display()
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(stdout: &str) -> Output {
        Output {
            status: Some(1),
            stdout: stdout.into(),
            ..Output::default()
        }
    }

    #[test]
    fn the_reason_is_neo4js_summary_or_its_cause_not_its_stack() {
        let check = said(
            "....................  10%\nInconsistencies found: ConsistencySummaryStatistics{\n\tNumber of errors: 2006\n\tNumber of warnings: 0\n\tNumber of inconsistent RELATIONSHIP records: 1000\n}\n",
        );
        assert_eq!(
            last_words(&check),
            "inconsistencies found: Number of errors: 2006; Number of inconsistent RELATIONSHIP records: 1000"
        );
        let start = said(
            "Starting...\norg.neo4j.LifecycleException: Component failed to start\n\tat org.neo4j.A.start(A.java:1)\n\t... 6 more\nCaused by: PortBindException: cannot bind 127.0.0.1:7687\n\tat org.neo4j.B.start(B.java:2)\n",
        );
        assert_eq!(
            last_words(&start),
            "Starting... | org.neo4j.LifecycleException: Component failed to start | Caused by: PortBindException: cannot bind 127.0.0.1:7687"
        );
    }
}
