//! Every line the command line prints goes through here, and nothing here panics.
//!
//! `println!` panics when stdout is a closed pipe (`structr-backup list | head -1`),
//! and resetting SIGPIPE to its default would let the kernel kill a backup that
//! logs into a closed pipe while the services are stopped. So SIGPIPE stays
//! ignored, a write fails with EPIPE, and we note it and carry on: the command
//! finishes its work, and `main` exits with the command's own status.

use std::fmt;
use std::io::{self, ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// The run's secret-bearing values (`notify::Secrets`), set once the config is
/// read: every line printed is scrubbed of them, whatever message quoted one.
static SECRETS: OnceLock<crate::secrets::Secrets> = OnceLock::new();

/// `-q`: lines that only inform (see [`Priority::of`]) are not printed on stderr,
/// nor on stdout when [`QUIET_STDOUT`] is set too.
static QUIET: AtomicBool = AtomicBool::new(false);
/// `-q` on a command whose stdout reports what it did (not one asked to show something).
static QUIET_STDOUT: AtomicBool = AtomicBool::new(false);
/// `-v`: each program run is shown (see [`shown_run`]).
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// `-q`: from now on only warnings and errors are printed, and on stdout also
/// everything when `keep_stdout` (the command was asked to show something).
pub fn quiet(keep_stdout: bool) {
    QUIET.store(true, Ordering::SeqCst);
    QUIET_STDOUT.store(!keep_stdout, Ordering::SeqCst);
}

pub fn is_quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// `-v`: from now on every program run (service commands, restic, rclone, mail)
/// is shown on stderr as its command line, with secret-looking values hidden.
pub fn verbose() {
    VERBOSE.store(true, Ordering::SeqCst);
    crate::process::show_runs(shown_run);
}

pub fn is_verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// One program run, as `-v` shows it (`command` is redacted by the runner).
fn shown_run(command: &str) {
    stderr_at(Priority::Info, format_args!("run: {command}"));
}

/// Set once a write to stdout failed: later output is dropped unwritten.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
/// Whether this run printed its JSON document: `--json` prints exactly one, so a
/// failure after it (a verification that found damage) adds none.
static JSON_PRINTED: AtomicBool = AtomicBool::new(false);

/// Notes that the run's one JSON document was printed.
pub fn json_printed() {
    JSON_PRINTED.store(true, Ordering::SeqCst);
}

/// Whether the run's JSON document was printed already.
pub fn printed_json() -> bool {
    JSON_PRINTED.load(Ordering::SeqCst)
}
/// The first failure other than a closed pipe (a full disk behind `> file`):
/// the output is incomplete and the caller must hear of it through the exit status.
static STDOUT_FAILURE: OnceLock<String> = OnceLock::new();

/// Prints on stdout; see [`outln!`](crate::outln).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::stdout(format_args!($($arg)*), false)
    };
}

/// `println!` that does not panic on a closed or failing stdout.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::cli::output::stdout(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::cli::output::stdout(format_args!($($arg)*), true)
    };
}

/// `eprintln!` that does not panic on a closed or failing stderr. The line's
/// syslog priority (for the journal) follows from how it begins: `error` is an
/// error, `warning` a warning, anything else information; see [`errln_at!`](crate::errln_at).
#[macro_export]
macro_rules! errln {
    () => {
        $crate::cli::output::stderr(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::stderr(format_args!($($arg)*))
    };
}

/// [`errln!`](crate::errln) with an explicit syslog priority.
#[macro_export]
macro_rules! errln_at {
    ($priority:expr, $($arg:tt)*) => {
        $crate::cli::output::stderr_at($priority, format_args!($($arg)*))
    };
}

/// From now on, nothing printed shows any of `secrets` (set once; later calls
/// are ignored).
pub fn hide(secrets: crate::secrets::Secrets) {
    let _ = SECRETS.set(secrets);
}

fn scrubbed(text: String) -> String {
    match SECRETS.get() {
        Some(s) => s.scrub(&text),
        None => text,
    }
}

pub fn stdout(args: fmt::Arguments<'_>, newline: bool) {
    let text = args.to_string();
    if QUIET_STDOUT.load(Ordering::Relaxed) && Priority::of(&text) == Priority::Info {
        return;
    }
    write_stdout(text, newline);
}

/// A question asked on stdout: printed even with `-q`, or no one could answer it.
pub fn prompt(args: fmt::Arguments<'_>, newline: bool) {
    write_stdout(args.to_string(), newline);
}

fn write_stdout(text: String, newline: bool) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let text = scrubbed(text);
    let mut out = io::stdout().lock();
    let mut result = out.write_all(text.as_bytes());
    if newline && result.is_ok() {
        result = out.write_all(b"\n");
    }
    if let Err(e) = result {
        stdout_failed(e);
    }
}

