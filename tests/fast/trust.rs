//! The repository is untrusted input, and run state is ours alone: what someone who
//! can write into the repository plants there (ids with `../`, a journal, a
//! symlinked lock, damaged numbers, a size bomb) makes root write, rename or delete
//! nothing outside the installation's folders and the repository. Also: services
//! are left as found, leftovers are cleaned and named, one run per installation.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{flag_sandbox, reseal, text, Options, Sandbox};

/// A folder outside everything the tool may touch, with a file in it.
fn victim(sb: &Sandbox, name: &str) -> std::path::PathBuf {
    let v = sb.dir.path().join(name);
    fs::create_dir_all(&v).unwrap();
    fs::write(v.join("precious"), "precious").unwrap();
    v
}

fn intact(v: &Path) -> bool {
    fs::read_to_string(v.join("precious")).is_ok_and(|s| s == "precious")
}

#[test]
fn a_planted_manifest_id_is_ignored_for_the_folder_name() {
    let sb = flag_sandbox();
    let id = sb.backup_ok(&[]).0;
    let v = victim(&sb, "victim");
    // What an attacker writes: an id that climbs out of the staging folder's parent.
    let manifest = sb.repo.join(&id).join("manifest.toml");
    let m = fs::read_to_string(&manifest).unwrap();
    fs::write(
        &manifest,
        m.replace(&format!("id = \"{id}\""), "id = \"x/../../victim\""),
    )
    .unwrap();
    // The staging folder an id-from-the-manifest restore would create and remove.
    fs::create_dir_all(sb.dir.path().join(".structr.restore-x")).unwrap();

    assert_eq!(
        sb.generations(),
        vec![id.clone()],
        "listed by its folder name"
    );
    let out = sb.cli(&["--yes", "restore", "--no-safety-backup", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(intact(&v), "nothing outside the targets was touched");
    assert_eq!(
        fs::read_to_string(sb.structr_dir.join("files/a.txt")).unwrap(),
        "first"
    );
    assert!(sb
        .dir
        .path()
        .join(format!("structr.pre-restore-{id}"))
        .is_dir());
}

#[test]
fn a_journal_planted_in_the_repository_swaps_nothing() {
    let sb = flag_sandbox();
    sb.backup_ok(&[]);
    let a = victim(&sb, "a");
    let b = victim(&sb, "b");
    fs::write(b.join("precious"), "b's").unwrap();
    let planted = format!(
        "pid = 999999\nhost = \"h\"\noperation = \"restore\"\nstarted_at = \"2026-01-01T00:00:00Z\"\nstopped = [\"structr\"]\n\n[[swaps]]\ntarget = \"{}\"\nkept = \"{}\"\n",
        a.display(),
        b.display()
    );
    fs::write(sb.repo.join(".journal"), &planted).unwrap();
    let out = sb.cli(&["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing to recover"),
        "{}",
        text(&out)
    );
    assert!(intact(&a), "a was not swapped");
    assert_eq!(fs::read_to_string(b.join("precious")).unwrap(), "b's");

    // Even in the state folder, a swap of folders that are not the installation's
    // is ignored with a warning.
    let journal = sb.journal_path();
    fs::create_dir_all(journal.parent().unwrap()).unwrap();
    fs::write(&journal, &planted).unwrap();
    let out = sb.cli(&["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a folder of this installation"),
        "{}",
        text(&out)
    );
    assert!(intact(&a));
    assert_eq!(fs::read_to_string(b.join("precious")).unwrap(), "b's");
    assert!(!journal.exists());
}

#[test]
fn a_repository_others_can_write_is_refused_and_a_symlinked_lock_truncates_nothing() {
    let sb = flag_sandbox();
    sb.backup_ok(&[]);
    let target = sb.dir.path().join("victim-file");
    fs::write(&target, "precious").unwrap();
    fs::remove_file(sb.repo.join(".lock")).ok();
    std::os::unix::fs::symlink(&target, sb.repo.join(".lock")).unwrap();
    fs::set_permissions(&sb.repo, fs::Permissions::from_mode(0o777)).unwrap();

    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("chmod go-w {}", sb.repo.display())),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
    assert!(sb.running("neo4j") && sb.running("structr"));

    // Owner-only again, but the planted symlink is still there: refused by name.
    fs::set_permissions(&sb.repo, fs::Permissions::from_mode(0o700)).unwrap();
    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("symbolic link"),
        "{}",
        text(&out)
    );
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
    assert_eq!(sb.generations().len(), 1);
}

