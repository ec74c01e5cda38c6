//! A restore that reported success is on disk: a power cut right after `restore`
//! exits 0 must find the restored trees and the safety backup whole.
//!
//! The installation and its repository live on ext4 in a loop file mounted with a
//! long journal commit interval (and data younger than the kernel's 30 s
//! writeback age stays in the page cache), so anything not fsynced is not yet in
//! the image file. Copying the image file the moment `restore` exits, without
//! `sync`, is the power cut; `e2fsck` and a read-only mount of the copy show what
//! a reboot would find.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{shell, text, Options, Sandbox};

/// Runs a program, panicking with its output unless its exit status is in `ok`.
fn run(args: &[&str], ok: &[i32]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (needs e2fsprogs, util-linux)", args[0]));
    assert!(
        out.status.code().is_some_and(|c| ok.contains(&c)),
        "{args:?}: {}",
        text(&out)
    );
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The ext4 image, its mount, the power-cut copy and its mount. Dropping it
/// unmounts both and detaches their loop devices, whatever happened.
struct Disk {
    dir: tempfile::TempDir,
    mnt: PathBuf,
    /// Mounted folders with their loop devices, in mount order.
    mounted: Vec<(PathBuf, String)>,
}

impl Disk {
    fn new() -> Disk {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test mounts an ext4 image: run the suite as root (scripts/test)"
        );
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("ext4.img");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        run(&["truncate", "-s", "160M", s(&img)], &[0]);
        // Inode tables and journal written now, not by a background thread while we copy.
        run(
            &[
                "mkfs.ext4",
                "-q",
                "-F",
                "-E",
                "lazy_itable_init=0,lazy_journal_init=0",
                s(&img),
            ],
            &[0],
        );
        let mut disk = Disk {
            dir,
            mnt: mnt.clone(),
            mounted: Vec::new(),
        };
        disk.mount(&img, &mnt, "loop,commit=300");
        disk
    }

    fn mount(&mut self, img: &Path, at: &Path, options: &str) {
        run(&["mount", "-t", "ext4", "-o", options, s(img), s(at)], &[0]);
        let source = run(&["findmnt", "-n", "-o", "SOURCE", s(at)], &[0]);
        let device = String::from_utf8_lossy(&source.stdout).trim().to_string();
        self.mounted.push((at.to_path_buf(), device));
    }

    /// The power cut: the image file as it is now, no sync; checked and mounted
    /// read-only. Returns the copy's mount point.
    fn power_cut_copy(&mut self) -> PathBuf {
        let img = self.dir.path().join("ext4.img");
        let copy = self.dir.path().join("copy.img");
        let at = self.dir.path().join("copy");
        run(&["cp", "--sparse=always", s(&img), s(&copy)], &[0]);
        // 0: clean, 1: errors corrected (a journal replayed counts as clean).
        let fsck = run(&["e2fsck", "-fy", s(&copy)], &[0, 1]);
        eprintln!(
            "e2fsck of the copy: exit {:?}\n{}",
            fsck.status.code(),
            String::from_utf8_lossy(&fsck.stdout)
        );
        std::fs::create_dir(&at).unwrap();
        self.mount(&copy, &at, "loop,ro");
        at
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        for (at, device) in self.mounted.drain(..).rev() {
            let unmounted = Command::new("umount")
                .arg(&at)
                .status()
                .is_ok_and(|s| s.success());
            if !unmounted {
                let _ = Command::new("umount").arg("-l").arg(&at).status();
            }
            // `mount -o loop` detaches on unmount; this is for when it did not.
            if device.starts_with("/dev/loop") {
                let _ = Command::new("losetup")
                    .arg("-d")
                    .arg(&device)
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
    }
}

/// Deterministic, incompressible bytes (xorshift), different for each seed.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The files of the installation (relative to each target) and their sizes: about 6 MiB.
fn layout() -> Vec<(bool, String, usize)> {
    let mut files = vec![
        (true, "databases/neo4j/neostore".to_string(), 2 << 20),
        (
            true,
            "databases/neo4j/neostore.nodestore.db".into(),
            512 << 10,
        ),
        (
            true,
            "transactions/neo4j/neostore.transaction.db.0".into(),
            1 << 20,
        ),
        (true, "server_id".into(), 16),
        (false, "structr.conf".into(), 300),
        (false, "lib/structr.jar".into(), 700 << 10),
        (false, "logs/server.log".into(), 20 << 10),
    ];
    for i in 0..40 {
        files.push((
            false,
            format!("files/{}/{}/file-{i}", i % 4, i % 7),
            40 << 10,
        ));
    }
    files
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

fn fill(sb: &Sandbox, generation: u64) {
    for (i, (neo4j, rel, len)) in layout().into_iter().enumerate() {
        let root = if neo4j {
            &sb.neo4j_data
        } else {
            &sb.structr_dir
        };
        write(&root.join(rel), &bytes(generation * 1000 + i as u64, len));
    }
}

/// `path → sha256` of every regular file under `root`, and the list of all entries.
fn hashes(root: &Path) -> (BTreeMap<String, String>, Vec<String>) {
    let out = shell(
        "find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum",
        root,
    );
    assert!(
        out.status.success(),
        "sha256sum in {}: {}",
        root.display(),
        text(&out)
    );
    let files = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(h, p)| (p.to_string(), h.to_string()))
        .collect();
    let out = shell("find . | LC_ALL=C sort", root);
    let entries = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    (files, entries)
}

/// What differs between the expected tree and the one found, for the report.
fn compare(what: &str, expected: &Path, found: &Path) -> Vec<String> {
    if !found.is_dir() {
        return vec![format!("{what}: {} is not there", found.display())];
    }
    let (want, want_entries) = hashes(expected);
    let (got, got_entries) = hashes(found);
    let mut problems = Vec::new();
    let (mut missing, mut differ) = (0, 0);
    for (path, hash) in &want {
        match got.get(path) {
            None => missing += 1,
            Some(h) if h != hash => differ += 1,
            Some(_) => {}
        }
    }
    let extra = got.keys().filter(|p| !want.contains_key(*p)).count();
    if missing + differ + extra > 0 {
        let empty = want
            .keys()
            .filter(|p| {
                std::fs::metadata(found.join(p)).is_ok_and(|m| m.len() == 0)
                    && std::fs::metadata(expected.join(p)).is_ok_and(|m| m.len() > 0)
            })
            .count();
        problems.push(format!(
            "{what}: of {} files, {missing} missing, {differ} with other contents \
             ({empty} of them empty), {extra} not in the generation",
            want.len()
        ));
    } else if want_entries != got_entries {
        problems.push(format!("{what}: same files, but other folders"));
    }
    problems
}

#[test]
fn a_restore_that_exited_0_survives_a_power_cut() {
    let mut disk = Disk::new();
    let sb = Sandbox::new(Options {
        flag_services: true,
        base: Some(disk.mnt.clone()),
        ..Options::default()
    });
    fill(&sb, 1);
    sb.start();
    let out = sb.cli(&["backup", "--label", "before"]);
    assert!(out.status.success(), "{}", text(&out));
    let id = sb.newest();

    // The generation by hand, outside the image: what the restore must put back.
    let reference = tempfile::tempdir().unwrap();
    let show = sb.cli(&["show", &id, "--json"]);
    assert!(show.status.success(), "{}", text(&show));
    let manifest: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let gen_dir = sb.repo.join(&id);
    let mut targets = Vec::new();
    for c in manifest["components"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let into = reference.path().join(name);
        std::fs::create_dir(&into).unwrap();
        let out = shell(
            &format!(
                "zstd -d < {} | tar -x --numeric-owner -p -C {}",
                shell_words::quote(c["archive"].as_str().unwrap()),
                shell_words::quote(s(&into))
            ),
            &gen_dir,
        );
        assert!(out.status.success(), "extract {name}: {}", text(&out));
        targets.push((
            name.to_string(),
            into,
            PathBuf::from(c["source"].as_str().unwrap()),
        ));
    }
    assert_eq!(targets.len(), 2, "{manifest}");

    // Every file of the live installation changes, and new ones appear.
    fill(&sb, 2);
    for i in 0..10 {
        write(
            &sb.structr_dir.join(format!("files/new/n-{i}")),
            &bytes(3000 + i, 30 << 10),
        );
        write(
            &sb.neo4j_data.join(format!("databases/new-{i}")),
            &bytes(4000 + i, 30 << 10),
        );
    }

    let out = sb.cli(&["restore", &id, "--yes", "--json"]);
    // The power cut, the moment the restore reports success.
    let copy = if out.status.success() {
        Some(disk.power_cut_copy())
    } else {
        None
    };
    assert!(out.status.success(), "restore: {}", text(&out));
    let copy = copy.unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let safety = report["safety_backup"]
        .as_str()
        .expect("a safety backup id");

    // Where a path inside the live mount is in the copy's mount.
    let in_copy = |p: &Path| copy.join(p.strip_prefix(&disk.mnt).unwrap());
    let mut problems = Vec::new();
    for (name, expected, target) in &targets {
        problems.extend(compare(
            &format!("restored {name} ({})", target.display()),
            expected,
            &in_copy(target),
        ));
    }
    let safety_dir = in_copy(&sb.repo.join(safety));
    if safety_dir.is_dir() {
        let out = shell("sha256sum --quiet -c SHA256SUMS", &safety_dir);
        if !out.status.success() {
            problems.push(format!(
                "safety backup {safety}: sha256sum -c SHA256SUMS fails: {}",
                text(&out)
            ));
        }
    } else {
        problems.push(format!(
            "safety backup {safety}: its folder is not in the image after the power cut"
        ));
    }
    assert!(
        problems.is_empty(),
        "after a power cut right after `restore` exited 0:\n{}",
        problems.join("\n")
    );
}
