//! The archive module against real files and the real `zstd`, `tar` and
//! `sha256sum`: hostile archives are refused without writing outside the target,
//! damaged ones are caught, cancellation leaves no output.

use crate::common;

use std::io::{Read, Write};
use std::path::Path;

use common::tree::sample;
use common::{shell, text, tree};
use structr_backup::cancel::Cancel;
use structr_backup::repo::archive::{
    deep_verify, entry_times, extract_archive, write_archive, ArchiveError, ArchiveOptions,
};
use structr_backup::repo::file_index::{EntryKind, IndexEntry};
use structr_backup::repo::owners::OwnerMap;

fn no_events() -> impl FnMut(structr_backup::repo::archive::ArchiveEvent) {
    |_| {}
}

#[test]
fn archive_is_what_standard_tools_see() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    sample(&src);
    let out = dir.path().join("a.tar.zst");
    let s = write_archive(
        &src,
        &out,
        &ArchiveOptions::default(),
        &Cancel::new(),
        &mut no_events(),
    )
    .unwrap();
    assert_eq!(s.files, 2, "store.db and empty; the hardlink counts once");
    assert_eq!(s.bytes, 5 << 20);
    assert_eq!(s.archive_size, std::fs::metadata(&out).unwrap().len());

    let sum = shell("sha256sum a.tar.zst", dir.path());
    assert!(
        String::from_utf8_lossy(&sum.stdout).starts_with(&s.sha256),
        "{}",
        text(&sum)
    );
    let listing = shell("zstd -d < a.tar.zst | tar -t", dir.path());
    assert!(listing.status.success(), "{}", text(&listing));
    let mut from_tar: Vec<String> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(|l| l.trim_end_matches('/').to_string())
        .map(|l| if l == "." { ".".into() } else { l })
        .collect();
    let mut from_index: Vec<String> = s
        .index
        .iter()
        .map(|e| String::from_utf8_lossy(&e.path).into_owned())
        .collect();
    from_tar.sort();
    from_index.sort();
    assert_eq!(from_tar, from_index);

    let x = dir.path().join("x");
    extract_archive(
        &out,
        &x,
        &s.index,
        &OwnerMap::default(),
        &Cancel::new(),
        &mut no_events(),
    )
    .unwrap();
    let d = tree::diff(&tree::snapshot(&src), &tree::snapshot(&x));
    assert!(d.is_empty(), "{}", d.join("\n"));
    deep_verify(&out, &s.index, &Cancel::new(), &mut no_events()).unwrap();
}

#[test]
fn entry_times_tell_each_entry_its_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    sample(&src);
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    std::fs::File::options()
        .write(true)
        .open(src.join("databases/neo4j/store.db"))
        .unwrap()
        .set_modified(at)
        .unwrap();
    let out = dir.path().join("a.tar.zst");
    let s = write_archive(
        &src,
        &out,
        &ArchiveOptions::default(),
        &Cancel::new(),
        &mut no_events(),
    )
    .unwrap();
    let mut seen = Vec::new();
    entry_times(
        &out,
        &s.index,
        &Cancel::new(),
        &mut no_events(),
        &mut |p, t| seen.push((String::from_utf8_lossy(p).into_owned(), t)),
    )
    .unwrap();
    assert_eq!(seen.len(), s.index.len(), "every entry once");
    assert!(
        seen.contains(&("databases/neo4j/store.db".into(), 1_700_000_000)),
        "{seen:?}"
    );
}

/// A raw tar entry: name, type, link name, content.
type RawEntry<'a> = (&'a [u8], tar::EntryType, &'a [u8], &'a [u8]);
/// An index line: path, kind, link.
type IndexLine<'a> = (&'a [u8], EntryKind, Option<&'a [u8]>);

