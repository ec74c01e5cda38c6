//! A tiny init script: start a daemon detached with a pid file, stop it with
//! SIGTERM (reporting, not killing, when it will not go), report its status with
//! LSB exit codes (0 running, 3 not running).

use std::fs::{self, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_parser = ["start", "stop", "status"])]
    action: String,
    #[arg(long)]
    pidfile: PathBuf,
    /// Where the daemon's output goes (appended)
    #[arg(long)]
    log: Option<PathBuf>,
    /// Seconds to wait for start (ready file) or stop
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// start: wait until this file exists (it is removed first)
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// The daemon's command line (start)
    #[arg(last = true)]
    command: Vec<String>,
}

pub fn run(a: Args) -> i32 {
    let result = match a.action.as_str() {
        "start" => start(&a),
        "stop" => stop(&a),
        _ => {
            return if running_pid(&a.pidfile).is_some() {
                0
            } else {
                3
            }
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// The pid in the file, if that process is alive (a zombie counts as gone).
fn running_pid(pidfile: &Path) -> Option<i32> {
    let pid: i32 = fs::read_to_string(pidfile).ok()?.trim().parse().ok()?;
    kill(Pid::from_raw(pid), None).ok()?;
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    (state != Some("Z")).then_some(pid)
}

fn start(a: &Args) -> Result<(), String> {
    if let Some(pid) = running_pid(&a.pidfile) {
        println!("already running (pid {pid})");
        return Ok(());
    }
    let (program, args) = a
        .command
        .split_first()
        .ok_or("start needs a command after --")?;
    if let Some(r) = &a.ready_file {
        let _ = fs::remove_file(r);
    }
    let log = |path: &Option<PathBuf>| -> Result<Stdio, String> {
        match path {
            Some(p) => OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map(Stdio::from)
                .map_err(|e| format!("cannot open {}: {e}", p.display())),
            None => Ok(Stdio::null()),
        }
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(log(&a.log)?)
        .stderr(log(&a.log)?);
    // SAFETY: setsid is async-signal-safe; it detaches the daemon from our session.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    fs::write(&a.pidfile, child.id().to_string())
        .map_err(|e| format!("cannot write {}: {e}", a.pidfile.display()))?;
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    let settle = Instant::now() + Duration::from_millis(200);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "{program} exited at start ({status}){}",
                log_tail(&a.log)
            ));
        }
        let ready = match &a.ready_file {
            Some(r) => r.exists(),
            None => Instant::now() >= settle,
        };
        if ready {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{program} was not ready within {} s{}",
                a.timeout,
                log_tail(&a.log)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log_tail(log: &Option<PathBuf>) -> String {
    let Some(text) = log.as_ref().and_then(|p| fs::read_to_string(p).ok()) else {
        return String::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    format!(":\n{}", lines[lines.len().saturating_sub(5)..].join("\n"))
}

fn stop(a: &Args) -> Result<(), String> {
    let Some(pid) = running_pid(&a.pidfile) else {
        let _ = fs::remove_file(&a.pidfile);
        return Ok(());
    };
    kill(Pid::from_raw(pid), Signal::SIGTERM)
        .map_err(|e| format!("cannot signal pid {pid}: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    while running_pid(&a.pidfile).is_some() {
        if Instant::now() >= deadline {
            return Err(format!("pid {pid} did not stop within {} s", a.timeout));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = fs::remove_file(&a.pidfile);
    Ok(())
}
