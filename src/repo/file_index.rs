//! The file index stored beside each archive (`<component>.files`): one line per
//! tar entry with its type, mode, owner, size, sha256 and path. Deep verification
//! and restore check every file against it; people can read it with `less`.
//!
//! Line format, tab-separated: `type mode uid gid size sha256 path [link]` where type
//! is f/d/l/h, mode is octal, sha256 is `-` for non-files, and path and link are
//! escaped: bytes outside 0x21..=0x7e other than space, and `%`, become `%XX`.

use std::fmt::Write as _;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    HardLink,
}

impl EntryKind {
    fn letter(self) -> char {
        match self {
            EntryKind::File => 'f',
            EntryKind::Dir => 'd',
            EntryKind::Symlink => 'l',
            EntryKind::HardLink => 'h',
        }
    }

    fn from_letter(s: &str) -> Option<Self> {
        Some(match s {
            "f" => EntryKind::File,
            "d" => EntryKind::Dir,
            "l" => EntryKind::Symlink,
            "h" => EntryKind::HardLink,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub kind: EntryKind,
    /// Relative to the component root, without `./`; the root itself is `.`.
    pub path: Vec<u8>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub sha256: Option<String>,
    /// Symlink target, or the path a hardlink points to.
    pub link: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("cannot read the file index {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the file index {path} is damaged at line {line}: {detail}")]
    Bad {
        path: PathBuf,
        line: usize,
        detail: String,
    },
}

pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if (b == b' ' || (0x21..=0x7e).contains(&b)) && b != b'%' {
            s.push(b as char);
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s
}

pub fn unescape(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

fn format_line(e: &IndexEntry) -> String {
    let mut line = format!(
        "{}\t{:o}\t{}\t{}\t{}\t{}\t{}",
        e.kind.letter(),
        e.mode,
        e.uid,
        e.gid,
        e.size,
        e.sha256.as_deref().unwrap_or("-"),
        escape(&e.path)
    );
    if let Some(link) = &e.link {
        line.push('\t');
        line.push_str(&escape(link));
    }
    line.push('\n');
    line
}

/// Writes the index (owner-only, fsynced).
pub fn write_index(path: &Path, entries: &[IndexEntry]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?,
    );
    for e in entries {
        f.write_all(format_line(e).as_bytes())?;
    }
    let f = f.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()
}

pub fn read_index(path: &Path) -> Result<Vec<IndexEntry>, IndexError> {
    let text = std::fs::read_to_string(path).map_err(|source| IndexError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            parse_line(l).ok_or_else(|| IndexError::Bad {
                path: path.to_path_buf(),
                line: i + 1,
                detail: format!("cannot parse {l:?}"),
            })
        })
        .collect()
}

fn parse_line(l: &str) -> Option<IndexEntry> {
    let cols: Vec<&str> = l.split('\t').collect();
    if cols.len() != 7 && cols.len() != 8 {
        return None;
    }
    Some(IndexEntry {
        kind: EntryKind::from_letter(cols[0])?,
        mode: u32::from_str_radix(cols[1], 8).ok()?,
        uid: cols[2].parse().ok()?,
        gid: cols[3].parse().ok()?,
        size: cols[4].parse().ok()?,
        sha256: (cols[5] != "-").then(|| cols[5].to_string()),
        path: unescape(cols[6])?,
        link: match cols.get(7) {
            Some(c) => Some(unescape(c)?),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255u8).collect();
        let e = escape(&all);
        assert!(!e.contains('\t') && !e.contains('\n'));
        assert_eq!(unescape(&e).unwrap(), all);
        assert_eq!(escape(b"a b%c"), "a b%25c");
        assert_eq!(escape(b"caf\xe9"), "caf%E9");
    }

    #[test]
    fn index_round_trips_and_reports_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let entries = vec![
            IndexEntry {
                kind: EntryKind::Dir,
                path: b".".to_vec(),
                mode: 0o755,
                uid: 0,
                gid: 0,
                size: 0,
                sha256: None,
                link: None,
            },
            IndexEntry {
                kind: EntryKind::File,
                path: b"a\tb\nc".to_vec(),
                mode: 0o4755,
                uid: 1,
                gid: 2,
                size: 3,
                sha256: Some("ab".repeat(32)),
                link: None,
            },
            IndexEntry {
                kind: EntryKind::Symlink,
                path: b"l".to_vec(),
                mode: 0o777,
                uid: 0,
                gid: 0,
                size: 0,
                sha256: None,
                link: Some(b"/x y".to_vec()),
            },
        ];
        let p = dir.path().join("c.files");
        write_index(&p, &entries).unwrap();
        assert_eq!(read_index(&p).unwrap(), entries);
        std::fs::write(&p, "f\t644\t0\t0\tx\t-\tname\n").unwrap();
        let err = read_index(&p).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
