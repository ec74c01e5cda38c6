//! A generation against the live installation, from its file indexes: files
//! that are new since the backup, changed (size, content, type or link target)
//! or missing. Read-only: the live folders are walked (never following links,
//! never into another file system) and files of equal size hashed.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Instant;

use super::event::{Event, Sink, Step};
use super::OpError;
use crate::cancel::Cancel;
use crate::install::Installation;
use crate::repo::archive::{self, ArchiveEvent};
use crate::repo::file_index::{self, EntryKind, IndexEntry};
use crate::repo::generation::Repo;
use crate::repo::manifest::Manifest;
use crate::repo::store::Store;
use crate::repo::tree;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// In the live folder, not in the generation.
    New,
    /// In the generation, gone from the live folder.
    Missing,
    /// Both have it, differently: how.
    Changed(String),
}

/// One difference: the component, the path inside it (as in the index), how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub component: String,
    pub path: Vec<u8>,
    pub change: Change,
}

/// Compares generation `m` of the archive repository `repo` (its file indexes
/// are files there) with the folders a restore of it would replace.
/// Folders are not compared, only what they hold. Progress is the bytes of
/// the generation's files looked at, per component (`Step::Compare`).
pub fn compare(
    inst: &Installation,
    repo: &Repo,
    m: &Manifest,
    cancel: &Cancel,
    on: Sink,
) -> Result<Vec<Difference>, OpError> {
    // Only the installation and the repository matter for where things go.
    let ctx = super::Context {
        cancel: cancel.clone(),
        ..super::Context::preview(inst, Store::Archive(repo.clone()))
    };
    let placements = super::restore::placements(&ctx, m)?;
    let steps: Vec<Step> = placements
        .iter()
        .map(|p| Step::Compare(p.name.clone()))
        .collect();
    on(Event::Plan(steps.clone()));
    let dir = repo.path_of(&m.id);
    let mut out = Vec::new();
    for (p, step) in placements.iter().zip(steps) {
        let Some(c) = m.components.iter().find(|c| c.name == p.name) else {
            continue;
        };
        on(Event::Started(step.clone()));
        let t = Instant::now();
        let index = file_index::read_index(&dir.join(&c.index))
            .map_err(|e| OpError::Verify(format!("{}: {e}", c.index)))?;
        let found = component(&p.name, &p.target, &index, cancel, &step, on)?;
        out.extend(found);
        on(Event::Finished(step, t.elapsed()));
    }
    Ok(out)
}

