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

/// Set once a write to stdout failed: later output is dropped unwritten.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
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

/// `eprintln!` that does not panic on a closed or failing stderr.
#[macro_export]
macro_rules! errln {
    () => {
        $crate::cli::output::stderr(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::stderr(format_args!($($arg)*))
    };
}

pub fn stdout(args: fmt::Arguments<'_>, newline: bool) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = io::stdout().lock();
    let mut result = out.write_fmt(args);
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

/// One line on stderr, written at once (stderr is unbuffered), errors ignored:
/// with stderr gone there is nowhere left to report them.
pub fn stderr(args: fmt::Arguments<'_>) {
    let line = format!("{args}\n");
    let _ = io::stderr().lock().write_all(line.as_bytes());
}
