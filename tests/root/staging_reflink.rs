//! The reflink mirror: with the installation on XFS (a loop file system here)
//! and the repository elsewhere (a tmpfs), both kinds keep a persistent mirror
//! on the sources' own file system, and the window clones only the files that
//! changed since the last backup. Unchanged files keep their inode in the
//! mirror, a removed file leaves the next generation, the generation equals
//! the sources, restic records the installation's own paths, and the plan
//! shown before the run names what runs. Components on two file systems get
//! one mirror each; a killed update is repaired by the next backup.

use crate::common;
use crate::reflink::XfsMount;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{text, tree, write_random, Kind, Options, Sandbox, Tmpfs};

/// A sandbox on XFS whose repository lies on a tmpfs (its own file system),
/// with store files and Structr files written, services started.
struct Layout {
    sb: Sandbox,
    _other: Tmpfs,
    _xfs: XfsMount,
}

fn layout(kind: Kind, staging_elsewhere: bool) -> Layout {
    let xfs = XfsMount::new();
    let mut sb = Sandbox::new(Options {
        kind,
        flag_services: true,
        base: Some(xfs.0.clone()),
        ..Options::default()
    });
    let other = sb.dir.path().join("other");
    let tmpfs = Tmpfs::mount(&other, "600m");
    sb.repo = other.join("repo");
    sb.write_config();
    if staging_elsewhere {
        // [staging] folder off the sources' file system: the reflink mirror
        // goes to the XFS's own top folder instead.
        let cfg = std::fs::read_to_string(&sb.config).unwrap().replace(
            &format!("folder = \"{}\"", sb.dir.path().join("staging").display()),
            &format!("folder = \"{}\"", other.join("staging").display()),
        );
        std::fs::write(&sb.config, cfg).unwrap();
    }
    for (i, name) in [
        "neostore",
        "neostore.nodestore.db",
        "neostore.relationshipstore.db",
    ]
    .iter()
    .enumerate()
    {
        let p = sb.neo4j_data.join("databases/neo4j").join(name);
        write_random(&p, 3 << 20, i as u64 + 1);
    }
    write_random(&sb.neo4j_data.join("transactions/neo4j/tx.0"), 1 << 20, 7);
    for i in 0..20 {
        let p = sb.structr_dir.join(format!("files/{}/f{i}.bin", i % 4));
        write_random(&p, 20_000 + i * 100, 100 + i as u64);
    }
    std::fs::write(
        sb.structr_dir.join("structr.conf"),
        "superuser.password = x\n",
    )
    .unwrap();
    if matches!(sb.opts.kind, Kind::Restic { .. }) {
        sb.init();
    }
    sb.start();
    Layout {
        sb,
        _other: tmpfs,
        _xfs: xfs,
    }
}

fn components(sb: &Sandbox) -> [(&'static str, PathBuf); 2] {
    [
        ("neo4j-data", sb.neo4j_data.clone()),
        ("structr", sb.structr_dir.clone()),
    ]
}

/// Every regular file of `dir` with its inode.
fn inodes(dir: &Path) -> BTreeMap<PathBuf, u64> {
    walkdir(dir)
        .into_iter()
        .filter(|(_, m)| m.is_file())
        .map(|(p, m)| (p.strip_prefix(dir).unwrap().to_path_buf(), m.ino()))
        .collect()
}

fn walkdir(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = e.metadata().unwrap();
        if m.is_dir() {
            out.extend(walkdir(&e.path()));
        }
        out.push((e.path(), m));
    }
    out
}

