//! The stand-in Structr's graph in a real Neo4j (over Bolt): a `:File` node per
//! file under `files/`, keyed by its id, in a `:Folder` node per first two
//! characters of the id (relationships, as Structr's folders have), with a
//! uniqueness constraint on each key (an index in the store). Every write is
//! idempotent: a request retried after a lost answer changes nothing twice.

use std::collections::BTreeSet;
use std::io;

use super::bolt::{Client, Value};

pub fn schema(c: &mut Client) -> io::Result<()> {
    for q in [
        "CREATE CONSTRAINT file_id IF NOT EXISTS FOR (f:File) REQUIRE f.id IS UNIQUE",
        "CREATE CONSTRAINT folder_path IF NOT EXISTS FOR (d:Folder) REQUIRE d.path IS UNIQUE",
    ] {
        c.run(q, vec![])?;
    }
    Ok(())
}

/// Every file id the database records.
pub fn list(c: &mut Client) -> io::Result<Vec<String>> {
    c.run("MATCH (f:File) RETURN f.id", vec![])?
        .into_iter()
        .map(|r| match r.first() {
            Some(Value::String(id)) => Ok(id.clone()),
            other => Err(io::Error::other(format!(
                "a :File without an id: {other:?}"
            ))),
        })
        .collect()
}

pub fn ids(c: &mut Client) -> io::Result<BTreeSet<String>> {
    Ok(list(c)?.into_iter().collect())
}

pub fn create(c: &mut Client, id: &str, size: u64) -> io::Result<()> {
    let folder: String = id.chars().take(2).collect();
    c.run(
        "MERGE (d:Folder {path: $folder}) MERGE (f:File {id: $id}) \
         SET f.size = $size, f.name = $id MERGE (d)-[:CONTAINS]->(f)",
        vec![
            ("folder", Value::String(format!("/{folder}"))),
            ("id", id.into()),
            ("size", Value::Int(size as i64)),
        ],
    )?;
    Ok(())
}

pub fn delete(c: &mut Client, id: &str) -> io::Result<()> {
    c.run(
        "MATCH (f:File {id: $id}) DETACH DELETE f",
        vec![("id", id.into())],
    )?;
    Ok(())
}
