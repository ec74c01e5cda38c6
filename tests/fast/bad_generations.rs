//! Damaged and hostile generations: verification catches them and restore refuses
//! them before any service is stopped, writing nothing outside its staging folder.

use crate::common;

use std::io::Write;

use common::{reseal, text, Options, Sandbox};

fn sandbox_with_backup() -> (Sandbox, String) {
    let sb = Sandbox::new(Options::default());
    sb.start();
    let (id, _) = sb.backup_ok(&[]);
    (sb, id)
}

#[test]
fn a_flipped_byte_fails_verify_and_restore_refuses_before_stopping() {
    let (sb, id) = sandbox_with_backup();
    let archive = sb.repo.join(&id).join("neo4j-data.tar.zst");
    let mut bytes = std::fs::read(&archive).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&archive, bytes).unwrap();

    let out = sb.cli(&["verify", &id]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("neo4j-data.tar.zst is damaged"),
        "{}",
        text(&out)
    );
    let out = sb.cli(&["list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v[0]["last_verified"]["ok"], false,
        "the failure is recorded"
    );

    let pids = (sb.pid("neo4j"), sb.pid("structr"));
    let out = sb.cli(&["--yes", "restore", &id]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing was stopped"),
        "{}",
        text(&out)
    );
    assert_eq!(
        (sb.pid("neo4j"), sb.pid("structr")),
        pids,
        "services untouched"
    );
    assert!(sb.running("neo4j") && sb.running("structr"));
}

#[test]
fn deep_verify_catches_a_file_whose_recorded_hash_is_wrong() {
    let (sb, id) = sandbox_with_backup();
    let dir = sb.repo.join(&id);
    // Alter one file's sha256 in the index, then re-seal SHA256SUMS so that only
    // a deep verify (which reads every file) can notice.
    let index = dir.join("structr.files");
    let text_index = std::fs::read_to_string(&index).unwrap();
    let line = text_index
        .lines()
        .find(|l| l.starts_with("f\t"))
        .unwrap()
        .to_string();
    let mut cols: Vec<&str> = line.split('\t').collect();
    let fake = "0".repeat(64);
    cols[5] = &fake;
    std::fs::write(&index, text_index.replace(&line, &cols.join("\t"))).unwrap();
    reseal(&dir);
    let out = sb.cli(&["verify", &id]);
    assert!(
        out.status.success(),
        "quick verify only checks archives: {}",
        text(&out)
    );
    let out = sb.cli(&["verify", "--deep", &id]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

#[test]
fn a_tar_with_a_parent_dir_entry_is_refused_and_writes_nothing_outside() {
    let (sb, id) = sandbox_with_backup();
    let dir = sb.repo.join(&id);
    // A hand-made archive: the root entry, then `../evil`, with a raw header so the
    // tar writer cannot normalise the name away.
    let mut tar_bytes = Vec::new();
    {
        let mut b = tar::Builder::new(&mut tar_bytes);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_path("./").unwrap();
        h.set_mode(0o755);
        h.set_size(0);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
        let mut h = tar::Header::new_gnu();
        let name = b"../evil";
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(5);
        h.set_cksum();
        b.append(&h, &b"pwned"[..]).unwrap();
        b.finish().unwrap();
    }
    let mut enc = zstd::Encoder::new(Vec::new(), 3).unwrap();
    enc.write_all(&tar_bytes).unwrap();
    std::fs::write(dir.join("structr.tar.zst"), enc.finish().unwrap()).unwrap();
    reseal(&dir);
    let out = sb.cli(&["verify", &id]);
    assert!(
        out.status.success(),
        "the checksums match, so quick verify passes: {}",
        text(&out)
    );

    let out = sb.cli(&["--yes", "restore", "--no-safety-backup", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("..") && err.contains("left as it was"),
        "{err}"
    );
    for outside in [
        sb.dir.path().join("evil"),
        sb.structr_dir.parent().unwrap().join("evil"),
        std::env::temp_dir().join("evil"),
    ] {
        assert!(!outside.exists(), "{} was written", outside.display());
    }
    assert!(
        sb.running("neo4j") && sb.running("structr"),
        "services run again"
    );
    assert!(
        sb.structr_dir.join("structr.conf").exists(),
        "the installation is untouched"
    );
    let beside: Vec<String> = std::fs::read_dir(sb.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restore"))
        .collect();
    assert!(
        beside.is_empty(),
        "no staging or kept folder remains: {beside:?}"
    );
}
