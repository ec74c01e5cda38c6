//! Snapshot backups: a `[snapshot] command` run while the stand-in services are
//! stopped (recorded, pinned, pruned with `delete_command`, refused by restore),
//! and the refusals of built-in LVM snapshots that need no LVM. The LVM runs
//! themselves (loop devices, bind mounts: root) are in tests/root/snapshot_lvm.rs.

use crate::common;

use std::path::PathBuf;

use common::{append_config, json, q, text, toml_str, Options, Sandbox};

/// A snapshot "tool": fails unless both stand-in services are stopped as it runs,
/// then records the name it was given and a copy of a marker from the data.
fn snapshot_script(sb: &Sandbox) -> PathBuf {
    let script = sb.dir.path().join("snap.sh");
    let taken = sb.dir.path().join("taken");
    std::fs::create_dir_all(&taken).unwrap();
    let body = format!(
        "#!/bin/sh\n\
         if {neo}; then echo 'neo4j is running' >&2; exit 7; fi\n\
         if {structr}; then echo 'structr is running' >&2; exit 7; fi\n\
         cp {marker} {taken}/\"$1\"\n\
         echo \"snapshot $1 taken\"\n",
        neo = sb.ctl("status", "neo4j"),
        structr = sb.ctl("status", "structr"),
        marker = q(&sb.structr_dir.join("marker")),
        taken = q(&taken),
    );
    std::fs::write(&script, body).unwrap();
    script
}