/// The generation `id`'s component `name`, restored into a fresh folder.
fn restored(sb: &Sandbox, id: &str, name: &str) -> PathBuf {
    let to = sb.dir.path().join(format!("unpacked-{id}-{name}"));
    let out = sb.cli(&["restore", id, "--only", name, "--to", to.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    to
}

fn assert_generation_holds(sb: &Sandbox, id: &str) {
    for (name, path) in components(sb) {
        let d = tree::diff(
            &tree::snapshot(&path),
            &tree::snapshot(&restored(sb, id, name)),
        );
        assert!(d.is_empty(), "{id} {name} differs:\n{}", d.join("\n"));
    }
}

/// A day of writes: a store file rewritten in place (same size), one Structr
/// file removed, one added. Returns the two files that changed.
fn a_day_of_writes(sb: &Sandbox) -> [PathBuf; 2] {
    let store = PathBuf::from("databases/neo4j/neostore.nodestore.db");
    write_random(&sb.neo4j_data.join(&store), 3 << 20, 99);
    std::fs::remove_file(sb.structr_dir.join("files/1/f5.bin")).unwrap();
    let new = PathBuf::from("files/9/new.bin");
    write_random(&sb.structr_dir.join(&new), 50_000, 98);
    [store, new]
}

/// What the plan (the wizard's line, and the CLI's steps) says for this config.
fn plan_line(sb: &Sandbox) -> String {
    use structr_backup::{cancel::Cancel, install::detect, ops, repo::store::Store};
    let (config, _) = structr_backup::config::load(Some(&sb.config)).unwrap();
    let inst = detect::detect(&config).unwrap();
    let ctx = ops::Context::new(
        &config,
        &inst,
        Store::from_config(&config, None),
        Cancel::new(),
    );
    ops::backup::describe_window(&ctx)
}

#[test]
fn the_archive_kind_clones_only_what_changed_into_a_mirror_on_the_sources_file_system() {
    let l = layout(Kind::Archive, true);
    let sb = &l.sb;
    let xfs = &l._xfs.0;
    let staging = xfs.join(".structr-backup-staging");
    let said_plan = plan_line(sb);
    assert!(
        said_plan.contains("reflink mirror in")
            && said_plan.contains(&staging.display().to_string()),
        "{said_plan}"
    );

    // An rsync mirror first (as before reflink mirrors were used here): the
    // reflink mirror replaces it and says so, leaving it to the user.
    let auto = std::fs::read_to_string(&sb.config).unwrap();
    let mirror_mode = auto.replace("[staging]\n", "[staging]\nmode = \"mirror\"\n");
    std::fs::write(&sb.config, mirror_mode).unwrap();
    let (_, said) = sb.backup_ok(&[]);
    assert!(
        said.contains("done: mirror structr (changed files)"),
        "{said}"
    );
    std::fs::write(&sb.config, auto).unwrap();
    let old = sb.repo.parent().unwrap().join("staging");
    let (first, said) = sb.backup_ok(&[]);
    assert!(
        said.contains(&format!("the mirror {}", old.display())),
        "{said}"
    );
    assert!(said.contains("is no longer used"), "{said}");
    assert!(
        said.contains("plan: ") && said.contains("reflink mirror neo4j-data"),
        "{said}"
    );
    assert!(
        said.contains("done: reflink mirror structr (changed files cloned)"),
        "{said}"
    );
    assert!(said.contains("no mirror yet"), "{said}");
    // Its folder at the XFS's top, owner-only, one folder per installation.
    let mode = std::fs::metadata(&staging).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{}", staging.display());
    let keys: Vec<_> = std::fs::read_dir(&staging).unwrap().flatten().collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let mirror = keys[0].path();
    assert_generation_holds(sb, &first);

    let before: BTreeMap<_, _> = components(sb)
        .map(|(n, _)| (n, inodes(&mirror.join(n))))
        .into_iter()
        .collect();
    let [store, new] = a_day_of_writes(sb);
    let (second, said) = sb.backup_ok(&[]);
    assert!(
        said.contains("reflink mirror of neo4j-data: cloned 1 changed files"),
        "{said}"
    );
    assert!(
        said.contains("reflink mirror of structr: cloned 1 changed files"),
        "{said}"
    );
    assert!(
        !said.contains("no mirror yet") && !said.contains("made afresh"),
        "{said}"
    );
    // Unchanged files are left as they were: the same inode in the mirror.
    for (name, _) in components(sb) {
        let now = inodes(&mirror.join(name));
        for (rel, ino) in &before[name] {
            let changed = rel == &store || rel == Path::new("files/1/f5.bin");
            match now.get(rel) {
                Some(i) if !changed => {
                    assert_eq!(i, ino, "{name}/{} was copied again", rel.display())
                }
                Some(i) => assert_ne!(i, ino, "{name}/{} was not cloned anew", rel.display()),
                None => assert!(changed, "{name}/{} is gone from the mirror", rel.display()),
            }
        }
    }
    assert!(!mirror.join("structr/files/1/f5.bin").exists());
    assert!(mirror.join("structr").join(&new).exists());
    // The changed store file is a clone: its extents are shared with the source.
    let frag = common::shell(
        &format!(
            "filefrag -v {}",
            mirror.join("neo4j-data").join(&store).display()
        ),
        sb.dir.path(),
    );
    assert!(text(&frag).contains("shared"), "{}", text(&frag));
    assert_generation_holds(sb, &second);
    // The removed file is gone from the new generation (and in the one before).
    let names = sb.archive_names(&second, "structr");
    assert!(
        names.contains("files/9/new.bin") && !names.contains("f5.bin"),
        "{names}"
    );
}

#[test]
fn the_restic_kind_reads_the_reflink_mirror_at_the_installations_own_paths() {
    let l = layout(Kind::restic(), false);
    let sb = &l.sb;
    // [staging] folder is on the XFS here: the mirror lives there.
    let staging = sb.dir.path().join("staging");
    let said_plan = plan_line(sb);
    assert!(
        said_plan.contains("reflink mirror in")
            && said_plan.contains(&staging.display().to_string()),
        "{said_plan}"
    );
    assert!(
        said_plan.contains("restic reads it after the start"),
        "{said_plan}"
    );
    let (first, said) = sb.backup_ok(&[]);
    assert!(
        said.contains("done: reflink mirror neo4j-data (changed files cloned)"),
        "{said}"
    );
    assert_generation_holds(sb, &first);

    a_day_of_writes(sb);
    let (second, said) = sb.backup_ok(&[]);
    assert!(
        said.contains("reflink mirror of neo4j-data: cloned 1 changed files"),
        "{said}"
    );
    // The window ends before restic reads.
    let cloned = said.find("done: reflink mirror structr").unwrap();
    let started = said.find("done: start structr").unwrap();
    let copied = said.rfind("done: copy").unwrap();
    assert!(cloned < started && started < copied, "{said}");
    assert_generation_holds(sb, &second);
    // restic by hand: the snapshot holds the installation's paths, not the mirror's.
    let out = std::process::Command::new("restic")
        .args(["-r", sb.repo.to_str().unwrap(), "--password-file"])
        .arg(sb.password_file())
        .args(["ls", "latest"])
        .output()
        .unwrap();
    let ls = text(&out);
    assert!(out.status.success(), "{ls}");
    let store = sb.neo4j_data.join("databases/neo4j/neostore.nodestore.db");
    assert!(ls.contains(&store.display().to_string()), "{ls}");
    assert!(
        !ls.contains("f5.bin") && !ls.contains(&staging.display().to_string()),
        "{ls}"
    );
}

#[test]
fn mode_reflink_is_refused_before_anything_stops_where_the_sources_do_not_clone() {
    // An ordinary sandbox: the temporary folder's file system (not XFS here).
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    let fs_type = common::shell("stat -f -c %T .", sb.dir.path());
    assert!(
        !text(&fs_type).contains("xfs") && !text(&fs_type).contains("btrfs"),
        "this test needs a temporary folder on a file system without reflinks: {}",
        text(&fs_type)
    );
    std::fs::create_dir_all(sb.structr_dir.join("files")).unwrap();
    std::fs::create_dir_all(&sb.neo4j_data).unwrap();
    let cfg = std::fs::read_to_string(&sb.config)
        .unwrap()
        .replace("[staging]\n", "[staging]\nmode = \"reflink\"\n");
    std::fs::write(&sb.config, cfg).unwrap();
    sb.start();
    let line = plan_line(&sb);
    assert!(
        line.starts_with("Cannot back up: [staging] mode = \"reflink\""),
        "{line}"
    );
    let out = sb.cli(&["backup"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("does not clone files") || said.contains("not on a file system that clones"),
        "{said}"
    );
    assert!(
        said.contains("Nothing was stopped") && !said.contains("done: stop"),
        "{said}"
    );
    assert!(sb.running("neo4j") && sb.running("structr"));
}

#[test]
fn a_backup_killed_while_cloning_leaves_a_mirror_the_next_backup_repairs() {
    let l = layout(Kind::Archive, false);
    let sb = &l.sb;
    sb.backup_ok(&[]);
    let root = std::fs::read_dir(sb.dir.path().join("staging"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    // Many changed files, so that the clone pass takes a while.
    for i in 0..3000 {
        let p = sb.structr_dir.join(format!("files/many/{}/g{i}", i % 30));
        write_random(&p, 4096, 1000 + i as u64);
    }
    let mut cut_short = 0;
    for round in 0..3 {
        let mut child = sb
            .cli_command(&["backup"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        common::wait_until(
            std::time::Duration::from_secs(60),
            "the mirror update begins",
            || !root.join("SEALED").exists(),
        );
        std::thread::sleep(std::time::Duration::from_millis(20 * round));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        child.wait().unwrap();
        let half = tree::diff(
            &tree::snapshot(&sb.structr_dir),
            &tree::snapshot(&root.join("structr")),
        );
        cut_short += usize::from(!half.is_empty());
        let out = sb.cli(&["recover"]);
        assert!(out.status.success(), "{}", text(&out));
        let (id, said) = sb.backup_ok(&[]);
        assert!(said.contains("not sealed by the last run"), "{said}");
        assert_generation_holds(sb, &id);
        // No scratch clone is left in the mirror.
        let leftovers = common::shell(
            &format!("find {} -name '.structr-backup-clone.*'", root.display()),
            sb.dir.path(),
        );
        assert_eq!(
            String::from_utf8_lossy(&leftovers.stdout),
            "",
            "round {round}"
        );
        write_random(&sb.structr_dir.join("files/many/0/g0"), 4096, 5000 + round);
        for i in 1..2000 {
            let p = sb.structr_dir.join(format!("files/many/{}/g{i}", i % 30));
            write_random(&p, 4096, 6000 + round * 3000 + i as u64);
        }
    }
    assert!(cut_short > 0, "no kill landed inside the mirror's update");
}

#[test]
fn components_on_two_file_systems_get_one_reflink_mirror_each() {
    let l = layout(Kind::Archive, false);
    let mut sb = l.sb;
    // Structr's folder on a second XFS: its mirror must lie there.
    let second = XfsMount::new();
    let moved = second.0.join("structr");
    let out = common::shell(
        &format!("cp -a {} {}", sb.structr_dir.display(), moved.display()),
        sb.dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    sb.structr_dir = moved;
    let staging = sb.dir.path().join("staging");
    sb.write_config();
    let line = plan_line(&sb);
    let at_top = second.0.join(".structr-backup-staging");
    assert!(
        line.contains(&staging.display().to_string())
            && line.contains(&at_top.display().to_string()),
        "{line}"
    );
    let (first, said) = sb.backup_ok(&[]);
    assert!(said.contains("done: reflink mirror structr"), "{said}");
    assert_generation_holds(&sb, &first);
    let key = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path()
    };
    let (data_root, structr_root) = (key(&staging), key(&at_top));
    assert!(data_root.join("neo4j-data").is_dir() && !data_root.join("structr").exists());
    assert!(structr_root.join("structr").is_dir() && !structr_root.join("neo4j-data").exists());
    // Each root is sealed on its own.
    assert!(data_root.join("SEALED").exists() && structr_root.join("SEALED").exists());
    a_day_of_writes(&sb);
    let (second_id, said) = sb.backup_ok(&[]);
    assert!(
        said.contains("reflink mirror of structr: cloned 1 changed files")
            && said.contains("reflink mirror of neo4j-data: cloned 1 changed files"),
        "{said}"
    );
    assert!(
        !said.contains("made afresh") && !said.contains("not sealed"),
        "{said}"
    );
    assert_generation_holds(&sb, &second_id);
    drop(sb);
    drop(second);
}
