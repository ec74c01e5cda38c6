//! What both stand-in services do as processes: stop on SIGTERM (or refuse to,
//! to play a service that will not stop) and write small files atomically.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The flag SIGTERM/SIGINT set; with `ignore_term`, SIGTERM is ignored (a service
/// that will not stop).
pub(super) fn term_flag(ignore_term: bool) -> std::io::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, flag.clone())?;
    if ignore_term {
        // SAFETY: setting a signal to be ignored has no handler to be unsafe about.
        unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
    } else {
        signal_hook::flag::register(signal_hook::consts::SIGTERM, flag.clone())?;
    }
    Ok(flag)
}

pub(super) fn stopping(flag: &AtomicBool) -> bool {
    flag.load(Ordering::SeqCst)
}

/// Writes a small file atomically (tmp + rename).
pub(super) fn write_atomic(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(tmp, path)
}
