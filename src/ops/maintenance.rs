//! The maintenance page around a window (see `install::maintenance`): put up
//! right after Structr is stopped, taken down right before it starts. Its
//! `Retry-After` comes from how long this installation's last window of the same
//! operation took, which each window records in the state folder.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use super::event::{Event, Sink};
use super::state;
use crate::install::maintenance::{self, Guard};
use crate::install::Installation;

/// The page is served while this lives.
pub struct Page {
    guard: Guard,
}

/// Puts the page up if the installation has one; a port that cannot be bound
/// (someone else's) is left alone with a warning.
pub fn open(inst: &Installation, operation: &str, since: Instant, on: Sink) -> Option<Page> {
    let spec = inst.maintenance.as_ref()?;
    let expected = last_downtime(inst, operation).unwrap_or(spec.default_retry);
    let until = SystemTime::now() + expected.saturating_sub(since.elapsed());
    let (html, warning) = spec.html(until);
    if let Some(w) = warning {
        on(Event::Warning(w));
    }
    match maintenance::serve(spec.addr, spec.port, html, until) {
        Ok(guard) => {
            on(Event::Info(format!(
                "maintenance page up on {}:{} (503, Retry-After about {} s) while Structr is stopped",
                spec.addr,
                guard.port(),
                expected.as_secs().max(5)
            )));
            Some(Page { guard })
        }
        Err(e) => {
            on(Event::Warning(format!(
                "no maintenance page: port {} on {} cannot be used ({e}); it is left to whatever holds it. Set [maintenance] enabled = false to silence this",
                spec.port, spec.addr
            )));
            None
        }
    }
}

/// Takes the page down; the port is free when this returns.
pub fn close(page: Page, on: Sink) {
    let port = page.guard.port();
    drop(page);
    on(Event::Info(format!(
        "maintenance page on port {port} taken down; the port is free for Structr"
    )));
}

fn record_path(inst: &Installation, operation: &str) -> PathBuf {
    let op: String = operation
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    state::state_dir().join(format!("{}.{op}.downtime", inst.key()))
}

/// The downtime of this installation's last window of `operation`, if recorded.
pub fn last_downtime(inst: &Installation, operation: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(record_path(inst, operation)).ok()?;
    let secs: f64 = text.trim().parse().ok()?;
    // A planted or damaged record must not make a silly header.
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// Records a finished window's downtime for the next one's `Retry-After`
/// (best effort: a state folder that cannot be written only loses the hint).
pub fn record_downtime(inst: &Installation, operation: &str, downtime: Duration) {
    let path = record_path(inst, operation);
    if let Some(dir) = path.parent() {
        if state::private_dir(dir).is_err() {
            return;
        }
    }
    let text = format!("{:.1}\n", downtime.as_secs_f64());
    let _ = crate::repo::files::write_file_atomic(&path, text.as_bytes());
}
