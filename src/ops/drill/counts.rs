//! Node and relationship counts of the copy's running Neo4j, through the
//! installation's `cypher-shell`, as the user Structr connects as.

use super::copy::{read_bounded, Copy, QUICK};
use crate::cancel::Cancel;
use crate::install::conf::parse_properties;
use crate::process::{Cmd, Output};
use crate::secrets::Secret;

/// Node and relationship counts through cypher-shell, with the user Structr
/// connects as (its password goes in the environment, never in argv).
pub(super) fn counts(
    c: &Copy,
    creds: Option<&(String, Secret)>,
    bolt: &str,
    db: &str,
    cancel: &Cancel,
) -> Result<(i64, i64), String> {
    let shell = c
        .bin
        .cypher_shell()
        .ok_or("no cypher-shell beside neo4j or in /usr/bin")?;
    both(|query| {
        let mut cmd = Cmd::new(&shell)
            .args([
                "-a",
                &format!("bolt://{bolt}"),
                "-d",
                db,
                "--format",
                "plain",
                query,
            ])
            .timeout(QUICK)
            .cancel(cancel);
        if let Some((user, password)) = creds {
            cmd = cmd
                .env("NEO4J_USERNAME", user)
                .env("NEO4J_PASSWORD", password.expose());
        }
        cmd.output().map_err(|e| e.to_string())
    })
}

/// Node and relationship counts, each asked with `ask` (a cypher-shell run
/// with `--format plain` and the query as its last argument).
pub(super) fn both(ask: impl Fn(&str) -> Result<Output, String>) -> Result<(i64, i64), String> {
    let count = |query: &str| -> Result<i64, String> {
        let out = ask(query)?;
        if !out.success() {
            return Err(format!("cypher-shell: {}", out.tail()));
        }
        out.stdout
            .lines()
            .rev()
            .find_map(|l| l.split(',').next()?.trim().parse().ok())
            .ok_or_else(|| format!("cypher-shell answered {:?}", out.stdout.trim()))
    };
    Ok((
        count("MATCH (n) RETURN count(n)")?,
        count("MATCH ()-[r]->() RETURN count(r)")?,
    ))
}

/// The user and password of Structr's active database connection, from the
/// copy's structr.conf.
pub(super) fn credentials(c: &Copy) -> Option<(String, Secret)> {
    let path = c.structr?.join("structr.conf");
    let p = parse_properties(&read_bounded(&path).ok()?);
    let active = p.get("nodeservice.active");
    let get = |key: &str| {
        active
            .and_then(|a| p.get(&format!("{a}.{key}")))
            .or_else(|| p.get(key))
    };
    let user = get("database.connection.username")?.clone();
    let password = Secret::new(get("database.connection.password")?.clone());
    Some((user, password))
}
