//! Mirror staging (`[staging] mode = "auto"` on a file system without reflinks):
//! the window only brings a persistent mirror up to date with the changed files;
//! the archives are written from it after the services run again. The mirror is
//! an exact image of the sources at the window, repaired after a killed run,
//! made afresh when someone changed it, and a disk without room for it is
//! refused before anything stops.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{text, tree, wait_until, write_random, Options, Sandbox, Tmpfs};

fn sandbox() -> Sandbox {
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    write_random(&sb.neo4j_data.join("databases/neo4j/neostore"), 4 << 20, 1);
    write_random(&sb.neo4j_data.join("transactions/neo4j/tx.0"), 1 << 20, 2);
    write_random(&sb.structr_dir.join("files/a/b/one.bin"), 300_000, 3);
    std::fs::write(
        sb.structr_dir.join("structr.conf"),
        "superuser.password = x\n",
    )
    .unwrap();
    sb.start();
    sb
}

/// The mirror of one component (`<sandbox>/staging/<installation key>/<name>`).
fn mirror_of(sb: &Sandbox, name: &str) -> PathBuf {
    let staging = sb.dir.path().join("staging");
    let keys: Vec<_> = std::fs::read_dir(&staging)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(keys.len(), 1, "one installation's mirror: {keys:?}");
    keys[0].join(name)
}

