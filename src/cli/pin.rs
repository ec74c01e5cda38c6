//! `pin` and `unpin`.

use super::env::{Env, Result};
use crate::ops::{self};
use crate::outln;

pub(super) fn pin(env: &Env, id: &str, pinned: bool) -> Result<()> {
    let id = &env.id(id)?;
    ops::pin::set(env.reading(), id, pinned)?;
    if env.cli.json {
        env.print_json(serde_json::json!({ "id": id, "pinned": pinned }));
    } else {
        outln!("{id} {}", if pinned { "pinned" } else { "unpinned" });
    }
    Ok(())
}
