//! `demo`.

use super::env::{Env, Failure, Result};
use crate::config::{self};
use crate::ops::exit::Exit;
use crate::outln;
use crate::repo::store::Store;

pub(super) fn demo(env: &Env, clean: bool, store_mb: u32) -> Result<()> {
    let demo = crate::demo::Demo::new();
    let fail = |e: crate::demo::DemoError| Failure {
        exit: Exit::Failed,
        message: e.to_string(),
    };
    if clean {
        demo.clean().map_err(fail)?;
        outln!("demo removed ({})", demo.root.display());
        return Ok(());
    }
    demo.ensure(store_mb).map_err(fail)?;
    let cfg = demo.config_path();
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