/// Flushes stdout (a prompt without a newline, or the end of the run), noting a failure.
pub fn flush() {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = io::stdout().lock().flush() {
        stdout_failed(e);
    }
}

fn stdout_failed(e: io::Error) {
    STDOUT_GONE.store(true, Ordering::Relaxed);
    // The reader went away on purpose (`| head`): not worth a word or a status.
    if e.kind() != ErrorKind::BrokenPipe {
        let _ = STDOUT_FAILURE.set(e.to_string());
    }
}

/// Why stdout could not be written, unless it was only closed by its reader.
pub fn stdout_failure() -> Option<String> {
    STDOUT_FAILURE.get().cloned()
}

/// How much a line on stderr matters, as syslog numbers it (sd-daemon(3)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    Error = 3,
    Warning = 4,
    Info = 6,
}

impl Priority {
    /// The priority a line announces with its first word: our errors begin with
    /// `error`, warnings with `warning` or `WARNING`, failed steps with `FAILED`.
    pub fn of(line: &str) -> Self {
        let word = line
            .trim_start()
            .get(..7)
            .unwrap_or("")
            .to_ascii_lowercase();
        if word.starts_with("error") || word.starts_with("failed") {
            Priority::Error
        } else if word.starts_with("warning") {
            Priority::Warning
        } else {
            Priority::Info
        }
    }
}

/// One line on stderr; its priority follows from its first word (see [`Priority::of`]).
pub fn stderr(args: fmt::Arguments<'_>) {
    let text = args.to_string();
    stderr_at(Priority::of(&text), format_args!("{text}"));
}

/// One line on stderr, written at once (stderr is unbuffered), errors ignored:
/// with stderr gone there is nowhere left to report them. When stderr is the
/// journal, every line of it carries the priority as an sd-daemon prefix
/// (`<4>`), which journald strips and records as PRIORITY, so
/// `journalctl -p warning` finds our warnings and errors.
pub fn stderr_at(priority: Priority, args: fmt::Arguments<'_>) {
    if priority == Priority::Info && is_quiet() {
        return;
    }
    let text = scrubbed(args.to_string());
    let bytes = if stderr_is_journal() {
        prefixed(priority, &text)
    } else {
        format!("{text}\n")
    };
    let _ = io::stderr().lock().write_all(bytes.as_bytes());
}

/// Each line of `text` with the `<N>` prefix: journald reads every line as a
/// record of its own, so a multi-line message needs it on each.
fn prefixed(priority: Priority, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split('\n') {
        out.push_str(&format!("<{}>{line}\n", priority as u8));
    }
    out
}

/// Whether stderr is connected to the journal. systemd sets JOURNAL_STREAM to
/// the `device:inode` of the stream it gave a service; the variable is inherited
/// by children whose stderr may point elsewhere (`2>file`), so it only counts
/// when stderr is that very stream (systemd.exec(5), "JOURNAL_STREAM").
pub fn stderr_is_journal() -> bool {
    static IS_JOURNAL: OnceLock<bool> = OnceLock::new();
    *IS_JOURNAL.get_or_init(|| {
        let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
            return false;
        };
        let Ok(stat) = nix::sys::stat::fstat(io::stderr()) else {
            return false;
        };
        journal_stream_matches(&value.to_string_lossy(), stat.st_dev, stat.st_ino)
    })
}

/// Whether a JOURNAL_STREAM value (`device:inode`, both decimal) names this file.
fn journal_stream_matches(value: &str, dev: libc::dev_t, ino: libc::ino_t) -> bool {
    let Some((d, i)) = value.trim().split_once(':') else {
        return false;
    };
    d.parse::<libc::dev_t>() == Ok(dev) && i.parse::<libc::ino_t>() == Ok(ino)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_follows_the_first_word() {
        assert_eq!(Priority::of("error: no repository"), Priority::Error);
        assert_eq!(
            Priority::of("[03:15:00] FAILED: stop neo4j"),
            Priority::Info
        );
        assert_eq!(Priority::of("FAILED: stop neo4j"), Priority::Error);
        assert_eq!(Priority::of("WARNING: a run left"), Priority::Warning);
        assert_eq!(Priority::of("warning: low space"), Priority::Warning);
        assert_eq!(Priority::of("plan: stop"), Priority::Info);
        assert_eq!(Priority::of("é"), Priority::Info);
    }

    #[test]
    fn every_line_carries_the_prefix() {
        assert_eq!(prefixed(Priority::Warning, "a\nb"), "<4>a\n<4>b\n");
        assert_eq!(prefixed(Priority::Error, "x"), "<3>x\n");
    }

    #[test]
    fn journal_stream_is_device_and_inode() {
        assert!(journal_stream_matches("8:12345", 8, 12345));
        assert!(!journal_stream_matches("8:12345", 8, 1));
        assert!(!journal_stream_matches("8", 8, 12345));
        assert!(!journal_stream_matches("x:y", 8, 12345));
    }
}
