//! A drill on a Compose installation: its own Neo4j image started on the copy,
//! in containers without network that are removed afterwards. The image is
//! used as Neo4j's official image is: its default command serves `/data` and
//! logs `Started.`; other commands run as given (`neo4j-admin …`, `cypher-shell
//! …`), and `NEO4J_AUTH=none` turns authentication off.

use std::path::Path;
use std::time::{Duration, Instant};

use super::binaries::{check_args, last_words};
use super::copy::QUICK;
use crate::cancel::Cancel;
use crate::ops::event::{Event, Sink};
use crate::ops::OpError;
use crate::process::{Cmd, Output};

/// How long `docker stop` lets Neo4j shut down cleanly (a checkpoint) before
/// it kills it: as neo4j.service's TimeoutSec.
const STOP_SECS: u64 = 120;
/// The exit status of a shell whose command is not there.
const NOT_FOUND: i32 = 127;

/// Starts `image` on the copy in `data`, counts its graph through the image's
/// `cypher-shell`, stops it cleanly, then runs the image's `neo4j-admin`
/// consistency check on the stopped copy; says what that proved.
pub fn drill(
    image: &str,
    data: &Path,
    timeout: Duration,
    cancel: &Cancel,
    on: Sink,
) -> Result<String, OpError> {
    remove_leftovers(cancel, on);
    let name = format!("{PREFIX}{}", std::process::id());
    let mount = format!("{}:/data", data.display());
    let db = database(data);
    let _ = docker(&["rm", "-f", "-v", &name], QUICK, cancel);
    on(Event::Info(format!(
        "starting {image} on the copy (container {name}, no network)"
    )));
    let out = docker(
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "none",
            "-e",
            "NEO4J_AUTH=none",
            "-v",
            &mount,
            image,
        ],
        QUICK,
        cancel,
    )?;
    if !out.success() {
        return Err(OpError::failed(format!(
            "cannot start {image} on the copy: {}",
            out.tail()
        )));
    }
    let up = wait_up(&name, image, timeout, cancel);
    let counts = up.as_ref().ok().map(|_| {
        super::counts::both(|query| {
            let argv = [
                "exec",
                &name,
                "cypher-shell",
                "-a",
                "bolt://127.0.0.1:7687",
                "-d",
                &db,
                "--format",
                "plain",
                query,
            ];
            docker(&argv, QUICK, cancel).map_err(|e| e.to_string())
        })
    });
    // Stopped as Compose stops it, whatever happened: a killed Neo4j leaves a
    // copy that needs recovery, which the check would then refuse.
    let stop_secs = STOP_SECS.to_string();
    let stopped = docker(
        &["stop", "-t", &stop_secs, &name],
        Duration::from_secs(STOP_SECS + 30),
        cancel,
    );
    let _ = docker(&["rm", "-f", "-v", &name], QUICK, cancel);
    let secs = up?;
    stopped?;
    let mut proved = format!("{image} started on the copy in {secs:.1} s");
    match counts {
        Some(Ok((n, r))) => proved.push_str(&format!("; {n} nodes, {r} relationships")),
        Some(Err(why)) => proved.push_str(&format!("; counts not read ({why})")),
        None => {}
    }
    on(Event::Info(format!(
        "checking the copy's consistency with {image}'s neo4j-admin"
    )));
    match check(image, &mount, &db, timeout, cancel)? {
        true => proved.push_str(&format!("; consistency check of {db}: consistent")),
        false => proved.push_str(&format!(
            "; consistency not checked ({image} has no neo4j-admin)"
        )),
    }
    Ok(proved)
}

/// A drill's container is `<PREFIX><our process id>`.
const PREFIX: &str = "structr-backup-drill-";

/// Removes the containers of drills that died before they could (killed, the
/// terminal gone): named by a drill, the process in the name gone. A drill
/// still running, for this installation or another, keeps its own.
fn remove_leftovers(cancel: &Cancel, on: Sink) {
    let filter = format!("name=^{PREFIX}");
    let Ok(out) = docker(
        &["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"],
        QUICK,
        cancel,
    ) else {
        return;
    };
    for name in out.stdout.lines() {
        let digits = name
            .strip_prefix(PREFIX)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
        let Some(pid) = digits.and_then(|d| d.parse::<i32>().ok()) else {
            continue;
        };
        if pid == std::process::id() as i32 || crate::sys::process_alive(pid) {
            continue;
        }
        match docker(&["rm", "-f", "-v", name], QUICK, cancel) {
            Ok(o) if o.success() => on(Event::Info(format!(
                "removed container {name}, which an interrupted drill left (process {pid})"
            ))),
            Ok(o) => on(Event::Warning(format!(
                "cannot remove container {name}, which an interrupted drill left: {}",
                o.tail()
            ))),
            Err(e) => on(Event::Warning(format!(
                "cannot remove container {name}, which an interrupted drill left: {e}"
            ))),
        }
    }
}