#[test]
fn only_our_own_leftovers_are_removed_from_a_repository() {
    let sb = flag_sandbox();
    // A repository pointed at a folder that already holds someone's things.
    let notes = sb.repo.join("notes.partial");
    fs::create_dir_all(&notes).unwrap();
    fs::write(notes.join("draft"), "keep me").unwrap();
    let ours = sb.repo.join("20260101T000000Z.partial");
    fs::create_dir_all(&ours).unwrap();
    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(notes.join("draft").exists(), "not ours: kept");
    assert!(!ours.exists(), "ours: removed");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("20260101T000000Z.partial"),
        "the removal is named: {}",
        text(&out)
    );
}

#[test]
fn damaged_numbers_in_a_manifest_are_errors_not_panics() {
    let sb = flag_sandbox();
    let id = sb.backup_ok(&[]).0;
    let manifest = sb.repo.join(&id).join("manifest.toml");
    let good = fs::read_to_string(&manifest).unwrap();
    let line = good
        .lines()
        .find(|l| l.starts_with("downtime_secs"))
        .unwrap()
        .to_string();
    for bad in ["nan", "1e300", "-5.0", "inf"] {
        fs::write(
            &manifest,
            good.replace(&line, &format!("downtime_secs = {bad}")),
        )
        .unwrap();
        let out = sb.cli(&["show", &id]);
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("is damaged") && err.contains("downtime_secs"),
            "{bad}: {err}"
        );
        let out = sb.cli(&["list"]);
        assert_eq!(out.status.code(), Some(0), "{bad}: {}", text(&out));
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}

