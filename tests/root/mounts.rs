//! Mount points where they matter, on tmpfs file systems the tests mount (so
//! they run as root): a mount inside a component is not entered and is listed
//! before the services stop, a restore that would carry a mount away is refused,
//! and a repository on a small or filling disk fails before or without harm.
//! (Moved here from archive.rs, live_services.rs and trust.rs: the fast tier
//! runs without root.)

use crate::common;

use std::fs;
use std::os::unix::fs::symlink;

use common::{shell, slow_backup, slow_sandbox, text, tree::sample, Options, Sandbox};
use structr_backup::cancel::Cancel;
use structr_backup::repo::archive::{write_archive, ArchiveOptions};

/// A mounted file system inside a component is archived as its folder, not
/// entered, with a warning; `boundaries` lists it with the symlinks that leave
/// the component, and `measure` counts what the archive holds.
#[test]
fn mount_points_are_not_entered_and_boundaries_are_listed() {
    use structr_backup::repo::archive::ArchiveEvent;
    use structr_backup::repo::tree::{boundaries, measure, Boundary};
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test mounts a tmpfs: run the suite as root (scripts/test)"
    );
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    sample(&src);
    let mnt = src.join("dir with space/mnt");
    let _mounted = common::Tmpfs::mount(&mnt, "4m");
    std::fs::write(mnt.join("elsewhere"), vec![1u8; 1000]).unwrap();
    symlink("/etc/hostname", src.join("abs-out")).unwrap();
    symlink("../../outside", src.join("dir with space/rel-out")).unwrap();
    symlink("../databases", src.join("dir with space/rel-in")).unwrap();

    assert_eq!(
        boundaries(&src).unwrap(),
        vec![
            Boundary::SymlinkOut {
                link: src.join("abs-out"),
                target: "/etc/hostname".into()
            },
            Boundary::MountPoint(mnt.clone()),
            Boundary::SymlinkOut {
                link: src.join("dir with space/rel-out"),
                target: "../../outside".into()
            },
        ]
    );
    assert_eq!(measure(&src).unwrap(), (2, 5 << 20));

    let out = dir.path().join("a.tar.zst");
    let mut warnings = Vec::new();
    let s = write_archive(
        &src,
        &out,
        &ArchiveOptions::default(),
        &Cancel::new(),
        &mut |e| {
            if let ArchiveEvent::Warning(w) = e {
                warnings.push(w)
            }
        },
    )
    .unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(&mnt.display().to_string()) && warnings[0].contains("own component"),
        "{warnings:?}"
    );
    assert_eq!((s.files, s.bytes), measure(&src).unwrap());
    let paths: Vec<String> = s
        .index
        .iter()
        .map(|e| String::from_utf8_lossy(&e.path).into_owned())
        .collect();
    assert!(
        paths.contains(&"dir with space/mnt".to_string()),
        "{paths:?}"
    );
    assert!(!paths.iter().any(|p| p.contains("elsewhere")), "{paths:?}");
}

#[test]
fn what_leaves_a_component_is_listed_and_a_symlinked_files_folder_is_backed_up() {
    let sb = common::flag_sandbox();
    // files/ lives on "another disk", reached through a symlink, as admins do.
    let disk = sb.dir.path().join("otherdisk/files");
    fs::create_dir_all(&disk).unwrap();
    fs::write(disk.join("upload.bin"), "uploaded").unwrap();
    fs::remove_dir_all(sb.structr_dir.join("files")).unwrap();
    std::os::unix::fs::symlink(&disk, sb.structr_dir.join("files")).unwrap();
    // A link deeper down that points out, and a mount point inside.
    fs::create_dir_all(sb.structr_dir.join("scripts")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", sb.structr_dir.join("scripts/host")).unwrap();
    let cache = sb.structr_dir.join("cache");
    let mounted = common::Tmpfs::mount(&cache, "1m");
    fs::write(cache.join("tmp"), "volatile").unwrap();

    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let plan_end = err.find("stop structr").unwrap();
    let before_stop = &err[..plan_end.max(err.find("done: preflight").unwrap_or(0))];
    assert!(
        before_stop.contains(&format!("{} is a mount point", cache.display())),
        "{err}"
    );
    assert!(
        before_stop.contains("scripts/host is a symbolic link to /etc/hostname"),
        "{err}"
    );
    assert!(!before_stop.contains("files is a symbolic link"), "{err}");
    let id = sb.newest();
    let out = sb.cli(&["show", "--json", &id]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"structr-files"), "{names:?}");

    // A restore by rename would carry the mount away with the old folder: refused
    // before anything stops, until it is unmounted.
    let out = sb.cli(&["--yes", "restore", "--no-safety-backup", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mounted inside it"),
        "{}",
        text(&out)
    );
    assert!(sb.running("structr") && sb.running("neo4j"));
    drop(mounted);

    // The uploads come back from the generation.
    fs::write(disk.join("upload.bin"), "changed").unwrap();
    let out = sb.cli(&["--yes", "restore", "--no-safety-backup", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        fs::read_to_string(sb.structr_dir.join("files/upload.bin")).unwrap(),
        "uploaded"
    );
}

#[test]
fn too_little_space_is_refused_before_anything_stops() {
    let sb = Sandbox::new(Options {
        store_mb: 40,
        ..Options::default()
    });
    let _disk = common::Tmpfs::mount(&sb.repo, "8m");
    sb.start();
    let pids = (sb.pid("neo4j"), sb.pid("structr"));
    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not enough free space"),
        "{}",
        text(&out)
    );
    assert_eq!(
        (sb.pid("neo4j"), sb.pid("structr")),
        pids,
        "nothing was restarted"
    );
    assert!(sb.running("structr") && sb.running("neo4j"));
}

#[test]
fn a_full_disk_mid_archive_leaves_no_generation_and_services_running() {
    let sb = slow_sandbox();
    let _disk = common::Tmpfs::mount(&sb.repo, "500m");
    sb.start();
    let child = slow_backup(&sb);
    // Fill the disk while the archive is being written.
    let fill = shell("fallocate -l $(( $(stat -f -c '%a*%S' .) )) filler || dd if=/dev/zero of=filler bs=1M 2>/dev/null; true", &sb.repo);
    assert!(fill.status.success(), "{}", text(&fill));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("full"), "{err}");
    assert!(err.contains("No generation was written"), "{err}");
    assert!(sb.running("structr") && sb.running("neo4j"));
    std::fs::remove_file(sb.repo.join("filler")).unwrap();
    assert!(sb.generations().is_empty());
    let names: Vec<String> = std::fs::read_dir(&sb.repo)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".partial")), "{names:?}");
}
