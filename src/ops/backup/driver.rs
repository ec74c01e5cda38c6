//! The one cold backup: begin → plan → preflight → prepare → stop → copy →
//! start → work on the copy → publish. Whatever fails after the first stop, the
//! services are started again (the window is a guard) and the copier removes
//! what it half-made. Services found stopped stay stopped; the manifest says so.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::copier::{Copier, Finished, Head};
use crate::ops::archiving::guarded;
use crate::ops::event::{Event, Sink, Step};
use crate::ops::window::{self, start_steps, stop_steps, Closing, Window};
use crate::ops::{app_export, compat, offsite, refuse_if_cancelled, Context, OpError};
use crate::repo::manifest::Manifest;

/// Runs one cold backup with `copier`.
pub fn cold(
    ctx: &Context,
    copier: &mut dyn Copier,
    label: &str,
    on: Sink,
) -> Result<(Manifest, Closing), OpError> {
    copier.begin(ctx, on)?;
    let shape = match copier.shape(ctx) {
        Ok(s) => s,
        Err(e) => {
            on(Event::Started(Step::Preflight));
            on(Event::Failed(Step::Preflight, e.to_string()));
            return Err(e);
        }
    };
    let found_stopped = window::found_stopped(ctx.inst);
    let mut plan = vec![Step::Preflight];
    if shape.app_export {
        plan.extend(app_export::plan_step(ctx));
    }
    plan.extend(stop_steps(ctx.inst));
    plan.extend(shape.while_stopped);
    plan.extend(start_steps(ctx.inst, &found_stopped));
    plan.extend(shape.after_start);
    plan.push(shape.last);
    if shape.offsite {
        plan.extend(offsite::steps(ctx));
    }
    on(Event::Plan(plan));
    if !found_stopped.is_empty() {
        on(Event::Warning(format!(
            "already stopped: {}. The copy is taken with it stopped, and it is left stopped afterwards",
            found_stopped.join(", ")
        )));
    }
    copier.preflight(ctx, on)?;

    let started = Instant::now();
    let created = Utc::now();
    let head = Head {
        id: copier.new_id(created),
        created,
        label,
    };
    if let Err(e) = copier
        .prepare(ctx, &head, on)
        .and_then(|()| refuse_if_cancelled(&ctx.cancel))
    {
        copier.abort(on);
        return Err(e);
    }

    let mut window = Window::new(ctx.inst, "backup");
    let mut copying = Duration::ZERO;
    let mut neo4j_kernel = Default::default();
    let stopped = window.stop_all(on).and_then(|()| {
        // The store is at rest now: what it says of its version is final.
        neo4j_kernel = compat::store_kernel(ctx.inst, on);
        let t = Instant::now();
        let r = guarded(|| copier.while_stopped(ctx, on));
        copying += t.elapsed();
        r
    });
    let closing = window.close(on);
    let copied = stopped.and_then(|()| {
        let t = Instant::now();
        let r = guarded(|| copier.after_start(ctx, on));
        copying += t.elapsed();
        r
    });
    if let Err(e) = copied {
        copier.abort(on);
        let aftermath = format!("{} No generation was written.", closing.aftermath());
        return Err(OpError::in_window(
            &e,
            &aftermath,
            ctx.cancel.is_cancelled(),
        ));
    }

    let run = Finished {
        timings: window.timings(started, copying.as_secs_f64()),
        services_already_stopped: window.found_stopped().to_vec(),
        neo4j_kernel,
    };
    let manifest = match copier.publish(ctx, &head, run, on) {
        Ok(m) => m,
        Err(e) => {
            copier.abort(on);
            return Err(e);
        }
    };
    if !closing.all_running() {
        return Err(OpError::failed(format!(
            "generation {} was written, but: {}",
            manifest.id,
            closing.aftermath()
        )));
    }
    Ok((manifest, closing))
}
