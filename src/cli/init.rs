//! `init`: the repository and the off-site targets.

use serde::Serialize;

use super::env::{Env, Result};
use crate::ops::{self};
use crate::outln;
use crate::repo::store::Store;
use crate::secrets::Location;

/// `init --json` (docs/json.md).
#[derive(Serialize)]
struct InitDoc<'a> {
    repository: Made<'a>,
    offsite: Vec<Made<'a>>,
}

/// One repository `init` made (or found made): what it did, in words.
#[derive(Serialize)]
struct Made<'a> {
    /// The off-site target's name; left out for the repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    location: Location,
    done: Vec<String>,
}

/// Creates the repository and the off-site targets. restic: `restic init`, with a
/// new random password file when there is none.
pub(super) fn init(env: &Env) -> Result<()> {
    let repository = Made {
        name: None,
        location: env.store.location(),
        done: ops::init::create(&env.store, None)?,
    };
    if !env.cli.json {
        for line in &repository.done {
            outln!("repository: {line}");
        }
    }
    // Off-site restic repositories share the repository's chunking, so that
    // `restic copy` deduplicates.
    let like = match &env.store {
        Store::Restic(r) => Some(r),
        _ => None,
    };
    let mut offsite = Vec::new();
    for o in &env.config.offsite {
        let store = Store::offsite(&env.config, o);
        let done = ops::init::create(&store, like)?;
        if !env.cli.json {
            for line in &done {
                outln!("off-site {}: {line}", o.name);
            }
        }
        offsite.push(Made {
            name: Some(&o.name),
            location: store.location(),
            done,
        });
    }
    match env.cli.json {
        true => env.print_json(&InitDoc {
            repository,
            offsite,
        }),
        false => Ok(()),
    }
}
