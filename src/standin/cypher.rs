//! `structr-standin cypher-shell`: a stand-in for Neo4j's `cypher-shell` (its own
//! package), enough for the drill's counts in tests: `-a ADDRESS`, `-d DATABASE`,
//! `--format plain` and one query; credentials from NEO4J_USERNAME and
//! NEO4J_PASSWORD as cypher-shell takes them. Prints a header line, then one line
//! per row with its values separated by ", ", as `--format plain` does.

use std::time::Duration;

use super::bolt::{Auth, Client};
use super::packstream::Value;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// bolt://HOST:PORT or HOST:PORT
    #[arg(short = 'a', long = "address")]
    address: String,
    /// Accepted for cypher-shell's sake (the stand-in asks the default database).
    #[arg(short = 'd', long = "database")]
    database: Option<String>,
    #[arg(long, default_value = "plain")]
    format: String,
    #[arg(long)]
    non_interactive: bool,
    query: String,
}

pub fn run(a: Args) -> std::io::Result<i32> {
    let fail = std::io::Error::other;
    if a.format != "plain" {
        return Err(fail(format!(
            "only --format plain is supported, not {}",
            a.format
        )));
    }
    let addr = a
        .address
        .trim_start_matches("bolt://")
        .trim_start_matches("neo4j://");
    let user = std::env::var("NEO4J_USERNAME").ok();
    let password = std::env::var("NEO4J_PASSWORD").ok();
    let auth = match (&user, &password) {
        (Some(user), Some(password)) => Auth::Basic { user, password },
        _ => Auth::None,
    };
    let mut c = Client::connect(addr, auth, Duration::from_secs(30))
        .map_err(|e| fail(format!("cannot connect to {addr}: {e}")))?;
    let rows = c.run(&a.query, vec![])?;
    c.close();
    println!("result");
    for row in rows {
        let cells: Vec<String> = row.iter().map(plain).collect();
        println!("{}", cells.join(", "));
    }
    Ok(0)
}

fn plain(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::String(s) => format!("\"{s}\""),
        other => format!("{other:?}"),
    }
}
