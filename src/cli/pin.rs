//! `pin` and `unpin`.

use super::env::{Env, Result};
use crate::ops::{self};
use crate::outln;

pub(super) fn pin(env: &Env, id: &str, pinned: bool) -> Result<()> {
    let id = &env.id(id)?;
    ops::pin::set(env.reading(), id, pinned)?;
    outln!("{id} {}", if pinned { "pinned" } else { "unpinned" });
    Ok(())
}
