//! A graph of a given size written into a real Neo4j over Bolt, and a day of
//! writes on it, for the real-store benchmark (`scripts/bench --real-store`):
//! `:Item` nodes (a third also `:File`, a third `:Page`) with a Structr-like id,
//! a short name, a text body of 800 to 2,400 bytes (so the dynamic string store
//! grows), integers, a float and a date-time; `:LINKS` relationships with a
//! weight and a date-time; a range index on `uid` and a text index on `name`
//! (the token lookup indexes Neo4j makes itself). Rows go in UNWIND batches, one
//! transaction per batch. Everything follows from the seed and the round, so a
//! day of writes is the same on every file system and in every run.

use std::io;
use std::time::{Duration, Instant};

use super::bolt::{Auth, Client, Value};
use super::fill::text;
use super::rng::Rng;

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The Neo4j's Bolt address (HOST:PORT, auth off)
    #[arg(long, default_value = "127.0.0.1:7687")]
    bolt: String,
    /// About how many MiB the store and its indexes take on disk
    #[arg(long)]
    size_mb: u64,
}

#[derive(Debug, clap::Args)]
pub struct DayArgs {
    /// The Neo4j's Bolt address (HOST:PORT, auth off)
    #[arg(long, default_value = "127.0.0.1:7687")]
    bolt: String,
    /// Which day: each round touches other nodes
    #[arg(long)]
    round: u64,
    /// Percent of the nodes whose properties are updated
    #[arg(long, default_value_t = 3)]
    percent: u64,
}

/// Bytes on disk per node with its share of relationships, properties and
/// index entries (store and indexes, not the transaction logs), a little
/// under what Neo4j 5.26 takes (2,230: 933,688 nodes made 1,988 MiB), so that
/// `--size-mb` becomes a node count whose store is at least that large.
const BYTES_PER_NODE: u64 = 2_150;
/// Rows per transaction: large enough that Bolt round trips do not dominate,
/// small enough for a 1 GiB heap.
const BATCH: usize = 1_000;
/// Relationships each loaded node starts, to earlier nodes.
const LINKS_PER_NODE: usize = 2;
/// Creation times spread over the year before this one (seconds since 1970).
const EPOCH: i64 = 1_735_689_600;

/// Generous: one batch on a loaded two-core machine, or an index population.
const TIMEOUT: Duration = Duration::from_secs(900);