/// Unpacks a component of generation `id` and compares it with `expected`.
fn assert_generation_holds(sb: &Sandbox, id: &str, name: &str, expected: &tree::Snapshot) {
    let to = sb.dir.path().join(format!("unpacked-{id}-{name}"));
    let out = sb.cli(&["restore", id, "--only", name, "--to", to.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let d = tree::diff(expected, &tree::snapshot(&to));
    assert!(d.is_empty(), "{id} {name} differs:\n{}", d.join("\n"));
}

fn sources(sb: &Sandbox) -> [(&'static str, PathBuf); 2] {
    [
        ("neo4j-data", sb.neo4j_data.clone()),
        ("structr", sb.structr_dir.clone()),
    ]
}

#[test]
fn the_window_mirrors_only_what_changed_and_the_generation_equals_the_sources() {
    let sb = sandbox();
    let (first, said) = sb.backup_ok(&[]);
    assert!(
        said.contains("done: mirror neo4j-data (changed files)"),
        "{said}"
    );
    assert!(said.contains("no mirror yet"), "{said}");
    // The copy step runs after the starts: the archives are read from the mirror.
    let mirrored = said.find("done: mirror structr").unwrap();
    let started = said.find("done: start structr").unwrap();
    let copied = said.find("done: copy neo4j-data").unwrap();
    assert!(mirrored < started && started < copied, "{said}");
    for (name, path) in sources(&sb) {
        let now = tree::snapshot(&path);
        let d = tree::diff(&now, &tree::snapshot(&mirror_of(&sb, name)));
        assert!(d.is_empty(), "mirror of {name} differs:\n{}", d.join("\n"));
        assert_generation_holds(&sb, &first, name, &now);
    }

    // A day of writes: a store file changed in place (same size, and a time in
    // the same second as before: rsync's default would call it unchanged), one
    // removed, one new.
    let store = sb.neo4j_data.join("databases/neo4j/neostore");
    let before = std::fs::metadata(&store).unwrap();
    write_random(&store, 4 << 20, 9);
    use std::os::unix::fs::MetadataExt;
    tree::set_mtime_ns(
        &store,
        before.mtime(),
        (before.mtime_nsec() + 1) % 1_000_000_000,
    );
    std::fs::remove_file(sb.structr_dir.join("files/a/b/one.bin")).unwrap();
    write_random(&sb.structr_dir.join("files/c/two.bin"), 100_000, 4);
    let (second, said) = sb.backup_ok(&[]);
    assert!(!said.contains("no mirror yet"), "{said}");
    assert!(
        !said.contains("made afresh") && !said.contains("not sealed"),
        "{said}"
    );
    for (name, path) in sources(&sb) {
        let now = tree::snapshot(&path);
        let d = tree::diff(&now, &tree::snapshot(&mirror_of(&sb, name)));
        assert!(d.is_empty(), "mirror of {name} differs:\n{}", d.join("\n"));
        assert_generation_holds(&sb, &second, name, &now);
    }
    // Cross-check with the real tools: the archive is an ordinary tar.zst.
    let names = sb.archive_names(&second, "structr");
    assert!(
        names.contains("files/c/two.bin") && !names.contains("one.bin"),
        "{names}"
    );
}

#[test]
fn a_mirror_changed_behind_our_back_is_made_afresh() {
    let sb = sandbox();
    sb.backup_ok(&[]);
    // Same size, same modification time, other content: rsync's quick check
    // would keep it; the seal (inode and change time) does not.
    let store = mirror_of(&sb, "neo4j-data").join("databases/neo4j/neostore");
    let mtime = std::fs::metadata(&store).unwrap().modified().unwrap();
    write_random(&store, 4 << 20, 77);
    std::fs::File::options()
        .write(true)
        .open(&store)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let (id, said) = sb.backup_ok(&[]);
    assert!(
        said.contains("changed since it was sealed: it is made afresh"),
        "{said}"
    );
    let now = tree::snapshot(&sb.neo4j_data);
    assert_generation_holds(&sb, &id, "neo4j-data", &now);
}

#[test]
fn a_backup_killed_while_mirroring_is_repaired_by_the_next_one() {
    let sb = sandbox();
    sb.backup_ok(&[]);
    // Enough to change that the mirror step takes a while.
    write_random(&sb.structr_dir.join("files/big.bin"), 400 << 20, 5);
    let mut child = sb
        .cli_command(&["backup"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let key_dir = mirror_of(&sb, "structr");
    wait_until(Duration::from_secs(60), "the mirror update begins", || {
        !key_dir.parent().unwrap().join("SEALED").exists()
    });
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    // What a killed run leaves: recover starts the services it stopped.
    let out = sb.cli(&["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    let (id, said) = sb.backup_ok(&[]);
    assert!(said.contains("not sealed by the last run"), "{said}");
    for (name, path) in sources(&sb) {
        assert_generation_holds(&sb, &id, name, &tree::snapshot(&path));
    }
}

#[test]
fn no_room_for_the_mirror_is_refused_before_anything_stops() {
    let sb = sandbox();
    let small = sb.dir.path().join("small");
    let _fs = Tmpfs::mount(&small, "2m");
    let cfg = std::fs::read_to_string(&sb.config).unwrap().replace(
        &format!("folder = \"{}\"", sb.dir.path().join("staging").display()),
        &format!("folder = \"{}\"", small.display()),
    );
    std::fs::write(&sb.config, cfg).unwrap();
    let out = sb.cli(&["backup"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("needs up to") && said.contains("Nothing was stopped"),
        "{said}"
    );
    assert!(!said.contains("done: stop"), "{said}");
    assert!(sb.running("neo4j") && sb.running("structr"));
    assert!(sb.generations().is_empty());
    assert!(Path::new(&small).exists());
}

/// Runs `backup` and kills it (SIGKILL, no chance to clean up) once it has
/// said `lines` lines; returns what it said.
fn backup_killed_after(sb: &Sandbox, lines: usize) -> Vec<String> {
    use std::io::BufRead;
    let cmd = format!(
        "exec {} --config {} backup 2>&1",
        common::BIN,
        sb.config.display()
    );
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = Vec::new();
    let reader = std::io::BufReader::new(child.stdout.take().unwrap());
    for line in reader.lines() {
        said.push(line.unwrap());
        if said.len() == lines {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
            break;
        }
    }
    child.wait().unwrap();
    said
}

/// A day of writes before each run: a store file rewritten in place, a new
/// file, the one before it removed.
fn change_sources(sb: &Sandbox, round: u64) {
    write_random(
        &sb.neo4j_data.join("databases/neo4j/neostore"),
        4 << 20,
        100 + round,
    );
    let files = sb.structr_dir.join("files");
    let _ = std::fs::remove_file(files.join(format!("round-{}.bin", round.wrapping_sub(1))));
    write_random(
        &files.join(format!("round-{round}.bin")),
        2 << 20,
        200 + round,
    );
}

/// Killed at a dozen points from the preflight to the publish (while the mirror
/// is unsealed, half updated, sealed but not archived, archived but not
/// published): `recover` starts the services, and the next backup makes a
/// generation equal to the sources at its own window.
#[test]
fn a_backup_killed_at_any_of_a_dozen_points_is_followed_by_an_exact_generation() {
    let sb = sandbox();
    change_sources(&sb, 0);
    let (_, whole) = sb.backup_ok(&[]);
    let steps = whole.lines().count();
    assert!(
        steps >= 12,
        "a backup says at least a dozen lines:\n{whole}"
    );
    let mut points: Vec<usize> = (0..12).map(|i| 1 + i * (steps - 1) / 12).collect();
    points.dedup();
    let mut published = sb.generations().len();
    for (round, at) in points.iter().enumerate() {
        let round = round as u64 + 1;
        change_sources(&sb, round);
        let said = backup_killed_after(&sb, *at);
        let last = said.last().cloned().unwrap_or_default();
        let out = sb.cli(&["recover"]);
        assert!(
            out.status.success(),
            "recover after {last:?}: {}",
            text(&out)
        );
        assert!(
            sb.running("neo4j") && sb.running("structr"),
            "the services run after recover (killed after {last:?})"
        );
        // A run killed before its publish left no generation.
        let now = sb.generations().len();
        assert!(
            now == published || now == published + 1,
            "{now} {published}"
        );
        let (id, said) = sb.backup_ok(&[]);
        assert!(!said.contains("WARNING: An interrupted"), "{said}");
        for (name, path) in sources(&sb) {
            let expected = tree::snapshot(&path);
            assert_generation_holds(&sb, &id, name, &expected);
            let d = tree::diff(&expected, &tree::snapshot(&mirror_of(&sb, name)));
            assert!(
                d.is_empty(),
                "mirror of {name} after a kill after {last:?}:\n{}",
                d.join("\n")
            );
        }
        published = sb.generations().len();
    }
}

/// Another process fills the disk while the services are stopped (here the
/// Neo4j stop command itself, so it happens at the same point every time):
/// the update fails, the services are started, no generation is written, and
/// the half-updated mirror is not trusted by the next backup.
#[test]
fn a_disk_filled_while_mirroring_starts_the_services_and_no_half_mirror_is_used() {
    let sb = sandbox();
    let small = sb.dir.path().join("small");
    let _fs = Tmpfs::mount(&small, "48m");
    let original = std::fs::read_to_string(&sb.config).unwrap();
    let staged = original.replace(
        &format!("folder = \"{}\"", sb.dir.path().join("staging").display()),
        &format!("folder = \"{}\"", small.display()),
    );
    assert_ne!(staged, original, "the sandbox names its staging folder");
    std::fs::write(&sb.config, &staged).unwrap();
    let (first, _) = sb.backup_ok(&[]);
    write_random(&sb.structr_dir.join("files/new.bin"), 6 << 20, 8);
    let filler = small.join("filler");
    let flag = sb.run.join("neo4j.up");
    let stop = common::toml_str(&format!("rm -f {}", common::q(&flag)));
    assert!(staged.contains(&stop), "flag services stop with rm -f");
    let fill = format!(
        "rm -f {}; dd if=/dev/zero of={} bs=1M 2>/dev/null; true",
        common::q(&flag),
        common::q(&filler)
    );
    let filling = staged.replace(
        &stop,
        &common::toml_str(&format!("sh -c {}", shell_words::quote(&fill))),
    );
    std::fs::write(&sb.config, &filling).unwrap();
    let out = sb.cli(&["backup"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("No space left on device")
            && said.contains("is full (something else wrote there after the space check)")
            && said.contains("The services were started again. No generation was written."),
        "{said}"
    );
    assert!(sb.running("neo4j") && sb.running("structr"), "{said}");
    assert_eq!(sb.generations(), [first], "{said}");
    let key = mirror_of_in(&small);
    assert!(
        !key.join("SEALED").exists(),
        "the half mirror is not sealed"
    );

    // Room again: the next backup does not trust the half mirror, brings it up
    // to date and writes the sources as they are.
    std::fs::remove_file(&filler).unwrap();
    std::fs::write(&sb.config, &staged).unwrap();
    let (id, said) = sb.backup_ok(&[]);
    assert!(said.contains("not sealed by the last run"), "{said}");
    for (name, path) in sources(&sb) {
        assert_generation_holds(&sb, &id, name, &tree::snapshot(&path));
    }
}

/// The one installation's mirror folder inside staging folder `folder`.
fn mirror_of_in(folder: &Path) -> PathBuf {
    let keys: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(keys.len(), 1, "one installation's mirror: {keys:?}");
    keys[0].clone()
}