/// Writes a zstd-compressed tar made entry by entry with raw headers, so that
/// names a well-behaved writer would refuse can be tested.
fn hostile(path: &Path, entries: &[RawEntry]) {
    let mut raw = Vec::new();
    {
        let mut b = tar::Builder::new(&mut raw);
        for (name, kind, link, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.finish().unwrap();
    }
    let mut enc = zstd::Encoder::new(std::fs::File::create(path).unwrap(), 3).unwrap();
    enc.write_all(&raw).unwrap();
    enc.finish().unwrap();
}

fn index_of(entries: &[IndexLine]) -> Vec<IndexEntry> {
    entries
        .iter()
        .map(|(p, k, link)| IndexEntry {
            kind: *k,
            path: p.to_vec(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 0,
            sha256: (*k == EntryKind::File)
                .then(|| "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into()),
            link: link.map(|l| l.to_vec()),
        })
        .collect()
}

#[test]
fn hostile_archives_are_refused_and_write_nothing_outside() {
    use tar::EntryType as T;
    let root: RawEntry = (b"./", T::Directory, b"", b"");
    let cases: Vec<(&str, Vec<RawEntry>, Vec<IndexLine>)> = vec![
        (
            "parent dir",
            vec![root, (b"../escape", T::Regular, b"", b"")],
            vec![
                (b".", EntryKind::Dir, None),
                (b"../escape", EntryKind::File, None),
            ],
        ),
        (
            "absolute",
            vec![root, (b"/tmp/abs-escape", T::Regular, b"", b"")],
            vec![(b".", EntryKind::Dir, None)],
        ),
        (
            "nested parent",
            vec![root, (b"a/../../x", T::Regular, b"", b"")],
            vec![(b".", EntryKind::Dir, None)],
        ),
        (
            "through a symlink",
            vec![
                root,
                (b"link", T::Symlink, b"/tmp", b""),
                (b"link/file", T::Regular, b"", b""),
            ],
            vec![
                (b".", EntryKind::Dir, None),
                (b"link", EntryKind::Symlink, Some(b"/tmp")),
                (b"link/file", EntryKind::File, None),
            ],
        ),
        (
            "hardlink outside",
            vec![root, (b"passwd", T::Link, b"../../etc/passwd", b"")],
            vec![
                (b".", EntryKind::Dir, None),
                (b"passwd", EntryKind::HardLink, Some(b"../../etc/passwd")),
            ],
        ),
        (
            "device",
            vec![root, (b"dev", T::Char, b"", b"")],
            vec![(b".", EntryKind::Dir, None)],
        ),
        (
            "a PAX size record (GNU tar would read another extent)",
            vec![
                root,
                (b"", T::XHeader, b"", b"11 size=99\n"),
                (b"f", T::Regular, b"", b""),
            ],
            vec![(b".", EntryKind::Dir, None), (b"f", EntryKind::File, None)],
        ),
        (
            "not in the index",
            vec![root, (b"extra", T::Regular, b"", b"")],
            vec![(b".", EntryKind::Dir, None)],
        ),
    ];
    for (what, entries, index) in cases {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("h.tar.zst");
        hostile(&archive, &entries);
        let dest = dir.path().join("stage/dest");
        std::fs::create_dir_all(dir.path().join("stage")).unwrap();
        let err = extract_archive(
            &archive,
            &dest,
            &index_of(&index),
            &OwnerMap::default(),
            &Cancel::new(),
            &mut no_events(),
        )
        .unwrap_err();
        assert!(matches!(err, ArchiveError::Unsafe { .. }), "{what}: {err}");
        let beside: Vec<_> = std::fs::read_dir(dir.path().join("stage"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            beside,
            vec![std::ffi::OsString::from("dest")],
            "{what}: nothing beside dest"
        );
        assert!(
            !dir.path().join("escape").exists()
                && !Path::new("/tmp/abs-escape").exists()
                && !Path::new("/tmp/file").exists(),
            "{what}"
        );
    }
}

#[test]
fn damage_is_caught_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    sample(&src);
    let out = dir.path().join("a.tar.zst");
    let s = write_archive(
        &src,
        &out,
        &ArchiveOptions::default(),
        &Cancel::new(),
        &mut no_events(),
    )
    .unwrap();
    let good = std::fs::read(&out).unwrap();

    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x10;
    std::fs::write(&out, &flipped).unwrap();
    let err = deep_verify(&out, &s.index, &Cancel::new(), &mut no_events()).unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::Corrupt { .. } | ArchiveError::HashMismatch { .. }
        ),
        "{err}"
    );

    std::fs::write(&out, &good[..good.len() * 2 / 3]).unwrap();
    let err = extract_archive(
        &out,
        &dir.path().join("t"),
        &s.index,
        &OwnerMap::default(),
        &Cancel::new(),
        &mut no_events(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::Corrupt { .. } | ArchiveError::Missing { .. }
        ),
        "{err}"
    );

    std::fs::write(&out, &good).unwrap();
    let mut index = s.index.clone();
    let f = index
        .iter_mut()
        .find(|e| e.kind == EntryKind::File && e.size > 0)
        .unwrap();
    f.sha256 = Some("0".repeat(64));
    let err = deep_verify(&out, &index, &Cancel::new(), &mut no_events()).unwrap_err();
    assert!(matches!(err, ArchiveError::HashMismatch { .. }), "{err}");
}

#[test]
fn cancelling_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    sample(&src);
    let out = dir.path().join("a.tar.zst");
    let cancel = Cancel::new();
    let mut seen = 0;
    let err = write_archive(&src, &out, &ArchiveOptions::default(), &cancel, &mut |_| {
        seen += 1;
        cancel.cancel();
    })
    .unwrap_err();
    assert!(matches!(err, ArchiveError::Cancelled), "{err}");
    assert!(seen > 0);
    assert!(!out.exists(), "the partial archive is removed");
}

