//! The loopback servers of tests/common/servers.rs work the way the remote
//! repository tests use them: the real restic makes a repository and a snapshot
//! over sftp (sshd), over REST (`rclone serve restic`) and over rclone's sftp
//! backend, and the real rclone copies files through sshd.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::servers::{RcloneRest, Sshd};
use common::{text, tree};

/// A small folder to back up or copy: text, binary bytes and a subfolder.
fn sample(at: &Path) -> PathBuf {
    let dir = at.join("data");
    std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello over loopback\n").unwrap();
    std::fs::write(
        dir.join("sub/bytes.bin"),
        (0..=255u8).cycle().take(70_000).collect::<Vec<_>>(),
    )
    .unwrap();
    std::fs::write(dir.join("sub/deeper/empty"), "").unwrap();
    dir
}

/// Every file under `root` (relative path) with its bytes.
fn contents(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    tree::paths(root)
        .into_iter()
        .filter(|p| root.join(p).is_file())
        .map(|p| {
            let bytes = std::fs::read(root.join(&p)).unwrap();
            (p, bytes)
        })
        .collect()
}

/// The real restic on `repo`, password from a file, no cache in the home
/// folder, nothing from the caller's RESTIC_* variables.
fn restic(
    repo: &str,
    extra: &[String],
    env: &[(String, String)],
    args: &[&str],
    password: &Path,
) -> Output {
    Command::new("restic")
        .arg("-r")
        .arg(repo)
        .arg("--no-cache")
        .args(extra)
        .args(args)
        .env_remove("RESTIC_REPOSITORY")
        .env_remove("RESTIC_REPOSITORY_FILE")
        .env_remove("RESTIC_PASSWORD")
        .env_remove("RESTIC_PASSWORD_COMMAND")
        .env("RESTIC_PASSWORD_FILE", password)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("restic: {e} (scripts/test installs restic)"))
}

/// init, backup `data`, then the one snapshot restic lists must be of `data`.
fn init_backup_and_list(
    repo: &str,
    extra: &[String],
    env: &[(String, String)],
    tmp: &Path,
    data: &Path,
) {
    let password = tmp.join("password");
    std::fs::write(&password, "loopback-test-password\n").unwrap();
    let run = |args: &[&str]| {
        let out = restic(repo, extra, env, args, &password);
        assert!(
            out.status.success(),
            "restic {args:?} on {repo}: {}",
            text(&out)
        );
        out
    };
    run(&["init"]);
    run(&["backup", "--host", "loopback-test", data.to_str().unwrap()]);
    let out = run(&["snapshots", "--json"]);
    let snapshots: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("snapshots --json: {e}: {}", text(&out)));
    let snapshots = snapshots.as_array().expect("a JSON array of snapshots");
    assert_eq!(snapshots.len(), 1, "{snapshots:#?}");
    assert_eq!(
        snapshots[0]["paths"],
        serde_json::json!([data.to_str().unwrap()])
    );
    assert_eq!(snapshots[0]["hostname"], "loopback-test");
}

/// A restic repository directly on disk: its config and one snapshot file.
fn assert_repository_at(dir: &Path) {
    assert!(
        dir.join("config").is_file(),
        "no restic repository at {}",
        dir.display()
    );
    assert_eq!(
        std::fs::read_dir(dir.join("snapshots")).unwrap().count(),
        1,
        "snapshot files in {}",
        dir.display()
    );
}

#[test]
fn restic_over_sftp_to_the_test_sshd() {
    let sshd = Sshd::start();
    // start() logs in once itself; the client's logins come on top.
    let logins_at_start = sshd.logins();
    let tmp = tempfile::tempdir().unwrap();
    let data = sample(tmp.path());
    let repo_dir = tmp.path().join("repo");
    let extra = vec![
        "-o".to_string(),
        format!("sftp.command={}", sshd.ssh_command()),
    ];
    init_backup_and_list(&sshd.restic_repo(&repo_dir), &extra, &[], tmp.path(), &data);
    // It went through this sshd, to the local file system.
    assert_repository_at(&repo_dir);
    assert!(
        sshd.logins() > logins_at_start,
        "no login by the client; sshd log:\n{}",
        sshd.log()
    );
}

#[test]
fn restic_over_rest_to_rclone_serve_restic() {
    let tmp = tempfile::tempdir().unwrap();
    let data = sample(tmp.path());
    let served = tmp.path().join("served");
    std::fs::create_dir(&served).unwrap();
    let server = RcloneRest::start(&served);
    assert_eq!(
        server.url(),
        format!("rest:http://127.0.0.1:{}/", server.port())
    );
    init_backup_and_list(&server.url(), &[], &[], tmp.path(), &data);
    assert_repository_at(&served);
}

#[test]
fn restic_over_rclone_sftp_remote_to_the_test_sshd() {
    let sshd = Sshd::start();
    // start() logs in once itself; the client's logins come on top.
    let logins_at_start = sshd.logins();
    let tmp = tempfile::tempdir().unwrap();
    let data = sample(tmp.path());
    let repo_dir = tmp.path().join("repo");
    // restic runs `rclone serve restic --stdio`, which inherits the remote from the environment.
    let mut env = sshd.rclone_env("loopsftp");
    // A config file that does not exist: the remote comes from the environment only.
    env.push((
        "RCLONE_CONFIG".into(),
        tmp.path().join("rclone.conf").display().to_string(),
    ));
    let repo = format!("rclone:loopsftp:{}", repo_dir.display());
    init_backup_and_list(&repo, &[], &env, tmp.path(), &data);
    assert_repository_at(&repo_dir);
    assert!(
        sshd.logins() > logins_at_start,
        "no login by the client; sshd log:\n{}",
        sshd.log()
    );
}

#[test]
fn rclone_copy_to_the_test_sshd() {
    let sshd = Sshd::start();
    // start() logs in once itself; the client's logins come on top.
    let logins_at_start = sshd.logins();
    let tmp = tempfile::tempdir().unwrap();
    let data = sample(tmp.path());
    let dest = tmp.path().join("dest");
    let out = Command::new("rclone")
        .arg("copy")
        .arg(&data)
        .arg(format!("loopsftp:{}", dest.display()))
        // A config file that does not exist: the remote comes from the environment only.
        .env("RCLONE_CONFIG", tmp.path().join("rclone.conf"))
        .envs(sshd.rclone_env("loopsftp"))
        .output()
        .unwrap_or_else(|e| panic!("rclone: {e} (scripts/test installs rclone)"));
    assert!(out.status.success(), "rclone copy: {}", text(&out));
    let sent = contents(&data);
    assert_eq!(sent.len(), 3);
    assert_eq!(contents(&dest), sent);
    assert!(
        sshd.logins() > logins_at_start,
        "no login by the client; sshd log:\n{}",
        sshd.log()
    );
}
