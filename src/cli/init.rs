//! `init`: the repository and the off-site targets.

use super::env::{Env, Result};
use crate::ops::{self};
use crate::outln;
use crate::repo::store::Store;

/// Creates the repository and the off-site targets. restic: `restic init`, with a
/// new random password file when there is none.
pub(super) fn init(env: &Env) -> Result<()> {
    for line in ops::init::create(&env.store, None)? {
        outln!("repository: {line}");
    }
    // Off-site restic repositories share the repository's chunking, so that
    // `restic copy` deduplicates.
    let like = match &env.store {
        Store::Restic(r) => Some(r),
        _ => None,
    };
    for o in &env.config.offsite {
        for line in ops::init::create(&Store::offsite(&env.config, o), like)? {
            outln!("off-site {}: {line}", o.name);
        }
    }
    Ok(())
}
