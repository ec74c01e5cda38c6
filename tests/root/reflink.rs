//! On a file system with reflinks (XFS here, made on a loop device), the backup
//! brings a reflink mirror up to date while the services are stopped (cloning
//! the changed files) and compresses afterwards:
//! the downtime is a fraction of the backup, and the generation is as good,
//! extended attributes, ACLs, capabilities and nanosecond mtimes included.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{shell, text, tree, Options, Sandbox};

/// The mount point, and the folder holding the image (removed on drop).
pub struct XfsMount(pub PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl XfsMount {
    pub fn new() -> XfsMount {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test mounts an XFS image: run the suite as root (scripts/test)"
        );
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("xfs.img");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new(args[0])
                .args(&args[1..])
                .output()
                .unwrap_or_else(|e| panic!("{}: {e} (scripts/test installs xfsprogs)", args[0]));
            assert!(out.status.success(), "{args:?}: {}", text(&out));
        };
        run(&["truncate", "-s", "2G", &img.display().to_string()]);
        run(&[
            "mkfs.xfs",
            "-q",
            "-m",
            "reflink=1",
            &img.display().to_string(),
        ]);
        run(&[
            "mount",
            "-o",
            "loop",
            &img.display().to_string(),
            &mnt.display().to_string(),
        ]);
        XfsMount(mnt, dir)
    }
}

impl Drop for XfsMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn timings(gen_dir: &Path) -> (f64, f64) {
    let m: toml::Value =
        toml::from_str(&std::fs::read_to_string(gen_dir.join("manifest.toml")).unwrap()).unwrap();
    let t = &m["timings"];
    (
        t["downtime_secs"].as_float().unwrap(),
        t["total_secs"].as_float().unwrap(),
    )
}

#[test]
fn a_reflink_clone_keeps_the_downtime_short_and_the_backup_whole() {
    let xfs = XfsMount::new();
    let sb = Sandbox::new(Options {
        store_mb: 400,
        base: Some(xfs.0.clone()),
        ..Options::default()
    });
    // A slow compression level makes the difference between downtime and total plain.
    let cfg = std::fs::read_to_string(&sb.config)
        .unwrap()
        .replace("compression_level = 3", "compression_level = 12");
    std::fs::write(&sb.config, cfg).unwrap();
    // Attributes only careful copies keep: the clone must keep them for the archive.
    tree::attribute_tree(&sb.structr_dir);
    let attrs = sb.structr_dir.join("attrs");
    let (original, report) = (tree::snapshot(&attrs), tree::attr_report(&attrs));
    sb.start();

    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("done: reflink mirror neo4j-data (changed files cloned)"),
        "{log}"
    );
    assert!(sb.running("neo4j") && sb.running("structr"));
    let id = sb.newest();
    let gen_dir = sb.repo.join(&id);
    let (downtime, total) = timings(&gen_dir);
    assert!(
        downtime < total / 2.0,
        "downtime {downtime:.2} s of {total:.2} s"
    );
    assert!(
        !gen_dir.join(".clone").exists(),
        "nothing is staged in the repository"
    );

    // The generation is whole: checksums, every file, and a consistent pair.
    let out = sb.cli(&["verify", "--deep", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let x = sb.dir.path().join("x");
    for (c, d) in [("neo4j-data", "data"), ("structr", "structr")] {
        std::fs::create_dir_all(x.join(d)).unwrap();
        let out = shell(
            &format!(
                "zstd -d < {c}.tar.zst | tar --xattrs --xattrs-include='*' --numeric-owner -p -x -C {}",
                x.join(d).display()
            ),
            &gen_dir,
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let check = Sandbox::check_invariant(&x.join("data"), &x.join("structr"));
    assert!(check.status.success(), "{}", text(&check));
    let restored = x.join("structr/attrs");
    let d = tree::diff(&original, &tree::snapshot(&restored));
    assert!(d.is_empty(), "the cloned tree differs:\n{}", d.join("\n"));
    let d = tree::report_diff(&report, &tree::attr_report(&restored));
    assert!(d.is_empty(), "the clone lost attributes:\n{}", d.join("\n"));
    drop(sb);
}
