//! Running external programs (service commands, systemctl, docker): explicit argv,
//! never a shell, always a timeout, stderr kept for the error message.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Output {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// The last lines of stderr (or stdout when stderr is empty), for error messages.
    pub fn tail(&self) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let lines: Vec<&str> = text.trim().lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` did not finish within {secs} s and was killed")]
    Timeout { command: String, secs: u64 },
}

pub fn display(argv: &[String]) -> String {
    shell_words::join(argv)
}

/// Runs `argv` with stdin closed and waits at most `timeout`.
pub fn run(argv: &[String], timeout: Duration) -> Result<Output, CommandError> {
    run_with_env(argv, &[], timeout)
}

/// `run` with extra environment variables for the program.
pub fn run_with_env(
    argv: &[String],
    env: &[(&str, &str)],
    timeout: Duration,
) -> Result<Output, CommandError> {
    let command = display(argv);
    let (program, args) = argv.split_first().ok_or_else(|| CommandError::Spawn {
        command: command.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
    })?;
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group: a Ctrl-C on the terminal goes to us, and we decide;
        // it must not kill a `start` we run to bring production back.
        .process_group(0)
        .spawn()
        .map_err(|source| CommandError::Spawn {
            command: command.clone(),
            source,
        })?;
    let stdout = reader(child.stdout.take());
    let stderr = reader(child.stderr.take());
    let status = wait(&mut child, timeout).ok_or_else(|| CommandError::Timeout {
        command: command.clone(),
        secs: timeout.as_secs(),
    })?;
    // A daemon started by the command may inherit our pipes and keep them open for
    // its whole life; do not wait for end-of-file longer than a moment.
    let grace = Duration::from_millis(500);
    Ok(Output {
        status,
        stdout: stdout.recv_timeout(grace).unwrap_or_default(),
        stderr: stderr.recv_timeout(grace).unwrap_or_default(),
    })
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
        });
    }
    rx
}

/// Waits for the child; kills it after `timeout`. None on timeout.
fn wait(child: &mut Child, timeout: Duration) -> Option<Option<i32>> {
    let deadline = crate::units::deadline(timeout);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status.code()),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                kill_group(child);
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Kills the child's whole process group (it leads its own, see `run`): a stop
/// script that hangs in a `sleep` or a `docker` call must not leave those behind,
/// still acting on the service after we have given up and moved on.
fn kill_group(child: &mut Child) {
    use nix::sys::signal::{killpg, Signal};
    // Before the child is reaped its pid cannot be reused, so the group is still ours.
    let group = i32::try_from(child.id())
        .ok()
        .map(nix::unistd::Pid::from_raw);
    if group.is_none_or(|g| killpg(g, Signal::SIGKILL).is_err()) {
        let _ = child.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        shell_words::split(s).unwrap()
    }

    #[test]
    fn captures_status_and_output() {
        let out = run(
            &argv("sh -c 'echo out; echo err >&2; exit 3'"),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(out.status, Some(3));
        assert_eq!(out.stdout.trim(), "out");
        assert_eq!(out.tail(), "err");
    }

    #[test]
    fn times_out_and_kills() {
        let t = Instant::now();
        let err = run(&argv("sleep 30"), Duration::from_millis(300)).unwrap_err();
        assert!(matches!(err, CommandError::Timeout { .. }));
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    /// Live (not zombie) processes whose process group is `pgid`, from /proc.
    fn live_in_group(pgid: i32) -> Vec<String> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid pgrp ...; comm may hold spaces, so split after ')'.
            let Some((head, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid)
                && fields.first() != Some(&"Z")
                && fields.first() != Some(&"X")
            {
                found.push(format!("{head})"));
            }
        }
        found
    }

    #[test]
    fn a_timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!(
            "echo $$ > {}; sleep 300 & sleep 300",
            shell_words::quote(&pidfile.display().to_string())
        );
        let err = run(
            &["sh".to_string(), "-c".to_string(), script],
            Duration::from_millis(500),
        )
        .unwrap_err();
        assert!(matches!(err, CommandError::Timeout { .. }), "{err}");
        // The group id is the shell's pid: it leads its own group.
        let pgid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // SIGKILL is delivered at once, but give the exits a moment to show in /proc.
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut left = live_in_group(pgid);
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            left = live_in_group(pgid);
        }
        // Whatever the outcome, leave no sleeps behind.
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pgid),
            nix::sys::signal::Signal::SIGKILL,
        );
        assert!(left.is_empty(), "still alive in group {pgid}: {left:?}");
    }

    #[test]
    fn missing_program_is_a_spawn_error_naming_it() {
        let err = run(&argv("/nonexistent/prog x"), Duration::from_secs(1)).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/prog"));
    }

    #[test]
    fn a_daemon_holding_our_pipes_does_not_block() {
        let t = Instant::now();
        let out = run(
            &argv("sh -c '(sleep 5 &) ; exit 0'"),
            Duration::from_secs(5),
        )
        .unwrap();
        assert!(out.success());
        assert!(t.elapsed() < Duration::from_secs(3));
    }
}
