//! A drill on a Compose installation: its own Neo4j image started on the copy.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::ops::OpError;
use crate::process;

/// The installation's Neo4j image on the copy, in a container without network
/// that is removed afterwards. Up means: still running and it logged `Started.`
/// (as Neo4j does once it serves).
pub fn run_container(image: &str, data: &Path, timeout: Duration) -> Result<String, OpError> {
    let name = format!("structr-backup-drill-{}", std::process::id());
    let docker = |args: &[&str]| {
        let argv: Vec<String> = std::iter::once("docker")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        process::run(&argv, Duration::from_secs(120)).map_err(|e| OpError::failed(e.to_string()))
    };
    let _ = docker(&["rm", "-f", &name]);
    let mount = format!("{}:/data", data.display());
    let out = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "-v",
        &mount,
        image,
    ])?;
    if !out.success() {
        return Err(OpError::failed(format!(
            "cannot start {image} on the copy: {}",
            out.tail()
        )));
    }
    let started = Instant::now();
    let result = loop {
        let logs = docker(&["logs", &name])?;
        let text = format!("{}{}", logs.stdout, logs.stderr);
        let running = docker(&["inspect", "-f", "{{.State.Running}}", &name])?;
        if text.lines().any(|l| l.trim_end().ends_with("Started."))
            && running.stdout.trim() == "true"
        {
            break Ok(format!(
                "{image} started on the copy in {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
        if running.stdout.trim() != "true" {
            let tail: Vec<&str> = text.lines().rev().take(8).collect();
            break Err(OpError::failed(format!(
                "{image} stopped on the copy before it was up: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            )));
        }
        if started.elapsed() > timeout {
            break Err(OpError::failed(format!(
                "{image} was not up on the copy within {} s",
                timeout.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let _ = docker(&["stop", "-t", "30", &name]);
    let _ = docker(&["rm", "-f", &name]);
    result
}