/// The differences of one component's live folder `target` from its `index`.
fn component(
    name: &str,
    target: &Path,
    index: &[IndexEntry],
    cancel: &Cancel,
    step: &Step,
    on: Sink,
) -> Result<Vec<Difference>, OpError> {
    let by_path: HashMap<&[u8], &IndexEntry> =
        index.iter().map(|e| (e.path.as_slice(), e)).collect();
    let total: u64 = index
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| e.size)
        .sum();
    let mut done = 0u64;
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut out = Vec::new();
    let differs = |path: Vec<u8>, change: Change| Difference {
        component: name.to_string(),
        path,
        change,
    };
    if std::fs::symlink_metadata(target).is_ok() {
        for node in tree::walk(target) {
            if cancel.is_cancelled() {
                return Err(OpError::Cancelled {
                    detail: "the comparison was cancelled".into(),
                });
            }
            let node = match node {
                Ok(n) => n,
                Err(e) => {
                    let rel = e.path.strip_prefix(target).unwrap_or(&e.path);
                    let why = format!("unreadable: {}", e.source);
                    out.push(differs(
                        rel.as_os_str().as_bytes().to_vec(),
                        Change::Changed(why),
                    ));
                    continue;
                }
            };
            let rel = node.rel.as_os_str().as_bytes().to_vec();
            let ft = node.meta.file_type();
            if ft.is_dir() {
                seen.insert(rel);
                continue;
            }
            let Some(was) = by_path.get(rel.as_slice()).copied() else {
                out.push(differs(rel, Change::New));
                continue;
            };
            seen.insert(rel.clone());
            // What the generation holds at this path, as a kind and a file entry.
            let file = match was.kind {
                EntryKind::HardLink => was
                    .link
                    .as_deref()
                    .and_then(|l| by_path.get(l).copied())
                    .filter(|e| e.kind == EntryKind::File),
                EntryKind::File => Some(was),
                _ => None,
            };
            let change = if ft.is_symlink() {
                match (was.kind, std::fs::read_link(&node.abs)) {
                    (EntryKind::Symlink, Ok(t))
                        if Some(t.as_os_str().as_bytes()) == was.link.as_deref() =>
                    {
                        None
                    }
                    (EntryKind::Symlink, _) => Some("link target".to_string()),
                    _ => Some("now a symbolic link".into()),
                }
            } else if !ft.is_file() {
                Some("now a special file".into())
            } else {
                match file {
                    None => Some("now a file".into()),
                    Some(f) if f.size != node.meta.len() => {
                        done += f.size;
                        Some(format!("size {} → {}", f.size, node.meta.len()))
                    }
                    Some(f) => {
                        let mut bytes = |ev: ArchiveEvent| {
                            if let ArchiveEvent::Bytes(n) = ev {
                                done += n;
                                on(Event::Progress {
                                    step: step.clone(),
                                    done,
                                    total: total.max(done),
                                });
                            }
                        };
                        match archive::sha256_file(&node.abs, cancel, &mut bytes) {
                            Ok(h) if Some(&h) == f.sha256.as_ref() => None,
                            Ok(_) => Some("content".into()),
                            Err(archive::ArchiveError::Cancelled) => {
                                return Err(OpError::Cancelled {
                                    detail: "the comparison was cancelled".into(),
                                })
                            }
                            Err(e) => Some(format!("unreadable: {e}")),
                        }
                    }
                }
            };
            if let Some(why) = change {
                out.push(differs(rel, Change::Changed(why)));
            }
        }
    }
    for e in index {
        if e.kind != EntryKind::Dir && !seen.contains(&e.path) {
            out.push(differs(e.path.clone(), Change::Missing));
        }
    }
    // Missing files count as looked at.
    on(Event::Progress {
        step: step.clone(),
        done: total.max(done),
        total: total.max(done),
    });
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn entry(kind: EntryKind, path: &str, data: &[u8]) -> IndexEntry {
        use sha2::Digest;
        IndexEntry {
            kind,
            path: path.as_bytes().to_vec(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: data.len() as u64,
            sha256: (kind == EntryKind::File).then(|| {
                sha2::Sha256::digest(data)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            }),
            link: None,
        }
    }

    #[test]
    fn new_changed_and_missing_files_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path();
        fs::create_dir(live.join("sub")).unwrap();
        fs::write(live.join("same"), b"abc").unwrap();
        fs::write(live.join("edited"), b"abd").unwrap();
        fs::write(live.join("grown"), b"abcdef").unwrap();
        fs::write(live.join("sub/new"), b"x").unwrap();
        std::os::unix::fs::symlink("elsewhere", live.join("link")).unwrap();
        let mut link = entry(EntryKind::Symlink, "link", b"");
        link.link = Some(b"same".to_vec());
        let index = vec![
            entry(EntryKind::Dir, ".", b""),
            entry(EntryKind::Dir, "sub", b""),
            entry(EntryKind::File, "same", b"abc"),
            entry(EntryKind::File, "edited", b"abc"),
            entry(EntryKind::File, "grown", b"abc"),
            entry(EntryKind::File, "gone", b"abc"),
            link,
        ];
        let step = Step::Compare("c".into());
        let mut last = None;
        let found = component("c", live, &index, &Cancel::new(), &step, &mut |e| {
            if let Event::Progress { done, total, .. } = e {
                last = Some((done, total));
            }
        })
        .unwrap();
        let got: Vec<(String, Change)> = found
            .into_iter()
            .map(|d| (String::from_utf8(d.path).unwrap(), d.change))
            .collect();
        assert_eq!(
            got,
            [
                ("edited".to_string(), Change::Changed("content".into())),
                ("gone".into(), Change::Missing),
                ("grown".into(), Change::Changed("size 3 → 6".into())),
                ("link".into(), Change::Changed("link target".into())),
                ("sub/new".into(), Change::New),
            ]
        );
        assert_eq!(last, Some((12, 12)), "every indexed byte looked at");
    }
}
