//! Running independent pieces of an operation at once (one per component or file),
//! as a shell pipeline would on several cores, while the caller still sees one
//! stream of events. The first failure cancels the others.

use std::sync::mpsc;
use std::time::Duration;

use super::event::{Event, Sink};
use super::OpError;
use crate::cancel::Cancel;

/// Runs `work` for every item on its own thread and returns the results in order.
/// Workers get a cancel flag of their own, set when `cancel` is set or when any
/// worker fails; their events reach `on` on the calling thread.
pub fn each<I, T, F>(items: &[I], cancel: &Cancel, on: Sink, work: F) -> Result<Vec<T>, OpError>
where
    I: Sync,
    T: Send,
    F: Fn(&I, &Cancel, &mut dyn FnMut(Event)) -> Result<T, OpError> + Sync,
{
    let local = Cancel::new();
    let (tx, rx) = mpsc::channel::<Event>();
    let results: Vec<Result<T, OpError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .iter()
            .map(|item| {
                let (tx, local, work) = (tx.clone(), local.clone(), &work);
                scope.spawn(move || {
                    let r = work(item, &local, &mut |e| {
                        let _ = tx.send(e);
                    });
                    if r.is_err() {
                        local.cancel();
                    }
                    r
                })
            })
            .collect();
        drop(tx);
        // Forward events until every worker has hung up its sender.
        loop {
            if cancel.is_cancelled() {
                local.cancel();
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(e) => on(e),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(OpError::failed("internal error: a worker panicked")))
            })
            .collect()
    });
    // Report the failure that caused the others to stop, not their cancellation.
    let mut out = Vec::with_capacity(results.len());
    let mut cancelled = None;
    for r in results {
        match r {
            Ok(v) => out.push(v),
            Err(e @ OpError::Cancelled { .. }) => cancelled = Some(e),
            Err(e) => return Err(e),
        }
    }
    match cancelled {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_order_with_every_event() {
        let mut seen = Vec::new();
        let r = each(
            &[1u64, 2, 3],
            &Cancel::new(),
            &mut |e| seen.push(e),
            |n, _, on| {
                on(Event::Info(format!("item {n}")));
                Ok(n * 10)
            },
        )
        .unwrap();
        assert_eq!(r, [10, 20, 30]);
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn the_first_failure_wins_over_the_cancellations_it_caused() {
        let r = each(
            &[0u32, 1],
            &Cancel::new(),
            &mut |_| {},
            |n, cancel, _| -> Result<(), OpError> {
                if *n == 0 {
                    return Err(OpError::failed("disk full"));
                }
                while !cancel.is_cancelled() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(OpError::Cancelled {
                    detail: "stopped".into(),
                })
            },
        );
        assert_eq!(r.unwrap_err().to_string(), "disk full");
    }
}
