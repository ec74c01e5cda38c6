//! Asking a person at a terminal before something destructive.

use std::io::BufRead;
use std::time::Duration;

use super::output;
use crate::cancel::Cancel;

/// The person's answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// Ctrl-C (or SIGTERM) while the question was asked: at once, not at Enter.
    Cancelled,
}

/// With `typed`, the person must type that exact text (e.g. the generation id);
/// otherwise a plain yes. Anything else, or end of input, means no.
pub fn ask(what: &str, typed: Option<&str>, cancel: &Cancel) -> Answer {
    let prompt = match typed {
        Some(t) => format!("To {what}, type {t} and press Enter (anything else cancels): "),
        None => format!("{what}? Type yes to continue: "),
    };
    output::prompt(format_args!("{prompt}"), false);
    output::flush();
    // The terminal hands over a line at Enter; until then the cancel flag (set by
    // our SIGINT handler) is looked at ten times a second.
    loop {
        if cancel.is_cancelled() {
            output::prompt(format_args!(""), true);
            return Answer::Cancelled;
        }
        if line_ready(Duration::from_millis(100)) {
            break;
        }
    }
    let mut answer = String::new();
    match std::io::stdin().lock().read_line(&mut answer) {
        Ok(_) if answer.trim() == typed.unwrap_or("yes") => Answer::Yes,
        _ => Answer::No,
    }
}

/// Whether stdin has input (or its end) within `timeout`.
fn line_ready(timeout: Duration) -> bool {
    let mut fds = [libc::pollfd {
        fd: libc::STDIN_FILENO,
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, timeout.as_millis() as libc::c_int) };
    n > 0 && fds[0].revents != 0
}
