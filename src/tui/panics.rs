//! Panics while the wizard owns the terminal. A report printed then would land on
//! the full-screen view (or, with the terminal gone, fail and abort the process
//! while a job has services stopped), so the wizard records reports instead and
//! turns them into the failure of whatever panicked: a job, a fact, the screen.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::Mutex;

type Hook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// The last report recorded, from any thread: a job's own thread, or a worker the
/// job started, whose panic reaches the job only as a generic error.
static LAST: Mutex<Option<String>> = Mutex::new(None);

/// While alive, panics are recorded rather than printed; the previous hook (the
/// readable reports of `main`) comes back on drop.
pub struct Recording {
    previous: Option<Hook>,
}

impl Recording {
    pub fn start() -> Recording {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(|info| {
            let report = format!("{} at {}", message(info.payload()), location(info));
            if let Ok(mut last) = LAST.lock() {
                *last = Some(report);
            }
        }));
        Recording {
            previous: Some(previous),
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            let _ = panic::take_hook();
            panic::set_hook(previous);
        }
    }
}

fn location(info: &PanicHookInfo<'_>) -> String {
    info.location()
        .map_or_else(|| "an unknown place".into(), |l| l.to_string())
}

/// The text a panic was raised with.
pub fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".into()
    }
}

/// Takes the recorded report, so it is told once.
pub fn take_report() -> Option<String> {
    LAST.lock().ok().and_then(|mut last| last.take())
}

/// An error that can tell of a panic: its own, or a worker's behind it.
pub trait Report {
    /// This error, caused by a worker that panicked with `report`.
    fn with_report(self, report: String) -> Self;
    /// The error of a panic (`report` says where and why).
    fn internal(report: String) -> Self;
}

impl Report for String {
    fn with_report(self, report: String) -> Self {
        format!("{self} ({report})")
    }

    fn internal(report: String) -> Self {
        format!("internal error: {report}")
    }
}

/// Runs `work`; a panic in it becomes an `internal error` failure, and a failure
/// caused by a panicking worker carries that worker's report.
pub fn caught<T, E: Report>(work: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let outcome = panic::catch_unwind(AssertUnwindSafe(work));
    let report = take_report();
    match outcome {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(match report {
            Some(r) => e.with_report(r),
            None => e,
        }),
        Err(payload) => Err(E::internal(
            report.unwrap_or_else(|| message(payload.as_ref())),
        )),
    }
}