pub fn load(a: LoadArgs) -> io::Result<i32> {
    let started = Instant::now();
    let mut c = connect(&a.bolt)?;
    for q in [
        "CREATE INDEX item_uid IF NOT EXISTS FOR (n:Item) ON (n.uid)",
        "CREATE TEXT INDEX item_name IF NOT EXISTS FOR (n:Item) ON (n.name)",
    ] {
        c.run(q, vec![])?;
    }
    c.run("CALL db.awaitIndexes(300)", vec![])?;
    let nodes = (a.size_mb << 20) / BYTES_PER_NODE;
    let mut rng = Rng::new(0x6ea7_10ad);
    let mut links = 0u64;
    let mut from = 0u64;
    while from < nodes {
        let to = (from + BATCH as u64).min(nodes);
        let rows = (from..to)
            .map(|uid| node_row(&mut rng, uid as i64))
            .collect();
        create_nodes(&mut c, rows)?;
        let rels: Vec<(i64, i64)> = (from.max(1)..to)
            .flat_map(|uid| {
                let targets: Vec<u64> = (0..LINKS_PER_NODE).map(|_| rng.next() % uid).collect();
                targets.into_iter().map(move |t| (uid as i64, t as i64))
            })
            .collect();
        links += rels.len() as u64;
        create_links(&mut c, &rels, &mut rng)?;
        from = to;
        if from.is_multiple_of(BATCH as u64 * 100) {
            eprintln!(
                "graph-load: {from} of {nodes} nodes, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    c.run("CALL db.awaitIndexes(900)", vec![])?;
    c.close();
    println!(
        "graph-load: {nodes} nodes, {links} relationships in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// What one day of writes does, from the round and the next free uid alone.
#[derive(Debug, PartialEq)]
pub struct Day {
    /// Nodes whose numbers and modification time change.
    pub updates: Vec<i64>,
    /// Of those, the ones whose body is rewritten too (a third).
    pub rewrites: Vec<i64>,
    /// Nodes deleted with their relationships (0.5%).
    pub deletes: Vec<i64>,
    /// New nodes (0.5%), each linked to an existing one.
    pub creates: std::ops::Range<i64>,
    /// New relationships between existing nodes (0.5%).
    pub links: Vec<(i64, i64)>,
}

pub fn plan(round: u64, next_uid: i64, percent: u64) -> Day {
    let mut rng = Rng::new(0xda7_0000 ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let n = next_uid.max(1) as u64;
    let mut pick = |k: u64| -> Vec<i64> { (0..k).map(|_| (rng.next() % n) as i64).collect() };
    let updates = pick(n * percent / 100);
    let rewrites = updates.iter().copied().step_by(3).collect();
    let half = n / 200;
    let deletes = pick(half);
    let ends = pick(half * 2);
    let links = ends.chunks(2).map(|p| (p[0], p[1])).collect();
    Day {
        updates,
        rewrites,
        deletes,
        creates: next_uid..next_uid + half as i64,
        links,
    }
}

pub fn day(a: DayArgs) -> io::Result<i32> {
    let started = Instant::now();
    let mut c = connect(&a.bolt)?;
    let next_uid = match c
        .run("MATCH (n:Item) RETURN max(n.uid)", vec![])?
        .first()
        .and_then(|r| r.first())
    {
        Some(Value::Int(max)) => max + 1,
        _ => 0,
    };
    let d = plan(a.round, next_uid, a.percent);
    let mut rng = Rng::new(0xb0d1 ^ a.round);
    let now = EPOCH + 366 * 86_400 + a.round as i64 * 86_400;
    for batch in d.updates.chunks(BATCH) {
        let rows = batch
            .iter()
            .map(|&uid| {
                Value::List(vec![
                    uid.into(),
                    Value::Float((rng.next() % 10_000) as f64 / 100.0),
                    ((rng.next() % 1_000_000) as i64).into(),
                    now.into(),
                ])
            })
            .collect();
        c.run(
            "UNWIND $rows AS r MATCH (n:Item {uid: r[0]}) \
             SET n.score = r[1], n.size = r[2], n.modified = datetime({epochSeconds: r[3]})",
            vec![("rows", Value::List(rows))],
        )?;
    }
    for batch in d.rewrites.chunks(BATCH) {
        let rows = batch
            .iter()
            .map(|&uid| Value::List(vec![uid.into(), body(&mut rng).into()]))
            .collect();
        c.run(
            "UNWIND $rows AS r MATCH (n:Item {uid: r[0]}) SET n.body = r[1]",
            vec![("rows", Value::List(rows))],
        )?;
    }
    for batch in d.deletes.chunks(BATCH) {
        let uids = batch.iter().map(|&u| u.into()).collect();
        c.run(
            "UNWIND $uids AS u MATCH (n:Item {uid: u}) DETACH DELETE n",
            vec![("uids", Value::List(uids))],
        )?;
    }
    let created: Vec<i64> = d.creates.clone().collect();
    for batch in created.chunks(BATCH) {
        let rows = batch.iter().map(|&uid| node_row(&mut rng, uid)).collect();
        create_nodes(&mut c, rows)?;
        let rels: Vec<(i64, i64)> = batch
            .iter()
            .map(|&uid| (uid, (rng.next() % next_uid.max(1) as u64) as i64))
            .collect();
        create_links(&mut c, &rels, &mut rng)?;
    }
    for batch in d.links.chunks(BATCH) {
        create_links(&mut c, batch, &mut rng)?;
    }
    c.close();
    println!(
        "day {}: {} nodes updated ({} with a new body), {} deleted with their relationships, \
         {} created with one relationship each, {} relationships added, in {:.0} s",
        a.round,
        d.updates.len(),
        d.rewrites.len(),
        d.deletes.len(),
        created.len(),
        d.links.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

fn connect(addr: &str) -> io::Result<Client> {
    Client::connect(addr, Auth::None, TIMEOUT)
        .map_err(|e| io::Error::other(format!("cannot connect to Neo4j at {addr}: {e}")))
}

fn body(rng: &mut Rng) -> String {
    let len = 800 + (rng.next() % 1_600) as usize;
    String::from_utf8_lossy(&text(rng, len)).into_owned()
}

/// [uid, id, name, body, size, score, created, kind] of one node.
fn node_row(rng: &mut Rng, uid: i64) -> Value {
    let id = rng.uuid();
    let name = format!("item-{uid}-{}", &id[..6]);
    Value::List(vec![
        uid.into(),
        id.into(),
        name.into(),
        body(rng).into(),
        ((rng.next() % 1_000_000) as i64).into(),
        Value::Float((rng.next() % 10_000) as f64 / 100.0),
        (EPOCH + (rng.next() % (365 * 86_400)) as i64).into(),
        (uid % 3).into(),
    ])
}

fn create_nodes(c: &mut Client, rows: Vec<Value>) -> io::Result<()> {
    c.run(
        "UNWIND $rows AS r \
         CREATE (n:Item {uid: r[0], id: r[1], name: r[2], body: r[3], size: r[4], score: r[5], \
                 created: datetime({epochSeconds: r[6]})}) \
         FOREACH (_ IN CASE WHEN r[7] = 0 THEN [1] ELSE [] END | SET n:File) \
         FOREACH (_ IN CASE WHEN r[7] = 1 THEN [1] ELSE [] END | SET n:Page)",
        vec![("rows", Value::List(rows))],
    )?;
    Ok(())
}

fn create_links(c: &mut Client, pairs: &[(i64, i64)], rng: &mut Rng) -> io::Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let rows = pairs
        .iter()
        .map(|&(a, b)| {
            Value::List(vec![
                a.into(),
                b.into(),
                ((rng.next() % 100) as i64).into(),
                (EPOCH + (rng.next() % (365 * 86_400)) as i64).into(),
            ])
        })
        .collect();
    c.run(
        "UNWIND $rows AS r MATCH (a:Item {uid: r[0]}) MATCH (b:Item {uid: r[1]}) \
         CREATE (a)-[:LINKS {weight: r[2], since: datetime({epochSeconds: r[3]})}]->(b)",
        vec![("rows", Value::List(rows))],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_the_same_for_the_same_round_and_differs_between_rounds() {
        let one = plan(1, 1_000_000, 3);
        assert_eq!(one, plan(1, 1_000_000, 3));
        assert_ne!(one.updates, plan(2, 1_000_000, 3).updates);
        assert_ne!(one.deletes, plan(2, 1_000_000, 3).deletes);
    }

    #[test]
    fn a_day_touches_a_few_percent_and_creates_above_the_highest_uid() {
        let d = plan(4, 1_000_000, 3);
        assert_eq!(d.updates.len(), 30_000);
        assert_eq!(d.rewrites.len(), 10_000);
        assert_eq!(d.deletes.len(), 5_000);
        assert_eq!(d.links.len(), 5_000);
        assert_eq!(d.creates, 1_000_000..1_005_000);
        let all = d.updates.iter().chain(&d.deletes);
        assert!(all.into_iter().all(|&u| (0..1_000_000).contains(&u)));
        assert!(d
            .links
            .iter()
            .all(|&(a, b)| (0..1_000_000).contains(&a) && (0..1_000_000).contains(&b)));
    }
}
