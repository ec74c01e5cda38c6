//! A deterministic data set shaped like a real installation, for benchmarks: a
//! Neo4j store (large record files that compress somewhat, transaction logs that
//! compress well) and a Structr `files/` tree (about half incompressible media, half
//! text, many small files in `a/b/c/d/<uuid>` folders).

use std::fs;
use std::path::PathBuf;

use super::fill::{records, text, write_file};
use super::rng::Rng;
use super::structr::file_path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to create `neo4j/data` and `structr/`
    #[arg(long)]
    out: PathBuf,
    /// Total size in MiB (about half Neo4j, half Structr files)
    #[arg(long, default_value_t = 1024)]
    size_mb: u64,
    /// Shaped like a production store instead: six large store files, a few
    /// hundred MiB of transaction logs, 30 small index files (see `realistic`)
    #[arg(long)]
    realistic: bool,
}

pub fn run(a: Args) -> std::io::Result<i32> {
    if a.realistic {
        return super::realistic::dataset(&a.out, a.size_mb);
    }
    let mut rng = Rng::new(0x5eed);
    let total = a.size_mb << 20;
    let data = a.out.join("neo4j/data");
    let structr = a.out.join("structr");
    // Neo4j: 40% record stores in 64 MiB files, 10% transaction logs.
    let mut left = total * 4 / 10;
    let mut i = 0;
    while left > 0 {
        let n = left.min(64 << 20);
        write_file(
            &data.join(format!("databases/neo4j/neostore.part{i}.db")),
            &records(&mut rng, n as usize),
        )?;
        left -= n;
        i += 1;
    }
    let mut left = total / 10;
    let mut i = 0;
    while left > 0 {
        let n = left.min(16 << 20);
        write_file(
            &data.join(format!("transactions/neo4j/neostore.transaction.db.{i}")),
            &text(&mut rng, n as usize),
        )?;
        left -= n;
        i += 1;
    }
    fs::create_dir_all(data.join("databases/system"))?;
    write_file(&data.join("databases/store_lock"), b"")?;
    // Structr: 50% in files of 512 B..256 KiB (log-uniform: mostly small files),
    // alternating media (random) and text.
    write_file(
        &structr.join("structr.conf"),
        b"superuser.password = bench\n",
    )?;
    let mut left = total / 2;
    let mut media = true;
    while left > 0 {
        let n = left.min((512u64 << (rng.next() % 10)) + rng.next() % 512);
        let id = rng.uuid();
        let body = if media {
            let mut b = vec![0u8; n as usize];
            rng.fill(&mut b);
            b
        } else {
            text(&mut rng, n as usize)
        };
        write_file(&file_path(&structr, &id), &body)?;
        media = !media;
        left -= n;
    }
    println!("data set of {} MiB in {}", a.size_mb, a.out.display());
    Ok(0)
}
