//! `pin` and `unpin`.

use serde::Serialize;

use super::env::{Env, Result};
use crate::ops::{self};
use crate::outln;

/// `pin --json`, `unpin --json` (docs/json.md).
#[derive(Serialize)]
struct PinDoc<'a> {
    id: &'a str,
    pinned: bool,
}

pub(super) fn pin(env: &Env, id: &str, pinned: bool) -> Result<()> {
    let id = &env.id(id)?;
    ops::pin::set(env.reading(), id, pinned)?;
    if env.cli.json {
        env.print_json(&PinDoc { id, pinned })?;
    } else {
        outln!("{id} {}", if pinned { "pinned" } else { "unpinned" });
    }
    Ok(())
}
