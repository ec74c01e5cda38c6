//! The bytes of the benchmark data sets: text that compresses well, records
//! that compress somewhat, written to files whose folders are made first.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::rng::Rng;

const WORDS: &[&str] = &[
    "structr",
    "node",
    "relationship",
    "schema",
    "page",
    "widget",
    "user",
    "group",
    "file",
    "folder",
    "property",
    "index",
    "query",
    "cypher",
    "graph",
    "flow",
    "deployment",
    "template",
    "mail",
    "the",
    "and",
    "of",
    "to",
    "in",
];

pub fn text(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        out.extend_from_slice(WORDS[(rng.next() % WORDS.len() as u64) as usize].as_bytes());
        out.push(if rng.next().is_multiple_of(12) {
            b'\n'
        } else {
            b' '
        });
    }
    out.truncate(len);
    out
}

/// Record-like bytes: fixed-size records, mostly zeros with some random fields.
pub fn records(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for rec in out.chunks_mut(64) {
        rec[0] = 1;
        let n = rec.len().min(24);
        rng.fill(&mut rec[1..n]);
    }
    out
}

pub fn write_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(p) = path.parent() {
        fs::create_dir_all(p)?;
    }
    let mut f = BufWriter::new(fs::File::create(path)?);
    f.write_all(data)
}
