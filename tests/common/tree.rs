//! A snapshot of a directory tree (everything a restore must reproduce) for
//! comparing a restored tree with the original.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: char,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub content: String,
    pub link: Vec<u8>,
    /// For files with several links: the first path (in sorted order) sharing the inode.
    pub hardlink_of: Option<Vec<u8>>,
}

pub type Snapshot = BTreeMap<Vec<u8>, Node>;

pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut inodes: BTreeMap<(u64, u64), Vec<u8>> = BTreeMap::new();
    walk(root, root, &mut out, &mut inodes);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Snapshot, inodes: &mut BTreeMap<(u64, u64), Vec<u8>>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .as_os_str()
            .as_bytes()
            .to_vec();
        let ft = meta.file_type();
        let mut node = Node {
            kind: if ft.is_dir() {
                'd'
            } else if ft.is_symlink() {
                'l'
            } else {
                'f'
            },
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size: if ft.is_file() { meta.len() } else { 0 },
            // Directory mtimes change when their contents change during a walk of a
            // live tree; compare them too: restore must set them after the contents.
            mtime: meta.mtime(),
            content: String::new(),
            link: Vec::new(),
            hardlink_of: None,
        };
        if ft.is_symlink() {
            node.link = std::fs::read_link(&path)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec();
            node.mode = 0;
        } else if ft.is_file() {
            node.content = hex(&Sha256::digest(std::fs::read(&path).unwrap()));
            if meta.nlink() > 1 {
                let first = inodes
                    .entry((meta.dev(), meta.ino()))
                    .or_insert_with(|| rel.clone());
                if *first != rel {
                    node.hardlink_of = Some(first.clone());
                }
            }
        }
        out.insert(rel, node);
        if ft.is_dir() {
            walk(root, &path, out, inodes);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Differences between two snapshots, readable, at most 20.
pub fn diff(a: &Snapshot, b: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => out.push(format!("missing: {}", String::from_utf8_lossy(k))),
            Some(w) if w != v => out.push(format!(
                "differs: {}: {v:?} vs {w:?}",
                String::from_utf8_lossy(k)
            )),
            _ => {}
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        out.push(format!("extra: {}", String::from_utf8_lossy(k)));
    }
    out.truncate(20);
    out
}

pub fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(&e.path()),
            Ok(t) if t.is_file() => 1,
            _ => 0,
        })
        .sum()
}
