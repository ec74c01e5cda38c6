//! Recovery after an interrupted run (killed, power loss): put back folders a restore
//! was swapping, start the services the journal lists as stopped by us, and remove
//! leftovers of unfinished generations.

use super::event::{Event, Sink};
use super::journal::{self, Journal};
use super::restore::undo_swap;
use super::window::{Closing, Window};
use super::{Context, OpError};
use crate::repo::lock;

#[derive(Debug)]
pub struct Outcome {
    /// None when there was nothing to recover.
    pub record: Option<journal::Record>,
    pub closing: Closing,
}

pub fn run(ctx: &Context, on: Sink) -> Result<Outcome, OpError> {
    let _lock = lock::acquire(&ctx.repo.root, "recover")?;
    let Some(record) = journal::interrupted(&ctx.repo.root) else {
        for p in ctx.repo.clean_leftovers()? {
            on(Event::Info(format!("removed {}", p.display())));
        }
        return Ok(Outcome {
            record: None,
            closing: Closing::default(),
        });
    };
    on(Event::Info(record.describe()));
    let mut j = Journal::resume(&ctx.repo.root, record.clone());
    for s in record.swaps.iter().rev() {
        let discard = std::path::PathBuf::from(format!("{}.restore-failed", s.target.display()));
        undo_swap(&s.target, &s.kept, &discard).map_err(OpError::failed)?;
        on(Event::Info(format!(
            "put the previous {} back",
            s.target.display()
        )));
    }
    if !record.swaps.is_empty() {
        j.set_swaps(Vec::new())?;
    }
    let mut window = Window::resume(ctx.inst, j);
    let closing = window.close(on);
    for p in ctx.repo.clean_leftovers()? {
        on(Event::Info(format!("removed {}", p.display())));
    }
    if !closing.all_running() {
        return Err(OpError::failed(closing.aftermath()));
    }
    Ok(Outcome {
        record: Some(record),
        closing,
    })
}
