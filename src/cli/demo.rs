//! `demo`.

use std::path::Path;

use serde::Serialize;

use super::env::{Env, Failure, Result};
use crate::config::{self};
use crate::ops::exit::Exit;
use crate::outln;
use crate::repo::store::Store;

/// `demo --json` (docs/json.md): where the demo is, or that it was removed.
#[derive(Serialize)]
struct DemoDoc<'a> {
    root: &'a Path,
    /// The demo's own config, to pass with `--config`; null once removed.
    config: Option<&'a Path>,
    removed: bool,
}

pub(super) fn demo(env: &Env, clean: bool, store_mb: Option<u32>) -> Result<()> {
    let demo = crate::demo::Demo::new();
    let fail = |e: crate::demo::DemoError| Failure {
        exit: Exit::Failed,
        message: e.to_string(),
    };
    if clean {
        demo.clean().map_err(fail)?;
        if env.cli.json {
            return env.print_json(&DemoDoc {
                root: &demo.root,
                config: None,
                removed: true,
            });
        }
        outln!("demo removed ({})", demo.root.display());
        return Ok(());
    }
    demo.ensure(store_mb).map_err(fail)?;
    let cfg = demo.config_path();
    if env.cli.json {
        return env.print_json(&DemoDoc {
            root: &demo.root,
            config: Some(&cfg),
            removed: false,
        });
    }
    if super::wizard::interactive() {
        let (config, _) = config::load(Some(&cfg))?;
        crate::ops::state::keep_state_as_configured(&config);
        let store = Store::from_config(&config, None);
        return super::wizard::wizard(&config, store, &env.cancel);
    }
    let me = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "structr-backup".into());
    outln!(
        "The demo installation runs in {} (stand-in Neo4j and Structr).",
        demo.root.display()
    );
    outln!("Try it with its own config:\n");
    for cmd in [
        "detect",
        "backup --label first",
        "list",
        "verify --all --deep",
        "prune --dry-run",
        "restore <ID>",
    ] {
        outln!("  {me} --config {} {cmd}", cfg.display());
    }
    outln!("\nRemove it with: {me} demo --clean");
    Ok(())
}