#[test]
fn a_size_bomb_in_the_file_index_is_refused_before_anything_stops() {
    let sb = Sandbox::new(Options::default());
    sb.start();
    let (id, _) = sb.backup_ok(&[]);
    let dir = sb.repo.join(&id);
    // The index claims a 100 TiB file (the manifest still says a few KiB): what a
    // decompression bomb needs to get past a check on the manifest alone.
    let index = dir.join("structr.files");
    let text_index = fs::read_to_string(&index).unwrap();
    let line = text_index
        .lines()
        .find(|l| l.starts_with("f\t"))
        .unwrap()
        .to_string();
    let mut cols: Vec<String> = line.split('\t').map(String::from).collect();
    cols[4] = (100u64 << 40).to_string();
    fs::write(&index, text_index.replace(&line, &cols.join("\t"))).unwrap();
    reseal(&dir);

    let pids = (sb.pid("neo4j"), sb.pid("structr"));
    let out = sb.cli(&["--yes", "restore", "--no-safety-backup", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not enough free space") && err.contains("Nothing was stopped"),
        "{err}"
    );
    assert_eq!(
        (sb.pid("neo4j"), sb.pid("structr")),
        pids,
        "nothing stopped"
    );
}

#[test]
fn a_service_found_stopped_is_left_stopped_and_the_manifest_says_so() {
    let sb = flag_sandbox();
    // The admin stopped Neo4j by hand before the backup.
    let stop = shell_words::split(&sb.ctl("stop", "neo4j")).unwrap();
    assert!(std::process::Command::new(&stop[0])
        .args(&stop[1..])
        .status()
        .unwrap()
        .success());
    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already stopped: neo4j"), "{err}");
    assert!(!sb.running("neo4j"), "left as found: stopped");
    assert!(sb.running("structr"), "what we stopped is started");
    let id = sb.newest();
    let out = sb.cli(&["show", "--json", &id]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["services_already_stopped"], serde_json::json!(["neo4j"]));
}

#[test]
fn recover_removes_staging_folders_and_names_only_what_it_did() {
    let sb = flag_sandbox();
    let id = sb.backup_ok(&[]).0;
    // A restore killed after extracting, before its first rename: staging folders
    // beside the targets, services down, the journal naming a swap never begun.
    sb.stop();
    let staging = sb.dir.path().join(format!(".structr.restore-{id}"));
    fs::create_dir_all(staging.join("files")).unwrap();
    let foreign = sb.dir.path().join(".structr.restore-notes");
    fs::create_dir_all(&foreign).unwrap();
    let journal = sb.journal_path();
    fs::create_dir_all(journal.parent().unwrap()).unwrap();
    fs::write(
        &journal,
        format!(
            "pid = 999999\nhost = \"h\"\noperation = \"restore\"\nstarted_at = \"2026-01-01T00:00:00Z\"\nstopped = [\"structr\", \"neo4j\"]\n\n[[swaps]]\ntarget = \"{}\"\nkept = \"{}.pre-restore-{id}\"\n",
            sb.structr_dir.display(),
            sb.structr_dir.display()
        ),
    )
    .unwrap();
    let out = sb.cli(&["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(!staging.exists(), "{all}");
    assert!(all.contains(&staging.display().to_string()), "named: {all}");
    assert!(foreign.exists(), "not ours: kept");
    assert!(
        !all.contains("put the previous"),
        "nothing was moved: {all}"
    );
    assert!(sb.running("neo4j") && sb.running("structr"));
    assert_eq!(
        fs::read_to_string(sb.structr_dir.join("files/a.txt")).unwrap(),
        "first"
    );
}

#[test]
fn repository_text_is_printed_without_control_characters_and_names_stay_names() {
    let sb = flag_sandbox();
    // A label typed with an escape sequence, and a very long one.
    let out = sb.cli(&["backup", "--label", "\u{1b}[31mred\u{1b}[0m"]);
    assert!(out.status.success(), "{}", text(&out));
    let long = "x".repeat(1000);
    let out = sb.cli(&["backup", "--label", &long]);
    assert!(out.status.success(), "{}", text(&out));
    let ids = sb.generations();
    // One planted by someone who can write into the repository.
    let manifest = sb.repo.join(&ids[1]).join("manifest.toml");
    let m = fs::read_to_string(&manifest).unwrap();
    let label_line = m
        .lines()
        .find(|l| l.starts_with("label"))
        .unwrap()
        .to_string();
    fs::write(
        &manifest,
        m.replace(&label_line, "label = \"\\u001b]0;pwned\\u0007\\rcleared\""),
    )
    .unwrap();
    for args in [vec!["list"], vec!["show", &ids[1]], vec!["show", &ids[0]]] {
        let out = sb.cli(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(
            !out.stdout
                .iter()
                .any(|&b| b == 0x1b || b == 0x07 || b == b'\r'),
            "{args:?}: {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let out = sb.cli(&["show", "--json", &ids[0]]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["label"].as_str().unwrap().chars().count(), 200);

    // A component whose archive is a path out of the generation folder is damage.
    let m = fs::read_to_string(&manifest).unwrap();
    fs::write(
        &manifest,
        m.replace(
            "archive = \"structr.tar.zst\"",
            "archive = \"../../../etc/passwd\"",
        ),
    )
    .unwrap();
    let out = sb.cli(&["show", &ids[1]]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a plain file name"),
        "{}",
        text(&out)
    );
    let out = sb.cli(&["--yes", "restore", &ids[1]]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(sb.running("neo4j") && sb.running("structr"));
}

#[test]
fn a_checksum_list_naming_a_path_out_of_the_generation_reads_nothing_there() {
    let sb = flag_sandbox();
    let id = sb.backup_ok(&[]).0;
    let sums = sb.repo.join(&id).join("SHA256SUMS");
    let mut listed = fs::read_to_string(&sums).unwrap();
    // /dev/zero would never end; a fifo would block; /etc/shadow is not ours to read.
    listed.push_str(&format!("{}  ../../../../../../dev/zero\n", "0".repeat(64)));
    fs::write(&sums, listed).unwrap();
    let out = common::shell(
        &format!(
            "timeout 30 {} --config {} verify {id}",
            common::BIN,
            sb.config.display()
        ),
        sb.dir.path(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not a plain file name"),
        "{}",
        text(&out)
    );
}

#[test]
fn labels_lose_bidi_overrides_and_line_separators() {
    let sb = flag_sandbox();
    // "invoice_RLO_fdp.exe" shows as "invoice_exe.pdf" on a terminal.
    let out = sb.cli(&[
        "backup",
        "--label",
        "invoice_\u{202e}fdp.exe\u{2066}x\u{2069}\u{200f}\u{2028}end",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let id = sb.newest();
    let reordering = |s: &str| {
        s.chars().any(|c| {
            matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
        })
    };
    let out = sb.cli(&["show", "--json", &id]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let label = v["label"].as_str().unwrap();
    assert!(!reordering(label), "{label:?}");
    assert!(
        label.starts_with("invoice_") && label.ends_with("end"),
        "{label:?}"
    );
    let stored = fs::read_to_string(sb.repo.join(&id).join("manifest.toml")).unwrap();
    assert!(!reordering(&stored), "stored without them: {stored}");

    // One planted in the manifest by someone who can write the repository is
    // shown without it too.
    fs::write(
        sb.repo.join(&id).join("manifest.toml"),
        stored.replace("invoice_", "invoice_\u{202e}"),
    )
    .unwrap();
    for args in [vec!["list"], vec!["show", &id]] {
        let out = sb.cli(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(
            !reordering(&String::from_utf8_lossy(&out.stdout)),
            "{args:?}: {}",
            text(&out)
        );
    }
}
