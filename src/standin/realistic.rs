//! A data set and a day of writes shaped like a production night, for the
//! downtime benchmark (`scripts/bench --realistic`): Neo4j's six record stores
//! hold most of the bytes and a day of writes rewrites 1% of their 8 KiB pages
//! in place, so every store file gets a new modification time while only a
//! small part of its bytes changed; the day also writes a new transaction log,
//! rewrites the small index and count files and adds Structr files. Everything
//! follows from the seed and the round: every tool sees the same bytes.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use super::fill::{records, text, write_file};
use super::rng::Rng;
use super::structr::file_path;

/// Neo4j's record stores and their share of the store's bytes.
const STORES: [(&str, u64); 6] = [
    ("neostore.propertystore.db", 30),
    ("neostore.relationshipstore.db", 25),
    ("neostore.nodestore.db", 15),
    ("neostore.propertystore.db.strings", 15),
    ("neostore.relationshipgroupstore.db", 10),
    ("neostore.labelscanstore.db", 5),
];

/// Neo4j's page size: what a write rewrites.
const PAGE: u64 = 8 << 10;

/// Small files a day of writes rewrites whole (index and count stores, ids).
const SMALL: usize = 30;

#[derive(Debug, clap::Args)]
pub struct DayArgs {
    /// The data set (the `--out` of `dataset --realistic`)
    #[arg(long)]
    out: std::path::PathBuf,
    /// Which day: each round writes other pages and new files
    #[arg(long)]
    round: u64,
    /// Percent of each store file's pages rewritten
    #[arg(long, default_value_t = 1)]
    percent: u64,
}

/// `size_mb` MiB: 65% in the six stores, 7% in transaction logs (100 MiB
/// each at most), 1% in 30 small files, the rest in Structr's files.
pub fn dataset(out: &Path, size_mb: u64) -> std::io::Result<i32> {
    let mut rng = Rng::new(0x5eed_da7a);
    let total = size_mb << 20;
    let data = out.join("neo4j/data");
    let db = data.join("databases/neo4j");
    let stores = total * 65 / 100;
    for (name, share) in STORES {
        let n = (stores * share / 100) / PAGE * PAGE;
        write_big(&db.join(name), n, &mut rng)?;
    }
    for i in 0..SMALL {
        let n = (total / 100 / SMALL as u64).max(4096);
        write_file(&db.join(small_name(i)), &records(&mut rng, n as usize))?;
    }
    let logs = total * 7 / 100;
    let log_size = log_size(total);
    let mut i = 0;
    let mut left = logs;
    while left > 0 {
        let n = left.min(log_size);
        write_file(&log_path(&data, i), &text(&mut rng, n as usize))?;
        left -= n;
        i += 1;
    }
    fs::create_dir_all(data.join("databases/system"))?;
    write_file(&data.join("databases/store_lock"), b"")?;
    let structr = out.join("structr");
    write_file(
        &structr.join("structr.conf"),
        b"superuser.password = bench\n",
    )?;
    let mut left = total.saturating_sub(stores + logs + total / 100);
    let mut media = true;
    while left > 0 {
        let n = left.min((4096u64 << (rng.next() % 9)) + rng.next() % 4096);
        new_structr_file(&structr, n, media, &mut rng)?;
        media = !media;
        left -= n;
    }
    println!("realistic data set of {size_mb} MiB in {}", out.display());
    Ok(0)
}

/// One day of writes on a realistic data set of about `size` bytes.
pub fn day(a: DayArgs) -> std::io::Result<i32> {
    let mut rng = Rng::new(0xda7_0000 ^ a.round.wrapping_mul(0x9e37_79b9));
    let data = a.out.join("neo4j/data");
    let db = data.join("databases/neo4j");
    let mut changed = 0u64;
    let mut total = 0u64;
    for (name, _) in STORES {
        let path = db.join(name);
        let len = fs::metadata(&path)?.len();
        total += len;
        let pages = len / PAGE;
        let mut f = fs::OpenOptions::new().write(true).open(&path)?;
        for _ in 0..(pages * a.percent / 100).max(1) {
            let page = rng.next() % pages;
            f.seek(SeekFrom::Start(page * PAGE))?;
            f.write_all(&records(&mut rng, PAGE as usize))?;
            changed += PAGE;
        }
        f.sync_all()?;
    }
    for i in 0..SMALL {
        let path = db.join(small_name(i));
        let len = fs::metadata(&path)?.len();
        write_file(&path, &records(&mut rng, len as usize))?;
        changed += len;
        total += len;
    }
    let next = (0..)
        .find(|i| !log_path(&data, *i).exists())
        .unwrap_or_default();
    let log = log_size(total * 100 / 66);
    write_file(&log_path(&data, next), &text(&mut rng, log as usize))?;
    changed += log;
    let structr = a.out.join("structr");
    for i in 0..30 {
        let n = (256 << 10) + rng.next() % (1 << 20);
        new_structr_file(&structr, n, i % 2 == 0, &mut rng)?;
        changed += n;
    }
    println!(
        "day {}: {} MiB changed ({}% of each store's pages, {SMALL} small files, a {} MiB log, 30 Structr files)",
        a.round,
        changed >> 20,
        a.percent,
        log >> 20
    );
    Ok(0)
}

/// A transaction log's size: 100 MiB, less on a small data set.
fn log_size(total: u64) -> u64 {
    (total / 46).clamp(1 << 20, 100 << 20)
}

fn small_name(i: usize) -> String {
    format!("schema/index/range-1.0/{i}/index-{i}")
}

fn log_path(data: &Path, i: u64) -> std::path::PathBuf {
    data.join(format!("transactions/neo4j/neostore.transaction.db.{i}"))
}

/// A large store file written in 64 MiB pieces (the data set is larger than
/// what should sit in memory at once).
fn write_big(path: &Path, n: u64, rng: &mut Rng) -> std::io::Result<()> {
    if let Some(p) = path.parent() {
        fs::create_dir_all(p)?;
    }
    let mut f = std::io::BufWriter::new(fs::File::create(path)?);
    let mut left = n;
    while left > 0 {
        let k = left.min(64 << 20);
        f.write_all(&records(rng, k as usize))?;
        left -= k;
    }
    f.flush()
}

fn new_structr_file(structr: &Path, n: u64, media: bool, rng: &mut Rng) -> std::io::Result<()> {
    let id = rng.uuid();
    let body = if media {
        let mut b = vec![0u8; n as usize];
        rng.fill(&mut b);
        b
    } else {
        text(rng, n as usize)
    };
    write_file(&file_path(structr, &id), &body)
}
