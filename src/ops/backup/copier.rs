//! What differs between the ways of taking a cold backup. The driver
//! (`driver.rs`) owns what they share: the locks' order, the plan, the window
//! (stop, then start whatever happens), the cancel check before the first stop,
//! and the "written, but a service is down" ending. A copier supplies the rest.

use chrono::{DateTime, Utc};

use crate::ops::event::{Sink, Step};
use crate::ops::{Context, OpError};
use crate::repo::manifest::{Manifest, Timings};

/// The steps a copier adds to the plan.
pub struct Shape {
    /// While the services are stopped (copy, clone, snapshot).
    pub while_stopped: Vec<Step>,
    /// Once they run again, before the generation is published (compress a clone).
    pub after_start: Vec<Step>,
    /// The last step of the copier (publish, or restic's retag).
    pub last: Step,
    /// Whether Structr's application export is taken before the stop.
    pub app_export: bool,
    /// Whether the generation is copied to the `[[offsite]]` targets afterwards
    /// (a snapshot kept by a hypervisor has nothing here to copy).
    pub offsite: bool,
}

/// The new generation's name and its user's words.
pub struct Head<'a> {
    pub id: String,
    pub created: DateTime<Utc>,
    pub label: &'a str,
}

/// One way of copying the installation while the services are stopped, into
/// one kind of repository. The driver calls the methods in this order; after
/// `prepare` succeeded, a failure anywhere is followed by `abort`.
pub trait Copier {
    /// Locks and leftovers, before anything else.
    fn begin(&mut self, ctx: &Context, on: Sink) -> Result<(), OpError>;
    /// The steps; decided before the plan is shown, so an error here refuses the
    /// backup before anything is checked or stopped (LVM finds its volumes).
    fn shape(&mut self, ctx: &Context) -> Result<Shape, OpError>;
    /// The checks before anything stops, reported as the preflight step.
    fn preflight(&mut self, ctx: &Context, on: Sink) -> Result<(), OpError>;
    /// A new generation id, unused in the repository.
    fn new_id(&self, created: DateTime<Utc>) -> String;
    /// While the services still run: the unfinished generation, the application
    /// export, anything written ahead so that a failure costs no downtime.
    fn prepare(&mut self, ctx: &Context, head: &Head, on: Sink) -> Result<(), OpError>;
    /// The copy, while the services are stopped and the store lock is released.
    fn while_stopped(&mut self, ctx: &Context, on: Sink) -> Result<(), OpError>;
    /// Work on that copy once the services run again.
    fn after_start(&mut self, ctx: &Context, on: Sink) -> Result<(), OpError>;
    /// Makes the copy a generation; `run` carries what the driver measured.
    fn publish(
        &mut self,
        ctx: &Context,
        head: &Head,
        run: Finished,
        on: Sink,
    ) -> Result<Manifest, OpError>;
    /// Removes whatever a failed run left half-made; nothing is published.
    fn abort(&mut self, on: Sink);
}

/// What the driver measured of the window.
pub struct Finished {
    pub timings: Timings,
    pub services_already_stopped: Vec<String>,
    /// The kernel version of each Neo4j database, read from the store in the
    /// window (`compat::store_kernel`); empty when it could not be read.
    pub neo4j_kernel: std::collections::BTreeMap<String, String>,
}
