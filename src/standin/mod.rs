//! Stand-ins for Neo4j and Structr: small real processes that behave like them on
//! disk and towards a service manager, for the tests and the demo (the real ones
//! cannot be installed everywhere). Run as `structr-standin ...` or as the hidden
//! `structr-backup standin ...`.
//!
//! - `neo4j`: a Neo4j-like data dir (`databases/neo4j/…`, `transactions/…`), fcntl
//!   locks on `databases/store_lock` and each `database_lock` while running, a
//!   line protocol on a loopback TCP port; every acknowledged write is fsynced.
//! - `structr`: a Structr-like dir (`structr.conf`, `files/a/b/c/d/<uuid>`) that
//!   writes a file, then records its id in the stand-in Neo4j (and deletes some),
//!   so when both are cleanly stopped: ids in the database == files on disk.
//!   With `--http` it answers the health check and the deployment export (`deploy`).
//! - `structr --bolt-neo4j host:port`: the same, its graph in a real Neo4j (`graph`,
//!   over our small Bolt client `bolt`), for the tests that run one.
//! - `graph-load`, `graph-day`: a graph of a given size in a real Neo4j and a day
//!   of writes on it, for the real-store benchmark (`biggraph`).
//! - `check`: that invariant, offline (or against a real Neo4j over Bolt). `ctl`: a tiny init script (start/stop/status).

mod biggraph;
pub mod bolt;
mod check;
mod ctl;
mod cypher;
mod dataset;
mod deploy;
mod fill;
mod graph;
mod neo4j;
mod packstream;
mod process;
mod realistic;
mod rng;
mod structr;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "structr-standin",
    about = "Stand-in Neo4j and Structr services for tests and the demo"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the stand-in Neo4j in the foreground
    Neo4j(neo4j::Args),
    /// Run the stand-in Structr in the foreground
    Structr(structr::Args),
    /// Check that database and files agree: the stand-in Neo4j's data dir
    /// (offline), or a real Neo4j over Bolt (running; Structr stopped)
    Check {
        #[arg(long, required_unless_present = "bolt_neo4j")]
        data: Option<PathBuf>,
        #[arg(long, conflicts_with = "data")]
        bolt_neo4j: Option<String>,
        #[arg(long)]
        dir: PathBuf,
    },
    /// Start, stop or query a daemon through a pid file
    Ctl(ctl::Args),
    /// A stand-in for Neo4j's cypher-shell: one query over Bolt, plain output
    CypherShell(cypher::Args),
    /// Create a deterministic benchmark data set shaped like an installation
    Dataset(dataset::Args),
    /// One day of writes on a `dataset --realistic` (store pages rewritten in place)
    Day(realistic::DayArgs),
    /// Load a graph of about `--size-mb` on disk into a real Neo4j over Bolt
    GraphLoad(biggraph::LoadArgs),
    /// One day of writes on a `graph-load` graph (fixed seed per round)
    GraphDay(biggraph::DayArgs),
}

/// Runs the stand-in with `args` (program name first); returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Neo4j(a) => neo4j::run(a),
        Command::Structr(a) => structr::run(a),
        Command::Check {
            data,
            bolt_neo4j,
            dir,
        } => check::run(data.as_deref(), bolt_neo4j.as_deref(), &dir),
        Command::Ctl(a) => return ctl::run(a),
        Command::CypherShell(a) => cypher::run(a),
        Command::Dataset(a) => dataset::run(a),
        Command::Day(a) => realistic::day(a),
        Command::GraphLoad(a) => biggraph::load(a),
        Command::GraphDay(a) => biggraph::day(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("structr-standin: {e}");
            1
        }
    }
}
