//! The S3 test server (Garage on 127.0.0.1, `scripts/s3-server`) with the real
//! restic and its `s3:` backend: init, backup, snapshots, restore.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::{s3, text, tree};

fn restic(server: &s3::S3, repo: &str, password: &Path, args: &[&str]) -> Output {
    Command::new("restic")
        .arg("-r")
        .arg(repo)
        .arg("--no-cache")
        .args(args)
        .envs(server.env())
        .env("RESTIC_PASSWORD_FILE", password)
        // Credentials of the host must not mix with the test server's.
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("RESTIC_REPOSITORY")
        .env_remove("RESTIC_PASSWORD")
        .output()
        .expect("run restic")
}

fn restic_ok(server: &s3::S3, repo: &str, password: &Path, args: &[&str]) -> Vec<u8> {
    let out = restic(server, repo, password, args);
    assert!(
        out.status.success(),
        "restic {}: {}\n{}",
        args.join(" "),
        text(&out),
        server.log()
    );
    out.stdout
}

/// Bytes that do not compress (xorshift), so the upload is as big as the file.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.extend_from_slice(&seed.to_le_bytes());
    }
    v.truncate(len);
    v
}

#[test]
fn restic_backs_up_to_s3_and_restores_the_same_bytes() {
    let server = s3::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    std::fs::write(src.join("small.txt"), "hello S3\n").unwrap();
    std::fs::write(src.join("empty"), "").unwrap();
    // Bigger than a restic pack, so several objects (and a multi-block object in Garage).
    let big = noise(20 << 20, 0x9e37_79b9_7f4a_7c15);
    std::fs::write(src.join("sub/big.bin"), &big).unwrap();
    std::fs::write(src.join("sub/deeper/other.bin"), noise(300_000, 7)).unwrap();
    std::os::unix::fs::symlink("../small.txt", src.join("sub/link")).unwrap();
    let password = tmp.path().join("password");
    std::fs::write(&password, "correct horse battery staple\n").unwrap();

    let repo = server.restic_repo("smoke");
    restic_ok(&server, &repo, &password, &["init"]);
    restic_ok(
        &server,
        &repo,
        &password,
        &["backup", "--tag", "smoke", src.to_str().unwrap()],
    );

    let json = restic_ok(&server, &repo, &password, &["snapshots", "--json"]);
    let snaps: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let snaps = snaps.as_array().unwrap();
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    assert_eq!(snaps[0]["paths"][0].as_str(), src.to_str(), "{snaps:?}");
    assert_eq!(snaps[0]["tags"][0].as_str(), Some("smoke"), "{snaps:?}");
    let id = snaps[0]["id"].as_str().unwrap();

    let dst = tmp.path().join("dst");
    restic_ok(
        &server,
        &repo,
        &password,
        &["restore", id, "--target", dst.to_str().unwrap()],
    );
    // restic restores the snapshot's absolute path under the target.
    let restored = dst.join(src.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(restored.join("sub/big.bin")).unwrap(), big);
    let diff = tree::diff(&tree::snapshot(&src), &tree::snapshot(&restored));
    assert!(
        diff.is_empty(),
        "restored tree differs:\n{}",
        diff.join("\n")
    );

    restic_ok(&server, &repo, &password, &["check", "--read-data"]);
}
