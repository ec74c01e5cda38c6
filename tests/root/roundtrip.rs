//! Back up, change and delete files, restore: the restored trees equal the
//! originals in contents, modes, ownership, mtimes, symlinks, hardlinks, empty
//! folders and odd names; and a generation is readable with standard tools alone.

use crate::common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use common::{shell, text, tree, Kind, Options, Sandbox};

fn write(path: &Path, data: &[u8], mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn set_mtime(path: &Path, secs: i64) {
    tree::set_mtime_ns(path, secs, 0);
}

/// A Structr-like tree with everything an archive must keep.
fn odd_tree(root: &Path) {
    write(
        &root.join("structr.conf"),
        b"superuser.password = secret\n",
        0o600,
    );
    write(
        &root.join("files/a/b/c/d/abcd1234"),
        &vec![7u8; 300_000],
        0o644,
    );
    write(
        &root.join("scripts/run me.sh"),
        b"#!/bin/sh\necho hi\n",
        0o755,
    );
    write(
        &root.join(OsStr::from_bytes(b"files/caf\xe9-latin1.txt")),
        b"non-utf8 name",
        0o640,
    );
    write(&root.join("x".repeat(180)), b"long name", 0o644);
    write(&root.join("setuid-tool"), b"\x7fELF", 0o4755);
    write(&root.join("lib/structr.jar"), b"jar", 0o644);
    std::fs::hard_link(root.join("lib/structr.jar"), root.join("lib/hardlink.jar")).unwrap();
    symlink("lib/structr.jar", root.join("current.jar")).unwrap();
    symlink("/nonexistent/target", root.join("dangling")).unwrap();
    std::fs::create_dir_all(root.join("logs/empty")).unwrap();
    std::fs::create_dir_all(root.join("sticky")).unwrap();
    std::fs::set_permissions(root.join("sticky"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    assert!(
        nix::unistd::geteuid().is_root(),
        "this tree has files of other owners: run the suite as root (scripts/test)"
    );
    write(&root.join("owned-by-1234"), b"owned", 0o600);
    std::os::unix::fs::lchown(root.join("owned-by-1234"), Some(1234), Some(2345)).unwrap();
    set_mtime(&root.join("structr.conf"), 1_600_000_000);
    set_mtime(&root.join("current.jar"), 1_500_000_000);
    for d in [
        "logs/empty",
        "logs",
        "sticky",
        "files/a/b/c/d",
        "files/a/b/c",
        "files/a/b",
        "files/a",
        "files",
        "lib",
        "scripts",
    ] {
        set_mtime(&root.join(d), 1_400_000_000);
    }
}

fn neo4j_tree(root: &Path) {
    write(&root.join("databases/store_lock"), b"", 0o644);
    write(
        &root.join("databases/neo4j/neostore.nodestore.db"),
        &(0..2_000_000u32)
            .map(|i| (i * 31 % 251) as u8)
            .collect::<Vec<_>>(),
        0o644,
    );
    write(&root.join("databases/neo4j/database_lock"), b"", 0o644);
    write(
        &root.join("transactions/neo4j/neostore.transaction.db.0"),
        b"tx",
        0o644,
    );
    write(&root.join("server_id"), b"id", 0o644);
    std::fs::create_dir_all(root.join("dbms")).unwrap();
}

#[test]
fn round_trip_restores_everything_exactly() {
    round_trip(Kind::Archive);
}

#[test]
fn restic_round_trip_restores_everything_exactly() {
    round_trip(Kind::restic());
}

/// A sandbox of `kind` holding both test trees, its services up and its
/// repository ready (a restic one needs `init`).
fn trees_sandbox(kind: Kind) -> Sandbox {
    let restic = kind != Kind::Archive;
    let sb = Sandbox::new(Options {
        flag_services: true,
        kind,
        ..Options::default()
    });
    odd_tree(&sb.structr_dir);
    neo4j_tree(&sb.neo4j_data);
    sb.start();
    if restic {
        sb.init();
    }
    sb
}

/// The same round trip for both repository kinds.
fn round_trip(kind: Kind) {
    let archive = kind == Kind::Archive;
    let sb = trees_sandbox(kind);
    let original_structr = tree::snapshot(&sb.structr_dir);
    let original_neo4j = tree::snapshot(&sb.neo4j_data);

    let out = sb.cli(&["backup", "--label", "first"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        sb.running("neo4j") && sb.running("structr"),
        "services run after the backup"
    );
    let gens = sb.generations();
    assert_eq!(gens.len(), 1);
    if archive {
        // Standard tools read the generation.
        let gen_dir = sb.repo.join(&gens[0]);
        let check = shell("sha256sum -c SHA256SUMS", &gen_dir);
        assert!(check.status.success(), "{}", text(&check));
        let listing = shell("zstd -d < structr.tar.zst | tar -t", &gen_dir);
        assert!(listing.status.success(), "{}", text(&listing));
        let names = String::from_utf8_lossy(&listing.stdout);
        assert!(
            names.lines().any(|l| l == "files/a/b/c/d/abcd1234"),
            "{names}"
        );
        assert!(names.lines().any(|l| l == "scripts/run me.sh"), "{names}");
        // Owners by name as well as by number (GNU tar's uname/gname), so a
        // restore elsewhere can map them; a uid without a name stays a number.
        let verbose = shell("zstd -d < structr.tar.zst | tar -tv", &gen_dir);
        let listing = String::from_utf8_lossy(&verbose.stdout);
        let line = |name: &str| {
            listing
                .lines()
                .find(|l| l.ends_with(name))
                .unwrap_or_else(|| panic!("{name} in {listing}"))
                .to_string()
        };
        assert!(line("structr.conf").contains(" root/root "), "{listing}");
        assert!(line("owned-by-1234").contains(" 1234/2345 "), "{listing}");
    }

    // Damage the installation: change, delete, add.
    std::fs::write(
        sb.structr_dir.join("structr.conf"),
        "superuser.password = changed\n",
    )
    .unwrap();
    std::fs::remove_dir_all(sb.structr_dir.join("files")).unwrap();
    std::fs::write(sb.structr_dir.join("new-file"), "added later").unwrap();
    std::fs::remove_file(sb.neo4j_data.join("databases/neo4j/neostore.nodestore.db")).unwrap();

    let out = sb.cli(&["--yes", "restore", &gens[0]]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        sb.running("neo4j") && sb.running("structr"),
        "services run after the restore"
    );

    let d = tree::diff(&original_structr, &tree::snapshot(&sb.structr_dir));
    assert!(
        d.is_empty(),
        "structr tree differs after restore:\n{}",
        d.join("\n")
    );
    let d = tree::diff(&original_neo4j, &tree::snapshot(&sb.neo4j_data));
    assert!(
        d.is_empty(),
        "neo4j tree differs after restore:\n{}",
        d.join("\n")
    );

    // The replaced state is kept beside the target, and a safety backup exists.
    let kept = sb
        .dir
        .path()
        .join(format!("structr.pre-restore-{}", gens[0]));
    assert_eq!(
        std::fs::read_to_string(kept.join("new-file")).unwrap(),
        "added later"
    );
    let out = sb.cli(&["list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let labels: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["pre-restore", "first"]);
}

#[test]
fn manual_restore_with_standard_tools_reproduces_the_tree() {
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    odd_tree(&sb.structr_dir);
    neo4j_tree(&sb.neo4j_data);
    sb.start();
    let original = tree::snapshot(&sb.structr_dir);
    sb.backup_ok(&[]);
    let gen_dir = sb.repo.join(&sb.generations()[0]);
    let target = sb.dir.path().join("manual");
    std::fs::create_dir(&target).unwrap();
    // The README's manual restore, word for word.
    let script = format!(
        "sha256sum -c SHA256SUMS && zstd -d < structr.tar.zst | tar --xattrs --xattrs-include='*' -x --numeric-owner -p -C {}",
        target.display()
    );
    let out = shell(&script, &gen_dir);
    assert!(out.status.success(), "{}", text(&out));
    let d = tree::diff(&original, &tree::snapshot(&target));
    assert!(d.is_empty(), "tar -x tree differs:\n{}", d.join("\n"));
}

/// Extended attributes (user, trusted), ACLs (access and default), a file
/// capability, a sparse file and nanosecond mtimes on files, folders and symlinks
/// survive a backup and a restore through the binary, and a restore by hand with
/// GNU tar alone.
#[test]
fn xattrs_acls_capabilities_sparse_files_and_ns_mtimes_survive() {
    attributes_round_trip(Kind::Archive);
}

#[test]
fn restic_keeps_xattrs_acls_capabilities_and_ns_mtimes() {
    attributes_round_trip(Kind::restic());
}

fn attributes_round_trip(kind: Kind) {
    let archive = kind == Kind::Archive;
    let base = tree::XattrBase::new();
    let sb = Sandbox::new(Options {
        flag_services: true,
        base: base.path.clone(),
        kind,
        ..Options::default()
    });
    tree::attribute_tree(&sb.structr_dir);
    neo4j_tree(&sb.neo4j_data);
    sb.start();
    if !archive {
        sb.init();
    }
    let original = tree::snapshot(&sb.structr_dir);
    let report = tree::attr_report(&sb.structr_dir);
    for needle in [
        "user.comment=",
        "user.binary=",
        "trusted.structr=",
        "system.posix_acl_default",
        "getfacl: user:nobody:r--",
        "getfacl: default:user:nobody:r-x",
        "cap_net_bind_service=ep",
        ".123456789",
    ] {
        assert!(
            report.iter().any(|l| l.contains(needle)),
            "the test tree lacks {needle}: {report:#?}"
        );
    }
    let sparse_blocks = tree::blocks(&sb.structr_dir.join(tree::SPARSE));
    assert!(
        sparse_blocks < 1024,
        "the source is sparse: {sparse_blocks}"
    );

    let (id, _) = sb.backup_ok(&[]);

    std::fs::remove_dir_all(sb.structr_dir.join("attrs")).unwrap();
    let out = sb.cli(&["--yes", "restore", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let d = tree::diff(&original, &tree::snapshot(&sb.structr_dir));
    assert!(d.is_empty(), "restored tree differs:\n{}", d.join("\n"));
    let d = tree::report_diff(&report, &tree::attr_report(&sb.structr_dir));
    assert!(
        d.is_empty(),
        "restored attributes differ:\n{}",
        d.join("\n")
    );
    if !archive {
        // restic 0.14 restores holes as written zeros (sparse restore came in 0.15):
        // the bytes are right, the disk use is not kept.
        return;
    }
    let restored_blocks = tree::blocks(&sb.structr_dir.join(tree::SPARSE));
    assert!(
        restored_blocks <= sparse_blocks.max(8) * 2,
        "the restored file is sparse: {restored_blocks} blocks of 512 bytes, the source had {sparse_blocks}"
    );

    // GNU tar alone restores the same attributes from the same archive.
    let manual = sb.dir.path().join("manual");
    std::fs::create_dir(&manual).unwrap();
    let script = format!(
        "sha256sum -c SHA256SUMS && zstd -d < structr.tar.zst | tar --xattrs --xattrs-include='*' --numeric-owner -p -xf - -C {}",
        manual.display()
    );
    let out = shell(&script, &sb.repo.join(&id));
    assert!(out.status.success(), "{}", text(&out));
    let d = tree::diff(&original, &tree::snapshot(&manual));
    assert!(d.is_empty(), "tar -x tree differs:\n{}", d.join("\n"));
    let d = tree::report_diff(&report, &tree::attr_report(&manual));
    assert!(d.is_empty(), "tar -x attributes differ:\n{}", d.join("\n"));
}

#[test]
fn a_mount_point_inside_a_component_is_kept_empty_with_a_warning() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test mounts a tmpfs: run the suite as root (scripts/test)"
    );
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    odd_tree(&sb.structr_dir);
    neo4j_tree(&sb.neo4j_data);
    let mnt = sb.structr_dir.join("uploads");
    let _mounted = common::Tmpfs::mount(&mnt, "4m");
    std::fs::write(mnt.join("on-another-fs"), b"not ours").unwrap();
    sb.start();

    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    let log =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        log.contains(&mnt.display().to_string())
            && log.contains("mount point")
            && log.contains("own component"),
        "a warning names the mount point and what to do: {log}"
    );
    let gen_dir = sb.repo.join(&sb.generations()[0]);
    let listing = shell("zstd -d < structr.tar.zst | tar -t", &gen_dir);
    assert!(listing.status.success(), "{}", text(&listing));
    let names = String::from_utf8_lossy(&listing.stdout);
    assert!(
        names.lines().any(|l| l.trim_end_matches('/') == "uploads"),
        "{names}"
    );
    assert!(!names.contains("on-another-fs"), "{names}");
    let files = std::fs::read_to_string(gen_dir.join("structr.files")).unwrap();
    assert!(!files.contains("on-another-fs"), "{files}");
}

/// A fresh server: one target does not exist (nor its parent), the other is
/// empty. The restore makes them, saves nothing (and says why), and the trees
/// come back exactly. For both repository kinds.
#[test]
fn a_restore_onto_missing_and_empty_targets_creates_them() {
    for kind in [Kind::Archive, Kind::restic()] {
        let sb = trees_sandbox(kind);
        let original_structr = tree::snapshot(&sb.structr_dir);
        let original_neo4j = tree::snapshot(&sb.neo4j_data);
        let (id, _) = sb.backup_ok(&[]);

        // The new machine: no Neo4j folder at all, an empty Structr folder.
        std::fs::remove_dir_all(sb.neo4j_data.parent().unwrap()).unwrap();
        std::fs::remove_dir_all(&sb.structr_dir).unwrap();
        std::fs::create_dir(&sb.structr_dir).unwrap();

        let out = sb.cli(&["--yes", "restore", &id]);
        assert!(out.status.success(), "{}", text(&out));
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(
            log.contains(&format!(
                "nothing to save: {} is empty",
                sb.structr_dir.display()
            )),
            "{log}"
        );
        assert!(
            log.contains(&format!(
                "nothing to save: {} does not exist",
                sb.neo4j_data.display()
            )),
            "{log}"
        );
        assert!(
            !log.contains("safety backup of"),
            "nothing to save, no safety backup: {log}"
        );
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains(&format!(
                "{} does not exist yet: it is CREATED",
                sb.neo4j_data.display()
            )),
            "{said}"
        );
        let d = tree::diff(&original_structr, &tree::snapshot(&sb.structr_dir));
        assert!(d.is_empty(), "structr differs:\n{}", d.join("\n"));
        let d = tree::diff(&original_neo4j, &tree::snapshot(&sb.neo4j_data));
        assert!(d.is_empty(), "neo4j differs:\n{}", d.join("\n"));
        assert_eq!(sb.generations(), vec![id], "no safety backup was written");
        assert!(sb.running("neo4j") && sb.running("structr"));
    }
}

/// The id a name has on this machine (`id -u daemon`).
fn id_of(flag: &str, name: &str) -> u32 {
    let out = std::process::Command::new("id")
        .args([flag, name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Adds owner names to a generation as if the machine that made it had called
/// uid/gid 4242 `daemon` and uid 4243 `sb-nobody-here`: the situation of a
/// fresh server, where the same user has another number.
fn rename_owners(sb: &Sandbox, kind: &Kind, id: &str) {
    match kind {
        Kind::Archive => {
            let path = sb.repo.join(id).join("manifest.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.contains("[owners.users]") && text.contains("[owners.groups]"),
                "the manifest records owners by name:\n{text}"
            );
            let text = text
                .replace(
                    "[owners.users]\n",
                    "[owners.users]\n4242 = \"daemon\"\n4243 = \"sb-nobody-here\"\n",
                )
                .replace("[owners.groups]\n", "[owners.groups]\n4242 = \"daemon\"\n");
            std::fs::write(&path, text).unwrap();
        }
        _ => {
            let out = std::process::Command::new("restic")
                .arg("-r")
                .arg(&sb.repo)
                .args([
                    "tag",
                    "--tag",
                    &format!("id:{id}"),
                    "--add",
                    "user:4242=daemon,user:4243=sb-nobody-here,group:4242=daemon",
                ])
                .env("RESTIC_PASSWORD_FILE", sb.password_file())
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", text(&out));
        }
    }
}

#[test]
fn owners_are_mapped_by_name_onto_another_machine() {
    if !nix::unistd::geteuid().is_root() {
        panic!("this test restores file owners: run it as root (scripts/test does)");
    }
    let (daemon_uid, daemon_gid) = (id_of("-u", "daemon"), id_of("-g", "daemon"));
    for kind in [Kind::Archive, Kind::restic()] {
        let sb = trees_sandbox(kind.clone());
        // A setuid program of a user that has another uid on the new machine:
        // its setuid bit must survive the change of owner (chown clears it).
        let suid = sb.structr_dir.join("bin-of-4242");
        write(&suid, b"\x7fELF", 0o750);
        // chown clears setuid: the mode comes after.
        std::os::unix::fs::lchown(&suid, Some(4242), Some(4242)).unwrap();
        std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4750)).unwrap();
        let other = sb.structr_dir.join("of-4243");
        write(&other, b"x", 0o640);
        std::os::unix::fs::lchown(&other, Some(4243), Some(4243)).unwrap();
        let (id, _) = sb.backup_ok(&[]);
        rename_owners(&sb, &kind, &id);

        std::fs::remove_dir_all(&sb.structr_dir).unwrap();
        let out = sb.cli(&["--yes", "restore", &id]);
        assert!(out.status.success(), "{}", text(&out));
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains(&format!(
                "owner daemon (user): uid 4242 in the generation → {daemon_uid} here"
            )) && said.contains(&format!(
                "owner daemon (group): gid 4242 in the generation → {daemon_gid} here"
            )),
            "the plan reports each mapping: {said}"
        );
        assert!(
            said.contains(
                "WARNING: user sb-nobody-here (uid 4243 in the generation) does not exist here"
            ) && said.contains("useradd --system --no-create-home sb-nobody-here"),
            "a missing name is a warning with its fix: {said}"
        );
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::symlink_metadata(&suid).unwrap();
        assert_eq!((m.uid(), m.gid()), (daemon_uid, daemon_gid), "{kind:?}");
        assert_eq!(
            m.mode() & 0o7777,
            0o4750,
            "setuid kept after the owner changed ({kind:?})"
        );
        let m = std::fs::symlink_metadata(&other).unwrap();
        assert_eq!(
            (m.uid(), m.gid()),
            (4243, 4243),
            "an unknown name keeps its number"
        );
        let m = std::fs::symlink_metadata(sb.structr_dir.join("owned-by-1234")).unwrap();
        assert_eq!(
            (m.uid(), m.gid()),
            (1234, 2345),
            "an id without a name keeps its number"
        );
    }
}

#[test]
fn restore_from_a_copied_folder_without_a_local_history() {
    for kind in [Kind::Archive, Kind::restic()] {
        let sb = trees_sandbox(kind.clone());
        let original = tree::snapshot(&sb.structr_dir);
        let (id, _) = sb.backup_ok(&[]);
        // The repository reaches the new machine as a copied folder (a USB disk);
        // the configured one is gone.
        let copy = sb.dir.path().join("usb disk/structr backups");
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        let out = shell(
            &format!(
                "cp -a {} {}",
                shell_words::quote(&sb.repo.display().to_string()),
                shell_words::quote(&copy.display().to_string())
            ),
            sb.dir.path(),
        );
        assert!(out.status.success(), "{}", text(&out));
        std::fs::remove_dir_all(&sb.repo).unwrap();
        std::fs::remove_dir_all(&sb.structr_dir).unwrap();
        std::fs::remove_dir_all(&sb.neo4j_data).unwrap();

        // A restic repository also as a repository string with its password file.
        let from = match kind {
            Kind::Archive => copy.display().to_string(),
            _ => {
                let pw = sb.dir.path().join("usb disk/password");
                std::fs::copy(sb.password_file(), &pw).unwrap();
                std::fs::remove_file(sb.password_file()).unwrap();
                format!("local:{}", copy.display())
            }
        };
        let pw = sb
            .dir
            .path()
            .join("usb disk/password")
            .display()
            .to_string();
        let with_from = |args: &[&str]| {
            let mut v = vec!["--from", from.as_str()];
            if kind != Kind::Archive {
                v.extend(["--password-file", pw.as_str()]);
            }
            v.extend(args);
            sb.cli(&v)
        };
        if kind == Kind::Archive {
            // A generation of another kind of installation is refused, naming
            // its components, before anything stops.
            let other = sb.dir.path().join("other-kind");
            let out = shell(
                &format!(
                    "cp -a {0} {1} && sed -i 's/^installation = .*/installation = \"systemd\"/' {1}/*/manifest.toml",
                    shell_words::quote(&copy.display().to_string()),
                    shell_words::quote(&other.display().to_string())
                ),
                sb.dir.path(),
            );
            assert!(out.status.success(), "{}", text(&out));
            let out = sb.cli(&[
                "--from",
                &other.display().to_string(),
                "--yes",
                "restore",
                "latest",
            ]);
            assert_eq!(out.status.code(), Some(1), "{}", text(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(
                    "was taken from a systemd installation and this is a custom installation"
                ) && err.contains("neo4j-data (neo4j-data, from")
                    && err.contains("Nothing was stopped"),
                "{err}"
            );
            assert!(!sb.structr_dir.exists() && !sb.neo4j_data.exists());
        }
        let out = with_from(&["list"]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&id),
            "{}",
            text(&out)
        );
        let out = with_from(&["--yes", "restore", "latest"]);
        assert!(out.status.success(), "{}", text(&out));
        let d = tree::diff(&original, &tree::snapshot(&sb.structr_dir));
        assert!(d.is_empty(), "{kind:?} structr differs:\n{}", d.join("\n"));
        assert!(
            !sb.repo.exists(),
            "nothing was written into the configured repository"
        );
        assert!(sb.running("neo4j") && sb.running("structr"));

        // A typo names what is wrong and how to fix it.
        let out = sb.cli(&["--from", "/no/such/folder", "list"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("there is no folder /no/such/folder and no off-site target of that name"),
            "{}",
            text(&out)
        );
    }
}