/// `docker ARGS`, bounded by `timeout` and cancelled with the drill.
fn docker(args: &[&str], timeout: Duration, cancel: &Cancel) -> Result<Output, OpError> {
    Cmd::new("docker")
        .args(args)
        .timeout(timeout)
        .cancel(cancel)
        .output()
        .map_err(|e| OpError::failed(e.to_string()))
}

/// Seconds until the container logged `Started.` while running; `Err` with
/// its last words when it stopped first or `timeout` passed.
fn wait_up(name: &str, image: &str, timeout: Duration, cancel: &Cancel) -> Result<f64, OpError> {
    let started = Instant::now();
    loop {
        let logs = docker(&["logs", "--tail", "200", name], QUICK, cancel)?;
        let text = format!("{}{}", logs.stdout, logs.stderr);
        let running = docker(
            &["inspect", "-f", "{{.State.Running}}", name],
            QUICK,
            cancel,
        )?;
        let running = running.stdout.trim() == "true";
        if running && text.lines().any(|l| l.trim_end().ends_with("Started.")) {
            return Ok(started.elapsed().as_secs_f64());
        }
        if !running {
            let tail: Vec<&str> = text.lines().rev().take(8).collect();
            return Err(OpError::failed(format!(
                "{image} stopped on the copy before it was up: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            )));
        }
        if started.elapsed() > timeout {
            return Err(OpError::failed(format!(
                "{image} was not up on the copy within {} s ([drill] timeout_secs)",
                timeout.as_secs()
            )));
        }
        if cancel.is_cancelled() {
            return Err(OpError::failed("the drill was cancelled".to_string()));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The image's `neo4j-admin` consistency check on the stopped copy: `Ok(true)`
/// when consistent, `Ok(false)` when the image has no neo4j-admin, `Err` with
/// what Neo4j found otherwise.
fn check(
    image: &str,
    mount: &str,
    db: &str,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<bool, OpError> {
    let four = image_tag(image).is_some_and(|t| t.starts_with("4."));
    let mut argv: Vec<String> = [
        "run",
        "--rm",
        "--network",
        "none",
        "-e",
        "NEO4J_AUTH=none",
        "-v",
        mount,
        image,
        "neo4j-admin",
    ]
    .map(String::from)
    .into();
    // The report goes to the container's /tmp, removed with it.
    argv.extend(check_args(db, four, "/tmp/structr-backup-check"));
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = docker(&args, timeout, cancel)?;
    if out.success() {
        return Ok(true);
    }
    let missing = out.stderr.contains("executable file not found")
        || (out.status == Some(NOT_FOUND) && out.stderr.contains("not found"));
    if missing {
        return Ok(false);
    }
    Err(OpError::failed(format!(
        "Neo4j's consistency check of {db} on the copy failed (`neo4j-admin {}` in {image}, exit {}): {}",
        if four { "check-consistency" } else { "database check" },
        out.status.map_or("by signal".into(), |c| c.to_string()),
        last_words(&out)
    )))
}

/// `registry:5000/neo4j:5.26` → `5.26`; None without a tag.
fn image_tag(image: &str) -> Option<&str> {
    image.rsplit('/').next()?.split_once(':').map(|(_, t)| t)
}

/// The database the copy holds besides `system`: `neo4j` when it is there,
/// else the only other one (a renamed default database), else `neo4j`.
fn database(data: &Path) -> String {
    let names: Vec<String> = std::fs::read_dir(data.join("databases"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n != "system")
                .collect()
        })
        .unwrap_or_default();
    match names.as_slice() {
        [only] => only.clone(),
        _ => "neo4j".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_and_the_tag_come_from_the_copy_and_the_image() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(database(dir.path()), "neo4j");
        std::fs::create_dir_all(dir.path().join("databases/system")).unwrap();
        std::fs::create_dir_all(dir.path().join("databases/graph")).unwrap();
        std::fs::write(dir.path().join("databases/store_lock"), b"").unwrap();
        assert_eq!(database(dir.path()), "graph");
        std::fs::create_dir_all(dir.path().join("databases/neo4j")).unwrap();
        assert_eq!(database(dir.path()), "neo4j");
        assert_eq!(image_tag("registry:5000/neo4j:4.4.30"), Some("4.4.30"));
        assert_eq!(image_tag("neo4j"), None);
    }
}
