//! The invariant between the two stand-ins, checked offline: the ids in the
//! Neo4j node store (or a real Neo4j's `:File` nodes) are exactly the files under
//! Structr's `files/`.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use super::{bolt, graph};

use super::neo4j::{nodes_path, read_nodes};

fn file_ids(dir: &Path, out: &mut BTreeSet<String>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // a write in progress when the process was killed
        }
        if entry.file_type()?.is_dir() {
            file_ids(&entry.path(), out)?;
        } else {
            out.insert(name);
        }
    }
    Ok(())
}

/// The ids the database records: the stand-in's node store, or a real Neo4j's
/// `:File` nodes over Bolt.
fn recorded(data: Option<&Path>, bolt_neo4j: Option<&str>) -> std::io::Result<BTreeSet<String>> {
    match (data, bolt_neo4j) {
        (_, Some(addr)) => {
            let mut c = bolt::Client::connect(addr, bolt::Auth::None, Duration::from_secs(10))
                .map_err(|e| std::io::Error::other(format!("connect to Neo4j at {addr}: {e}")))?;
            let ids = graph::ids(&mut c)?;
            c.close();
            Ok(ids)
        }
        (Some(data), None) => read_nodes(&nodes_path(data)),
        (None, None) => Err(std::io::Error::other("check needs --data or --bolt-neo4j")),
    }
}

pub fn run(data: Option<&Path>, bolt_neo4j: Option<&str>, dir: &Path) -> std::io::Result<i32> {
    let nodes = recorded(data, bolt_neo4j)?;
    let mut files = BTreeSet::new();
    file_ids(&dir.join("files"), &mut files)?;
    let orphans: Vec<&String> = files.difference(&nodes).collect();
    let missing: Vec<&String> = nodes.difference(&files).collect();
    if orphans.is_empty() && missing.is_empty() {
        println!("ok: {} nodes, {} files", nodes.len(), files.len());
        return Ok(0);
    }
    for id in orphans.iter().take(20) {
        println!("file without node: {id}");
    }
    for id in missing.iter().take(20) {
        println!("node without file: {id}");
    }
    println!(
        "inconsistent: {} files without node, {} nodes without file",
        orphans.len(),
        missing.len()
    );
    Ok(1)
}
