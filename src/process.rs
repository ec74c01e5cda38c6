//! The one way we run a child program: explicit argv (never a shell), stdin closed
//! or fed from memory, its own process group, an optional timeout and cancel,
//! stdout lines handed to a callback as they come, and every byte it prints kept
//! within a bound. A chatty program (`yes`) can neither exhaust our memory nor
//! block us; a hung one is killed with its whole group; one started inside the
//! stop window can be made to die with us (PDEATHSIG).
//!
//! Depends on nothing of ours but the cancel flag.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::cancel::Cancel;

/// How much of stderr is kept: its end, where programs say what went wrong.
pub const STDERR_TAIL: usize = 64 * 1024;
/// How much of stdout is kept unless the caller says otherwise: its end.
pub const STDOUT_TAIL: usize = 64 * 1024;
/// The most stdout `run` keeps whole: far above any answer a tool we parse gives.
pub const MAX_ANSWER: usize = 16 * 1024 * 1024;
/// The longest line handed to the line callback; the rest of a longer line is dropped.
pub const MAX_LINE: usize = 1024 * 1024;
/// How long a program that was asked to stop (cancel) may take before it is killed.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(10);
/// How long we wait for a pipe's end after the program exited: a daemon it started
/// may hold the pipe for its whole life.
const PIPE_GRACE: Duration = Duration::from_millis(500);

/// What the program printed and how it ended.
#[derive(Debug, Default)]
pub struct Output {
    /// The exit code; None when a signal ended it.
    pub status: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    pub stdout: String,
    /// The end of stderr (at most [`STDERR_TAIL`] bytes).
    pub stderr: String,
    /// Whether stdout was longer than what is kept.
    pub stdout_cut: bool,
    /// Values from its argv that look like secrets (`secrets::redact_argv`):
    /// taken out of what [`Output::tail`] says, should the program echo them.
    pub hidden: Vec<String>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// The last lines of stderr (or stdout when stderr is empty), for error
    /// messages; says which signal ended the program when one did and it said nothing.
    pub fn tail(&self) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let lines: Vec<&str> = text.trim().lines().collect();
        let mut said = lines[lines.len().saturating_sub(8)..].join("\n");
        for h in &self.hidden {
            said = said.replace(h.as_str(), crate::secrets::REDACTED);
        }
        match (said.is_empty(), self.signal) {
            (true, Some(sig)) => format!("killed by signal {sig} ({})", signal_name(sig)),
            (false, Some(sig)) => format!("{said}\n(killed by signal {sig})"),
            _ => said,
        }
    }
}