#[test]
fn unreadable_source_names_the_path_and_what_to_do() {
    if !nix::unistd::geteuid().is_root() {
        // As root everything is readable; the message is checked as a normal user.
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("secret"), b"x").unwrap();
        std::fs::set_permissions(
            src.join("secret"),
            std::os::unix::fs::PermissionsExt::from_mode(0o000),
        )
        .unwrap();
        let err = write_archive(
            &src,
            &dir.path().join("a"),
            &ArchiveOptions::default(),
            &Cancel::new(),
            &mut no_events(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("secret") && err.to_string().contains("root"),
            "{err}"
        );
        return;
    }
    // As root: drop to another user for the read, via setpriv (util-linux).
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("secret"), b"x").unwrap();
    std::fs::set_permissions(
        src.join("secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    // Others may enter it (not write: a repository's parent writable by others is refused).
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // A folder of its own: the config refuses neo4j_data and structr_dir in one another.
    let structr = dir.path().join("structr");
    std::fs::create_dir_all(&structr).unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::os::unix::fs::chown(&repo, Some(65534), Some(65534)).unwrap();
    let cfg = dir.path().join("c.toml");
    let flag = dir.path().join("up");
    let svc = format!(
        "{{ start = \"touch {f}\", stop = \"rm -f {f}\", status = \"test -e {f}\" }}",
        f = flag.display()
    );
    std::fs::write(
        &cfg,
        format!(
            "[repository]\npath = \"{}\"\n[installation]\nkind = \"custom\"\nneo4j_data = \"{}\"\nstructr_dir = \"{}\"\nneo4j = {svc}\nstructr = {svc}\n[maintenance]\nenabled = false\n",
            repo.display(),
            src.display(),
            structr.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            common::BIN,
            "--config",
        ])
        .arg(&cfg)
        .arg("backup")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secret") && err.contains("root"), "{err}");
    assert!(err.contains("cannot read"), "{err}");
}

/// A crafted archive whose entry holds 200 MiB of zeros where the index says 10
/// bytes: extraction stops before writing more than the indexed size.
#[test]
fn a_decompression_bomb_is_stopped_at_the_indexed_size() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("bomb.tar.zst");
    {
        let enc = zstd::Encoder::new(std::fs::File::create(&archive).unwrap(), 1)
            .unwrap()
            .auto_finish();
        let mut b = tar::Builder::new(enc);
        let mut root = tar::Header::new_gnu();
        root.set_entry_type(tar::EntryType::Directory);
        root.set_mode(0o755);
        root.set_size(0);
        b.append_data(&mut root, "./", std::io::empty()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(200 << 20);
        b.append_data(&mut h, "bomb", std::io::repeat(0).take(200 << 20))
            .unwrap();
        b.into_inner().unwrap().flush().unwrap();
    }
    assert!(std::fs::metadata(&archive).unwrap().len() < 1 << 20);
    let mut index = index_of(&[
        (b".", EntryKind::Dir, None),
        (b"bomb", EntryKind::File, None),
    ]);
    index[1].size = 10;
    let dest = dir.path().join("stage");
    let started = std::time::Instant::now();
    let err = extract_archive(
        &archive,
        &dest,
        &index,
        &OwnerMap::default(),
        &Cancel::new(),
        &mut no_events(),
    )
    .unwrap_err();
    assert!(
        matches!(err, ArchiveError::TooLarge { .. }),
        "refused as too large, not after the fact: {err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("bomb")
            && msg.contains("10 bytes")
            && msg.contains(&(200u64 << 20).to_string()),
        "{msg}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "fails fast"
    );
    let written = std::fs::metadata(dest.join("bomb")).map_or(0, |m| m.len());
    let used = shell(&format!("du -sb {}", dest.display()), dir.path());
    assert!(
        written <= 10,
        "at most the indexed size is written: {written}"
    );
    let used: u64 = String::from_utf8_lossy(&used.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(used < 1 << 20, "the staging folder holds {used} bytes");
    let err = deep_verify(&archive, &index, &Cancel::new(), &mut no_events()).unwrap_err();
    assert!(matches!(err, ArchiveError::TooLarge { .. }), "{err}");
}
