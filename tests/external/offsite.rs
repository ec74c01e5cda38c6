//! Off-site copies through real servers on loopback: an OpenSSH sshd (restic's
//! `sftp:`, and an rclone sftp remote), `rclone serve restic` (`rest:`), Garage
//! (`s3:`), and restic's `rclone:` backend. Every new generation is copied to each
//! target after the services run again, and comes back from each with `--from`.
//! The README's disaster paths, with restic or rclone and standard tools alone,
//! run here word for word.

use crate::common;

use std::process::Command;

use common::servers::{RcloneRest, Sshd};
use common::{s3, shell, text, tree, Kind, Offsite, Options, Sandbox};

fn offsite(name: &str, path: String, options: Vec<String>) -> Offsite {
    Offsite {
        name: name.into(),
        path,
        options,
    }
}

fn with_content(sb: &Sandbox) {
    std::fs::create_dir_all(sb.neo4j_data.join("databases/neo4j")).unwrap();
    std::fs::write(
        sb.neo4j_data.join("databases/neo4j/nodes.db"),
        vec![3u8; 300_000],
    )
    .unwrap();
    std::fs::create_dir_all(sb.structr_dir.join("files/a")).unwrap();
    std::fs::write(
        sb.structr_dir.join("structr.conf"),
        "superuser.password = s\n",
    )
    .unwrap();
    std::fs::write(sb.structr_dir.join("files/a/upload.bin"), vec![9u8; 70_000]).unwrap();
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn restic_generations_travel_to_sftp_rest_s3_and_rclone_and_come_back() {
    let base = tempfile::tempdir().unwrap();
    let sshd = Sshd::start();
    let rest_dir = base.path().join("rest");
    std::fs::create_dir(&rest_dir).unwrap();
    let rest = RcloneRest::start(&rest_dir);
    let garage = s3::start();
    let mut env = garage.env();
    env.extend(sshd.rclone_env("loopsftp"));
    let sftp_option = vec![format!("sftp.command={}", sshd.ssh_command())];
    let sb = Sandbox::new(Options {
        kind: Kind::restic(),
        flag_services: true,
        env,
        offsite: vec![
            offsite(
                "office",
                sshd.restic_repo(&base.path().join("sftp-repo")),
                sftp_option,
            ),
            offsite("rest", rest.url(), vec![]),
            offsite("s3", garage.restic_repo("structr"), vec![]),
            offsite(
                "rclone",
                format!(
                    "rclone:loopsftp:{}",
                    base.path().join("rclone-repo").display()
                ),
                vec![],
            ),
        ],
        ..Options::default()
    });
    with_content(&sb);
    sb.start();
    sb.init();
    let original = tree::snapshot(&sb.structr_dir);

    let out = sb.cli(&["backup", "--json"]);
    let v = json(&out);
    let id = v["generation"]["id"].as_str().unwrap().to_string();
    let copies = v["offsite"].as_array().unwrap();
    assert_eq!(copies.len(), 4);
    for c in copies {
        assert_eq!(c["ok"], true, "{c}");
    }
    assert!(sb.running("neo4j") && sb.running("structr"));

    for target in ["office", "rest", "s3", "rclone"] {
        let listed = json(&sb.cli(&["--from", target, "list", "--json"]));
        assert_eq!(listed[0]["id"], id.as_str(), "{target}: {listed}");
        let out = sb.cli(&["--from", target, "verify"]);
        assert!(out.status.success(), "{target}: {}", text(&out));

        std::fs::remove_dir_all(sb.structr_dir.join("files")).unwrap();
        let out = sb.cli(&[
            "--from",
            target,
            "--yes",
            "restore",
            &id,
            "--no-safety-backup",
        ]);
        assert!(out.status.success(), "{target}: {}", text(&out));
        let d = tree::diff(&original, &tree::snapshot(&sb.structr_dir));
        assert!(
            d.is_empty(),
            "{target}: restored tree differs:\n{}",
            d.join("\n")
        );
        // Make room for the next restore's kept folders.
        for e in std::fs::read_dir(sb.dir.path()).unwrap().flatten() {
            if e.file_name().to_string_lossy().contains(".pre-restore-") {
                std::fs::remove_dir_all(e.path()).unwrap();
            }
        }
        for e in std::fs::read_dir(sb.neo4j_data.parent().unwrap())
            .unwrap()
            .flatten()
        {
            if e.file_name().to_string_lossy().contains(".pre-restore-") {
                std::fs::remove_dir_all(e.path()).unwrap();
            }
        }
    }
    // Prune applies the policy to a target: keep_last = 2 of three.
    for _ in 0..2 {
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(sb.cli(&["backup"]).status.success());
    }
    let out = sb.cli(&["--from", "rest", "--yes", "prune"]);
    assert!(out.status.success(), "{}", text(&out));
    let listed = json(&sb.cli(&["--from", "rest", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
}

#[test]
fn an_unreachable_target_fails_the_run_but_not_the_backup() {
    let sshd = Sshd::start();
    let base = tempfile::tempdir().unwrap();
    let sb = Sandbox::new(Options {
        kind: Kind::restic(),
        flag_services: true,
        offsite: vec![offsite(
            "office",
            sshd.restic_repo(&base.path().join("sftp-repo")),
            vec![format!("sftp.command={}", sshd.ssh_command())],
        )],
        ..Options::default()
    });
    with_content(&sb);
    sb.start();
    sb.init();
    drop(sshd);
    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("off-site copy to office failed"), "{err}");
    assert!(err.contains("--to office"), "{err}");
    assert!(sb.running("neo4j") && sb.running("structr"));
    assert_eq!(sb.generations().len(), 1, "the local generation is there");
}

/// The README's restic disaster path, word for word, on what a backup wrote.
#[test]
fn the_readme_restic_disaster_path_restores_with_restic_alone() {
    let sb = Sandbox::new(Options {
        kind: Kind::restic(),
        flag_services: true,
        ..Options::default()
    });
    with_content(&sb);
    sb.start();
    sb.init();
    let original = tree::snapshot(&sb.structr_dir);
    assert!(sb.cli(&["backup"]).status.success());
    let id = sb.newest();
    let target = sb.dir.path().join("restore");
    let script = format!(
        "export RESTIC_REPOSITORY={repo}\n\
         export RESTIC_PASSWORD_FILE={pw}\n\
         restic snapshots --tag structr-backup\n\
         restic restore latest --tag id:{id} --target {target}\n",
        repo = sb.repo.display(),
        pw = sb.password_file().display(),
        target = target.display()
    );
    let out = shell(&script, sb.dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("id:{id}")));
    let restored = target.join(sb.structr_dir.strip_prefix("/").unwrap());
    let d = tree::diff(&original, &tree::snapshot(&restored));
    assert!(d.is_empty(), "restic restore differs:\n{}", d.join("\n"));
}

/// The archive kind to a folder and to an rclone remote; back from rclone with
/// `--from`, and by hand with rclone, sha256sum, zstd and tar alone.
#[test]
fn archive_generations_travel_to_a_folder_and_rclone_and_come_back() {
    let sshd = Sshd::start();
    let base = tempfile::tempdir().unwrap();
    let nas = base.path().join("nas");
    let remote_dir = base.path().join("remote");
    let sb = Sandbox::new(Options {
        flag_services: true,
        env: sshd.rclone_env("office"),
        offsite: vec![
            offsite("nas", nas.display().to_string(), vec![]),
            offsite(
                "office",
                format!("rclone:office:{}", remote_dir.display()),
                vec![],
            ),
        ],
        ..Options::default()
    });
    with_content(&sb);
    sb.start();
    let out = sb.cli(&["init"]);
    assert!(out.status.success(), "{}", text(&out));
    let original = tree::snapshot(&sb.structr_dir);
    let (id, _) = sb.backup_ok(&[]);
    // The folder copy is a complete generation that standard tools check.
    let check = shell("sha256sum -c SHA256SUMS", &nas.join(&id));
    assert!(check.status.success(), "{}", text(&check));
    for target in ["nas", "office"] {
        let listed = json(&sb.cli(&["--from", target, "list", "--json"]));
        assert_eq!(listed[0]["id"], id.as_str(), "{target}: {listed}");
        let out = sb.cli(&["--from", target, "verify"]);
        assert!(out.status.success(), "{target}: {}", text(&out));
    }
    // A damaged copy on the remote is found by reading it back.
    let damaged = remote_dir.join(&id).join("structr.files");
    std::fs::write(&damaged, "garbage").unwrap();
    let out = sb.cli(&["--from", "office", "verify"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    std::fs::copy(sb.repo.join(&id).join("structr.files"), &damaged).unwrap();

    // Disaster: the local repository is gone; the generation comes back from rclone.
    std::fs::remove_dir_all(&sb.repo).unwrap();
    std::fs::remove_dir_all(sb.structr_dir.join("files")).unwrap();
    let out = sb.cli(&[
        "--from",
        "office",
        "--yes",
        "restore",
        &id,
        "--no-safety-backup",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let d = tree::diff(&original, &tree::snapshot(&sb.structr_dir));
    assert!(d.is_empty(), "restored tree differs:\n{}", d.join("\n"));

    // The README's manual path with rclone and standard tools alone.
    let manual = base.path().join("manual");
    let script = format!(
        "rclone copy office:{remote}/{id} {m}/{id}\n\
         cd {m}/{id} && sha256sum -c SHA256SUMS\n\
         mkdir {m}/structr && zstd -d < structr.tar.zst | tar --xattrs --xattrs-include='*' -x -p -C {m}/structr\n",
        remote = remote_dir.display(),
        m = manual.display()
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(&script).current_dir(base.path());
    cmd.envs(sshd.rclone_env("office"));
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let d = tree::diff(&original, &tree::snapshot(&manual.join("structr")));
    assert!(d.is_empty(), "manual restore differs:\n{}", d.join("\n"));
}

/// Killed while copying to a folder target: the services run, the local
/// generation is whole, the target lists nothing half-written, and the copy can
/// be made again (its leftover `.partial` is removed first).
#[test]
fn archive_copy_killed_midway_leaves_nothing_half_written() {
    let base = tempfile::tempdir().unwrap();
    let nas = base.path().join("nas");
    let sb = Sandbox::new(Options {
        flag_services: true,
        offsite: vec![offsite("nas", nas.display().to_string(), vec![])],
        ..Options::default()
    });
    with_content(&sb);
    // Incompressible, so the copy takes a moment.
    common::write_random(&sb.structr_dir.join("files/big.bin"), 400 << 20, 5);
    sb.start();
    assert!(sb.cli(&["init"]).status.success());
    let mut child = sb
        .cli_command(&["backup"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let partial = || {
        std::fs::read_dir(&nas)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            })
            .unwrap_or(false)
    };
    common::wait_until(std::time::Duration::from_secs(120), "the copy runs", || {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended first"
        );
        partial()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(sb.running("neo4j") && sb.running("structr"));
    let id = sb.newest();
    let check = shell("sha256sum -c SHA256SUMS", &sb.repo.join(&id));
    assert!(check.status.success(), "{}", text(&check));
    let listed = json(&sb.cli(&["--from", "nas", "list", "--json"]));
    assert!(listed.as_array().unwrap().is_empty(), "{listed}");

    let out = sb.cli(&["copy", &id, "--to", "nas"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!partial(), "the leftover was removed");
    let check = shell("sha256sum -c SHA256SUMS", &nas.join(&id));
    assert!(check.status.success(), "{}", text(&check));
}

/// An rclone connection string with a password (here rclone's `crypt` backend
/// over a local folder) never shows on a command line: rclone gets the remote
/// from its environment. Before, `rclone copyto … :crypt,…,password=X:…` was in
/// every rclone's argv, readable by every user.
#[test]
fn an_rclone_password_never_shows_on_a_command_line() {
    let elsewhere = tempfile::tempdir().unwrap();
    let under = elsewhere.path().join("crypt-under");
    let obscured = Command::new("rclone")
        .args(["obscure", "RCLONEPASS-c0ffee"])
        .output()
        .unwrap();
    assert!(obscured.status.success(), "{}", text(&obscured));
    let password = String::from_utf8_lossy(&obscured.stdout).trim().to_string();
    let target = format!(
        "rclone::crypt,remote={},password={password}:structr",
        under.display()
    );
    let sb = Sandbox::new(Options {
        flag_services: true,
        offsite: vec![offsite("vault", target, vec![])],
        ..Options::default()
    });
    with_content(&sb);
    sb.start();
    let mut child = sb
        .cli_command(&["backup"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut rclones = 0;
    while child.try_wait().unwrap().is_none() {
        for (_, line) in common::descendants(child.id()) {
            rclones += usize::from(line.starts_with("rclone"));
            assert!(!line.contains(&password), "argv shows the password: {line}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(rclones > 0, "rclone ran while we looked");
    assert!(!text(&out).contains(&password), "{}", text(&out));
    // It is really there, encrypted, and comes back.
    let id = sb.newest();
    let listed = json(&sb.cli(&["--from", "vault", "list", "--json"]));
    assert_eq!(listed[0]["id"], id.as_str(), "{listed}");
    let names = shell(
        &format!("find {} -type f", under.display()),
        elsewhere.path(),
    );
    assert!(
        !text(&names).contains(&id),
        "crypt hides the names: {}",
        text(&names)
    );
}