fn signal_name(sig: i32) -> &'static str {
    Signal::try_from(sig).map_or("unknown", Signal::as_str)
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` did not finish within {secs} s and was killed")]
    Timeout { command: String, secs: u64 },
    #[error("`{command}` was stopped: the operation was cancelled")]
    Cancelled { command: String },
    #[error("`{command}` printed more than {limit} bytes and was stopped")]
    TooMuchOutput { command: String, limit: usize },
}

/// What to keep of stdout.
#[derive(Clone, Copy, Debug)]
enum Keep {
    /// Its last N bytes.
    Tail(usize),
    /// All of it, at most N bytes: more is an error (a JSON answer cut short is no answer).
    Whole(usize),
}

/// A program to run: built like `std::process::Command`, run once with [`Cmd::run`].
pub struct Cmd {
    argv: Vec<OsString>,
    shown: Option<String>,
    env: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
    cancel: Option<Cancel>,
    interrupt: Signal,
    die_with_us: Option<Signal>,
    /// Folders bind-mounted over others in a mount namespace of the child's own.
    binds: Vec<(PathBuf, PathBuf)>,
    keep: Keep,
    group: Option<Group>,
    /// The user and group the child runs as (we are root).
    user: Option<(u32, u32)>,
}

/// A handle on a running program's process group, for another thread: a server
/// run in the foreground (a drill's Neo4j) is stopped with a signal once we are
/// done with it, and [`Cmd::run`] then returns how it ended.
#[derive(Clone, Default)]
pub struct Group(std::sync::Arc<std::sync::Mutex<Option<i32>>>);

impl Group {
    /// Sends `sig` to the program's whole group; false when it is not running
    /// (not started yet, or already reaped: its pid may belong to another).
    pub fn signal(&self, sig: Signal) -> bool {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match *slot {
            Some(pid) => nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), sig).is_ok(),
            None => false,
        }
    }

    fn set(&self, pid: Option<i32>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = pid;
    }
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            argv: vec![program.as_ref().to_os_string()],
            shown: None,
            env: Vec::new(),
            env_remove: Vec::new(),
            stdin: None,
            timeout: None,
            cancel: None,
            interrupt: Signal::SIGKILL,
            die_with_us: None,
            binds: Vec::new(),
            keep: Keep::Tail(STDOUT_TAIL),
            group: None,
            user: None,
        }
    }

    /// From a whole argv (`argv[0]` the program); an empty one fails at `run`.
    pub fn from_argv<S: AsRef<OsStr>>(argv: &[S]) -> Self {
        let mut c = Self::new(argv.first().map_or(OsStr::new(""), AsRef::as_ref));
        c.argv
            .extend(argv.iter().skip(1).map(|a| a.as_ref().to_os_string()));
        c
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.argv.push(a.as_ref().to_os_string());
        self
    }

    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.argv
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// How the command is named in messages, instead of its argv: for a command
    /// whose arguments must not be shown (they may hold a token).
    pub fn shown_as(mut self, name: impl Into<String>) -> Self {
        self.shown = Some(name.into());
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env_remove.push(key.as_ref().to_os_string());
        self
    }

    /// Bytes written to the program's stdin (closed afterwards); stdin is
    /// /dev/null otherwise.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    pub fn timeout_opt(mut self, t: Option<Duration>) -> Self {
        self.timeout = t;
        self
    }

    /// Stops the program when `cancel` is set: `interrupt` first (SIGKILL unless
    /// [`Cmd::interrupt_with`] says otherwise), SIGKILL after [`INTERRUPT_GRACE`].
    pub fn cancel(mut self, cancel: &Cancel) -> Self {
        self.cancel = Some(cancel.clone());
        self
    }

    /// The signal a cancel sends first (restic removes its lock on SIGINT).
    pub fn interrupt_with(mut self, sig: Signal) -> Self {
        self.interrupt = sig;
        self
    }

    /// Runs the child in a private mount namespace of its own where `from` is
    /// bind-mounted over `onto` (each pair): it sees the staged copy at the
    /// installation's own paths, and nobody else sees anything. Needs root.
    pub fn bind_over(mut self, binds: Vec<(PathBuf, PathBuf)>) -> Self {
        self.binds = binds;
        self
    }

    /// The program gets `sig` when we die (kill -9, a lost session): one working
    /// inside the stop window must not go on after `recover` started the services.
    pub fn die_with_us(mut self, sig: Signal) -> Self {
        self.die_with_us = Some(sig);
        self
    }

    /// Runs the program as user `uid` with group `gid` and no supplementary
    /// groups (we are root): a service's program as the service's user. Not
    /// with [`Cmd::bind_over`], whose mounts need root in the child.
    pub fn as_user(mut self, uid: u32, gid: u32) -> Self {
        self.user = Some((uid, gid));
        self
    }

    /// `group` can signal the program's process group while it runs.
    pub fn group(mut self, group: &Group) -> Self {
        self.group = Some(group.clone());
        self
    }

    /// Keep all of stdout, at most `limit` bytes (more is [`RunError::TooMuchOutput`]).
    pub fn keep_stdout(mut self, limit: usize) -> Self {
        self.keep = Keep::Whole(limit);
        self
    }

    /// The command as messages name it.
    pub fn display(&self) -> String {
        self.shown
            .clone()
            .unwrap_or_else(|| crate::secrets::redact_argv(&self.argv_text()).0)
    }

    fn argv_text(&self) -> Vec<String> {
        self.argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    /// Runs the program to its end, handing each stdout line to `on_line`.
    pub fn run(self, on_line: &mut dyn FnMut(&str)) -> Result<Output, RunError> {
        let command = self.display();
        if let Some(show) = SHOW_RUNS.get() {
            show(&command);
        }
        let hidden = crate::secrets::redact_argv(&self.argv_text()).1;
        let spawn_error = |source| RunError::Spawn {
            command: command.clone(),
            source,
        };
        let (program, args) = self.argv.split_first().expect("argv has the program");
        if program.is_empty() {
            return Err(spawn_error(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "empty command",
            )));
        }
        let mut c = Command::new(program);
        c.args(args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group: a Ctrl-C on the terminal reaches us, and we decide;
            // it must not kill a `start` we run to bring production back.
            .process_group(0);
        for k in &self.env_remove {
            c.env_remove(k);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        if let Some((uid, gid)) = self.user {
            if !self.binds.is_empty() {
                return Err(spawn_error(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a program run as another user cannot bind-mount",
                )));
            }
            // std drops the supplementary groups when root changes the uid.
            c.uid(uid).gid(gid);
        }
        if let Some(sig) = self.die_with_us {
            let parent = std::process::id();
            // SAFETY: prctl and getppid are async-signal-safe and touch only the
            // child being made.
            unsafe {
                c.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_int) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // We may have died between fork and prctl: then do not start.
                    if libc::getppid() as u32 != parent {
                        return Err(std::io::Error::other("the parent is gone"));
                    }
                    Ok(())
                });
            }
        }
        if !self.binds.is_empty() {
            let binds = c_paths(&self.binds).map_err(spawn_error)?;
            // SAFETY: unshare and mount are system calls, async-signal-safe; the
            // paths were made into C strings before the fork.
            unsafe {
                c.pre_exec(move || bind_in_own_namespace(&binds));
            }
        }
        let mut child = c.spawn().map_err(spawn_error)?;
        // Cleared before the child is reaped, under the same lock `signal` takes.
        let group = self.group.clone().unwrap_or_default();
        group.set(i32::try_from(child.id()).ok());
        let kill_group = |child: &mut Child| {
            group.set(None);
            kill_group(child);
        };
        if let (Some(bytes), Some(mut pipe)) = (self.stdin, child.stdin.take()) {
            // A thread, so a program that does not read its input cannot block us.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        // A whole answer may be one long line (`restic snapshots --json`): its
        // lines may be as long as the answer; a tail's are cut at MAX_LINE.
        let max_line = match self.keep {
            Keep::Whole(limit) => limit.saturating_add(1),
            Keep::Tail(_) => MAX_LINE,
        };
        let lines = line_reader(child.stdout.take(), max_line);
        let stderr = tail_reader(child.stderr.take(), STDERR_TAIL);
        let mut stdout = Bounded::new(self.keep);
        let deadline = self.timeout.map(crate::units::deadline);
        let mut interrupted: Option<Instant> = None;
        let mut exited: Option<(std::process::ExitStatus, Instant)> = None;
        loop {
            // Lines first (many at a time when it is chatty), then the checks, so a
            // program that never stops printing still meets its timeout and cancel.
            let mut got = lines.recv_timeout(Duration::from_millis(20));
            let mut taken = 0;
            while let Ok(line) = got {
                on_line(&line);
                if !stdout.push(&line) {
                    kill_group(&mut child);
                    return Err(RunError::TooMuchOutput {
                        command,
                        limit: stdout.limit(),
                    });
                }
                taken += 1;
                got = if taken < 4096 {
                    lines
                        .try_recv()
                        .map_err(|_| mpsc::RecvTimeoutError::Timeout)
                } else {
                    Err(mpsc::RecvTimeoutError::Timeout)
                };
            }
            let drained = matches!(got, Err(mpsc::RecvTimeoutError::Disconnected));
            if let Some((_, at)) = exited {
                if drained || at.elapsed() > PIPE_GRACE {
                    break;
                }
                continue;
            }
            let waited = {
                let mut slot = group.0.lock().unwrap_or_else(|e| e.into_inner());
                let waited = child.try_wait();
                if matches!(waited, Ok(Some(_))) {
                    *slot = None;
                }
                waited
            };
            if let Ok(Some(status)) = waited {
                exited = Some((status, Instant::now()));
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                kill_group(&mut child);
                return Err(RunError::Timeout {
                    command,
                    secs: self.timeout.unwrap_or_default().as_secs(),
                });
            }
            let cancelled = self.cancel.as_ref().is_some_and(Cancel::is_cancelled);
            match interrupted {
                None if cancelled => {
                    signal_group(&child, self.interrupt);
                    interrupted = Some(Instant::now());
                }
                Some(at) if at.elapsed() > INTERRUPT_GRACE => {
                    kill_group(&mut child);
                    return Err(RunError::Cancelled { command });
                }
                _ => {}
            }
        }
        let (status, _) = exited.expect("the loop ends after the exit");
        if interrupted.is_some() {
            return Err(RunError::Cancelled { command });
        }
        Ok(Output {
            status: status.code(),
            signal: status.signal(),
            stdout_cut: stdout.cut,
            stdout: stdout.text,
            stderr: stderr.recv_timeout(PIPE_GRACE).unwrap_or_default(),
            hidden,
        })
    }

    /// Runs the program, keeping what it prints.
    pub fn output(self) -> Result<Output, RunError> {
        self.run(&mut |_| {})
    }
}

/// Who is told of every program run, by its redacted command line (the CLI's
/// `--verbose`); a function set from above, so this module depends on no face.
static SHOW_RUNS: std::sync::OnceLock<fn(&str)> = std::sync::OnceLock::new();

/// From now on `show` hears of every program run (set once; later calls are ignored).
pub fn show_runs(show: fn(&str)) {
    let _ = SHOW_RUNS.set(show);
}

/// How an argv is shown in messages: as a shell would read it, with what looks
/// like a secret (a `--token` value, `pass=…`, an API key) as `***`.
pub fn display(argv: &[String]) -> String {
    crate::secrets::redact_argv(argv).0
}

type CPaths = Vec<(std::ffi::CString, std::ffi::CString)>;

fn c_paths(binds: &[(PathBuf, PathBuf)]) -> std::io::Result<CPaths> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &PathBuf| {
        std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other)
    };
    binds.iter().map(|(a, b)| Ok((c(a)?, c(b)?))).collect()
}

/// In the child, before exec: a mount namespace of its own whose mounts do not
/// propagate back (private, recursively), then each bind.
fn bind_in_own_namespace(binds: &CPaths) -> std::io::Result<()> {
    let check = |r: libc::c_int| match r {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    };
    // SAFETY: plain system calls on C strings that live as long as the call.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        check(libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))?;
        for (from, onto) in binds {
            check(libc::mount(
                from.as_ptr(),
                onto.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            ))?;
        }
    }
    Ok(())
}

/// Runs `argv` (service commands, systemctl, docker, LVM tools) with stdin
/// closed, waiting at most `timeout`; its output kept as a bounded tail.
pub fn run(argv: &[String], timeout: Duration) -> Result<Output, RunError> {
    run_with_env(argv, &[], timeout)
}

/// `run` with extra environment variables for the program.
pub fn run_with_env(
    argv: &[String],
    env: &[(&str, &str)],
    timeout: Duration,
) -> Result<Output, RunError> {
    // Callers parse what these print (docker inspect, lvs, findmnt, systemctl
    // show): all of it, bounded, never a tail cut in the middle of a JSON answer.
    let mut c = Cmd::from_argv(argv)
        .timeout(timeout)
        .keep_stdout(MAX_ANSWER);
    for (k, v) in env {
        c = c.env(k, v);
    }
    c.output()
}

/// Stdout as kept: its tail, or all of it up to a limit.
struct Bounded {
    keep: Keep,
    text: String,
    cut: bool,
}

impl Bounded {
    fn new(keep: Keep) -> Self {
        Self {
            keep,
            text: String::new(),
            cut: false,
        }
    }

    fn limit(&self) -> usize {
        match self.keep {
            Keep::Tail(n) | Keep::Whole(n) => n,
        }
    }

    /// Adds a line; false when the whole output would pass its limit.
    fn push(&mut self, line: &str) -> bool {
        self.text.push_str(line);
        self.text.push('\n');
        match self.keep {
            Keep::Whole(limit) => self.text.len() <= limit,
            Keep::Tail(limit) => {
                if self.text.len() > 2 * limit {
                    let mut from = self.text.len() - limit;
                    while !self.text.is_char_boundary(from) {
                        from += 1;
                    }
                    self.text.drain(..from);
                    self.cut = true;
                }
                true
            }
        }
    }
}

/// Reads `pipe` line by line on a thread; a line longer than `max_line` is cut.
/// The channel is bounded, so a program printing faster than we take lines waits.
fn line_reader<R: Read + Send + 'static>(
    pipe: Option<R>,
    max_line: usize,
) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::sync_channel(1024);
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut buf = [0u8; 64 * 1024];
            let mut line: Vec<u8> = Vec::new();
            let mut dropping = false;
            loop {
                let n = match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                for chunk in buf[..n].split_inclusive(|b| *b == b'\n') {
                    let ends = chunk.last() == Some(&b'\n');
                    let body = chunk.strip_suffix(b"\n").unwrap_or(chunk);
                    if !dropping {
                        let room = max_line.saturating_sub(line.len());
                        line.extend_from_slice(&body[..body.len().min(room)]);
                        dropping = body.len() > room;
                    }
                    if ends {
                        let text = String::from_utf8_lossy(&line).into_owned();
                        if tx.send(text).is_err() {
                            return;
                        }
                        line.clear();
                        dropping = false;
                    }
                }
            }
            if !line.is_empty() {
                let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
            }
        });
    }
    rx
}

/// Reads `pipe` to its end on a thread, keeping the last `limit` bytes.
fn tail_reader<R: Read + Send + 'static>(pipe: Option<R>, limit: usize) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut kept: Vec<u8> = Vec::new();
            let mut buf = [0u8; 16 * 1024];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        kept.extend_from_slice(&buf[..n]);
                        if kept.len() > 2 * limit {
                            kept.drain(..kept.len() - limit);
                        }
                    }
                }
            }
            if kept.len() > limit {
                kept.drain(..kept.len() - limit);
            }
            let _ = tx.send(String::from_utf8_lossy(&kept).into_owned());
        });
    }
    rx
}

fn signal_group(child: &Child, sig: Signal) {
    // Before the child is reaped its pid cannot be reused, so the group is still ours.
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), sig);
    }
}

/// Kills the child's whole process group (it leads its own): a stop script that
/// hangs in a `sleep` or a `docker` call must not leave those behind, still acting
/// on the service after we have given up and moved on.
fn kill_group(child: &mut Child) {
    signal_group(child, Signal::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Cmd {
        Cmd::new("sh").arg("-c").arg(script)
    }

    #[test]
    fn a_group_handle_stops_a_running_program_from_another_thread() {
        let group = Group::default();
        assert!(!group.signal(Signal::SIGTERM), "nothing runs yet");
        let g = group.clone();
        let stopper = std::thread::spawn(move || {
            // Until the program runs, then a SIGTERM to its group.
            while !g.signal(Signal::SIGTERM) {
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let t = Instant::now();
        let out = sh("sleep 30")
            .timeout(Duration::from_secs(60))
            .group(&group)
            .output()
            .unwrap();
        stopper.join().unwrap();
        assert_eq!(out.signal, Some(Signal::SIGTERM as i32), "{out:?}");
        assert!(t.elapsed() < Duration::from_secs(20));
        assert!(
            !group.signal(Signal::SIGTERM),
            "reaped: its pid is not ours"
        );
    }

    #[test]
    fn captures_status_output_and_lines() {
        let mut seen = Vec::new();
        let out = sh("echo one; echo two; echo err >&2; exit 3")
            .run(&mut |l| seen.push(l.to_string()))
            .unwrap();
        assert_eq!(out.status, Some(3));
        assert_eq!(out.stdout, "one\ntwo\n");
        assert_eq!(out.tail(), "err");
        assert_eq!(seen, ["one", "two"]);
    }

    #[test]
    fn a_chatty_program_keeps_memory_bounded() {
        // 200 MB of output: only the tail is kept.
        let out =
            sh("yes $(head -c 1000 /dev/zero | tr '\\0' X) | head -c 200000000; echo; echo last")
                .timeout(Duration::from_secs(60))
                .output()
                .unwrap();
        assert!(
            out.stdout.len() <= 2 * STDOUT_TAIL + 16,
            "{}",
            out.stdout.len()
        );
        assert!(out.stdout_cut);
        assert!(out.stdout.ends_with("last\n"));
        let out = sh("yes E | head -c 50000000 >&2; echo end >&2")
            .output()
            .unwrap();
        assert!(out.stderr.len() <= STDERR_TAIL);
        assert!(out.stderr.ends_with("end\n"));
    }

    #[test]
    fn an_endless_line_is_cut() {
        let mut longest = 0;
        let out = sh("head -c 5000000 /dev/zero | tr '\\0' x; echo; echo ok")
            .run(&mut |l| longest = longest.max(l.len()))
            .unwrap();
        assert_eq!(longest, MAX_LINE);
        assert!(out.stdout.ends_with("ok\n"));
    }

    #[test]
    fn whole_output_over_its_limit_is_an_error() {
        let err = sh("yes").keep_stdout(1000).output().unwrap_err();
        assert!(
            matches!(err, RunError::TooMuchOutput { limit: 1000, .. }),
            "{err}"
        );
    }

    #[test]
    fn times_out_and_kills_the_group() {
        let t = Instant::now();
        let err = sh("sleep 30 & sleep 30")
            .timeout(Duration::from_millis(300))
            .output()
            .unwrap_err();
        assert!(matches!(err, RunError::Timeout { .. }), "{err}");
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn cancel_interrupts_then_kills() {
        let cancel = Cancel::new();
        let c2 = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            c2.cancel();
        });
        let t = Instant::now();
        // The shell ignores nothing: SIGINT ends it at once.
        let err = sh("sleep 30")
            .cancel(&cancel)
            .interrupt_with(Signal::SIGINT)
            .output()
            .unwrap_err();
        assert!(matches!(err, RunError::Cancelled { .. }), "{err}");
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn stdin_is_fed() {
        let out = Cmd::new("cat").stdin("hello").output().unwrap();
        assert_eq!(out.stdout, "hello\n");
    }

    #[test]
    fn a_signal_death_says_which() {
        let out = sh("kill -9 $$").output().unwrap();
        assert_eq!(out.signal, Some(9));
        assert!(out.tail().contains("signal 9"), "{}", out.tail());
    }

    #[test]
    fn shown_as_hides_the_argv() {
        let err = Cmd::new("/nonexistent/prog")
            .arg("TOKEN")
            .shown_as("prog")
            .output()
            .unwrap_err();
        assert!(!err.to_string().contains("TOKEN"));
        assert!(err.to_string().contains("prog"));
    }

    #[test]
    fn a_token_on_the_command_line_is_in_no_message() {
        let err = Cmd::new("/nonexistent/tool")
            .args(["--token", "T0K3N-abc"])
            .output()
            .unwrap_err();
        assert!(!err.to_string().contains("T0K3N"), "{err}");
        let out = sh("echo failed with $2 >&2; exit 1")
            .args(["x", "--password", "PW-12345"])
            .output()
            .unwrap();
        assert!(!out.tail().contains("PW-12345"), "{}", out.tail());
        assert!(out.tail().contains("failed with ***"), "{}", out.tail());
    }

    #[test]
    fn run_keeps_a_long_answer_whole() {
        let argv: Vec<String> = ["sh", "-c", "head -c 2097152 /dev/zero | tr '\\0' a; echo"]
            .map(String::from)
            .to_vec();
        let out = run(&argv, Duration::from_secs(10)).unwrap();
        // One line of 2 MiB (restic's snapshot list is one line), longer than MAX_LINE.
        assert_eq!(out.stdout.trim_end().len(), 2 << 20);
        assert!(!out.stdout_cut);
    }

    #[test]
    fn a_daemon_holding_our_pipes_does_not_block() {
        let t = Instant::now();
        let out = sh("(sleep 5 &) ; exit 0").output().unwrap();
        assert!(out.success());
        assert!(t.elapsed() < Duration::from_secs(3));
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
    #[ignore = "needs root to change users: scripts/test runs it (cargo test --lib -- --ignored)"]
    fn a_program_runs_as_the_user_it_is_given_without_our_groups() {
        let out = Cmd::new("sh")
            .args(["-c", "id -u; id -g; id -G"])
            .as_user(65534, 65534)
            .output()
            .unwrap();
        assert!(out.success(), "{}", out.tail());
        assert_eq!(out.stdout, "65534\n65534\n65534\n");
        let refused = Cmd::new("true")
            .as_user(65534, 65534)
            .bind_over(vec![("/tmp".into(), "/mnt".into())])
            .output();
        assert!(matches!(refused, Err(RunError::Spawn { .. })));
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
        assert!(matches!(err, RunError::Timeout { .. }), "{err}");
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
}