#[test]
fn a_snapshot_command_runs_while_stopped_and_its_generation_lists_pins_and_prunes() {
    let usb = tempfile::tempdir().unwrap();
    let sb = Sandbox::new(Options {
        offsite: vec![common::Offsite {
            name: "usb".into(),
            path: usb.path().join("repo").display().to_string(),
            options: vec![],
        }],
        ..Options::default()
    });
    sb.start();
    std::fs::write(sb.structr_dir.join("marker"), "state at snapshot").unwrap();
    let script = snapshot_script(&sb);
    let deleted = sb.dir.path().join("deleted.log");
    append_config(
        &sb,
        &format!(
            "\n[snapshot]\ncommand = {}\ndelete_command = {}\ntimeout_secs = 30\n",
            toml_str(&format!("sh {} {{name}}", q(&script))),
            toml_str(&format!("sh -c 'echo \"$0\" >> {}' {{name}}", q(&deleted))),
        ),
    );

    let out = sb.cli(&["backup", "--snapshot", "--label", "vm", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        sb.running("neo4j") && sb.running("structr"),
        "services run again"
    );
    let v = json(&out);
    let id = v["generation"]["id"].as_str().unwrap().to_string();
    let rec = &v["generation"]["snapshot_backup"];
    assert_eq!(rec["method"], "command");
    assert_eq!(rec["exit_status"], 0);
    assert!(
        rec["output"]
            .as_str()
            .unwrap()
            .contains(&format!("snapshot {id} taken")),
        "{rec}"
    );
    assert!(
        v["generation"]["timings"]["downtime_secs"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    // The command saw the services stopped (else it exits 7) and got the id.
    assert_eq!(
        std::fs::read_to_string(sb.dir.path().join("taken").join(&id)).unwrap(),
        "state at snapshot"
    );
    // The generation is its manifest alone.
    let files: Vec<String> = std::fs::read_dir(sb.repo.join(&id))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["manifest.toml"]);

    let list = json(&sb.cli(&["list", "--json"]));
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["kind"], "snapshot");
    let shown = sb.cli(&["show", &id]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("snapshot     taken by `sh "),
        "{}",
        text(&shown)
    );

    let verify = sb.cli(&["verify", &id]);
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(
        text(&verify).contains("nothing to verify here, check it in the hypervisor"),
        "{}",
        text(&verify)
    );
    let restore = sb.cli(&["restore", &id, "--yes"]);
    assert_eq!(restore.status.code(), Some(1), "{}", text(&restore));
    assert!(
        text(&restore).contains("restore this snapshot with the tool that took it"),
        "{}",
        text(&restore)
    );
    let runbook = sb.cli(&["show", &id, "--runbook"]);
    assert_eq!(runbook.status.code(), Some(2), "{}", text(&runbook));
    assert!(
        text(&runbook).contains("no runbook: generation"),
        "{}",
        text(&runbook)
    );
    // Nothing of it is copied off-site, by the backup or by hand.
    assert!(!usb.path().join("repo").join(&id).exists());
    let copy = sb.cli(&["copy", &id, "--to", "usb"]);
    assert_eq!(copy.status.code(), Some(1), "{}", text(&copy));
    assert!(
        text(&copy).contains("nothing here to copy"),
        "{}",
        text(&copy)
    );
    let drill = sb.cli(&["drill", &id]);
    assert_eq!(drill.status.code(), Some(1), "{}", text(&drill));
    assert!(text(&drill).contains("a drill needs a generation with archives"));
    assert!(sb.running("neo4j") && sb.running("structr"));

    // Pinned, then two newer ones: prune keeping one deletes the middle one only,
    // and deletes its snapshot with the configured command first.
    assert!(sb.cli(&["pin", &id]).status.success());
    for _ in 0..2 {
        let out = sb.cli(&["backup", "--snapshot"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let gens = sb.generations();
    assert_eq!(gens.len(), 3);
    let out = sb.cli(&["prune", "--keep-last", "1", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sb.generations(), [gens[0].clone(), id.clone()]);
    assert_eq!(
        std::fs::read_to_string(&deleted).unwrap().trim(),
        gens[1],
        "delete_command got the pruned id"
    );

    // Without a delete_command, only the record goes, and the user is told.
    append_config(
        &sb,
        &format!(
            "\n[snapshot]\ncommand = {}\n",
            toml_str(&format!("sh {} {{name}}", q(&script)))
        ),
    );
    assert!(sb.cli(&["unpin", &id]).status.success());
    let out = sb.cli(&["delete", &id, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("delete snapshot {id} by hand")),
        "{}",
        text(&out)
    );
    assert_eq!(sb.generations(), [gens[0].clone()]);
}

#[test]
fn a_failing_snapshot_command_fails_the_run_with_its_output_and_starts_the_services() {
    let sb = Sandbox::new(Options::default());
    sb.start();
    append_config(
        &sb,
        "\n[snapshot]\ncommand = \"sh -c 'echo quota exceeded for {name} >&2; exit 3'\"\n",
    );
    let neo4j_pid = sb.pid("neo4j");
    let out = sb.cli(&["backup", "--snapshot"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("quota exceeded for 2"), "{err}");
    assert!(err.contains("exit status 3"), "{err}");
    assert!(err.contains("No generation was written"), "{err}");
    assert!(sb.running("neo4j") && sb.running("structr"));
    assert_ne!(
        sb.pid("neo4j"),
        neo4j_pid,
        "it was stopped and started again"
    );
    assert!(sb.generations().is_empty());
}

/// The highest resident memory of `pid` so far, in KiB (VmHWM), while it lives.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[test]
fn a_chatty_snapshot_command_is_bounded_killed_at_its_timeout_and_the_services_come_back() {
    let sb = Sandbox::new(Options::default());
    sb.start();
    // Before the bound, `yes` grew our memory ~300 MB/s until allocation failed
    // (abort, exit 134) with both services stopped.
    append_config(&sb, "\n[snapshot]\ncommand = \"yes X\"\ntimeout_secs = 5\n");
    let mut child = sb
        .cli_command(&["backup", "--snapshot"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        peak = peak.max(peak_rss_kib(child.id()).unwrap_or(0));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did not finish within 5 s"), "{err}");
    assert!(sb.running("neo4j") && sb.running("structr"));
    assert!(peak < 100 * 1024, "peak resident memory {peak} KiB");
    assert!(sb.generations().is_empty());
}

#[test]
fn snapshot_needs_a_configured_snapshot_and_lvm_refuses_folders_off_lvm_before_stopping() {
    let sb = Sandbox::new(Options::default());
    sb.start();
    let out = sb.cli(&["backup", "--snapshot"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("[snapshot]"), "{}", text(&out));

    append_config(&sb, "\n[snapshot]\nlvm = true\n");
    let pid = sb.pid("structr");
    let out = sb.cli(&["backup", "--snapshot"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("is not on an LVM logical volume"),
        "{}",
        text(&out)
    );
    assert_eq!(sb.pid("structr"), pid, "nothing was stopped");
    assert!(sb.generations().is_empty());
}

/// A snapshot tool's token on its command line (and echoed in its output) is
/// neither in the log, the manifest nor a failure's message.
#[test]
fn a_snapshot_tools_token_stays_out_of_the_log_and_the_manifest() {
    const TOKEN: &str = "SNAPTOKEN-5ecret";
    let sb = Sandbox::new(Options::default());
    sb.start();
    append_config(
        &sb,
        &format!(
            "\n[snapshot]\ncommand = \"sh -c 'echo snapshot {{name}} with $2' x --token {TOKEN}\"\n\
             delete_command = \"sh -c 'echo removing with $2; exit 1' x --token {TOKEN}\"\n"
        ),
    );
    let out = sb.cli(&["backup", "--snapshot"]);
    assert!(out.status.success(), "{}", text(&out));
    let show = sb.cli(&["show", "latest", "--json"]);
    assert!(show.status.success(), "{}", text(&show));
    let record = &json(&show)["snapshot_backup"];
    assert!(
        record["command"]
            .as_str()
            .unwrap()
            .contains("--token '***'"),
        "{record}"
    );
    assert!(
        record["output"].as_str().unwrap().contains("with ***"),
        "{record}"
    );
    let id = sb.newest();
    let del = sb.cli(&["--yes", "delete", &id]);
    assert!(
        !del.status.success(),
        "the delete command fails: {}",
        text(&del)
    );
    for (what, o) in [("backup", &out), ("show", &show), ("delete", &del)] {
        assert!(!text(o).contains(TOKEN), "{what}: {}", text(o));
    }
    let manifest = std::fs::read_to_string(sb.repo.join(&id).join("manifest.toml")).unwrap();
    assert!(!manifest.contains(TOKEN), "{manifest}");
}
