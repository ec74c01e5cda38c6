//! A cancellation flag shared between a running operation and whoever may stop it
//! (Ctrl-C, SIGTERM, the TUI). Long loops check it between chunks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The flag itself, for signal handlers that set it directly.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}
