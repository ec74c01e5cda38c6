//! A verification taken before the confirmation, and whether it still stands
//! when the restore runs.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::super::event::{Event, Sink};
use super::super::{restic, verify, OpError};
use crate::ops::verify::Verified;
use crate::repo::manifest::Manifest;
use crate::repo::store::Store;

/// Verifies generation `id` of `from` before a restore from it is confirmed,
/// without writing anything there (a restore only reads its source, so no
/// verify record): the archive kind's quick check, `restic check`, or an rclone
/// target's read-back. Damage is an error; the answer says when the check began,
/// for `run_verified`.
pub fn verify_first(
    from: &Store,
    id: &str,
    cancel: &crate::cancel::Cancel,
    on: Sink,
) -> Result<Verified, OpError> {
    let at = chrono::Utc::now();
    match from {
        Store::Archive(repo) => {
            let _lock = super::super::lock_repo(repo, "verify")?;
            let m = repo.manifest(id)?;
            let dir = repo.trusted_generation(id)?;
            verify::quick(&dir, &m, cancel, on)?;
        }
        Store::Restic(r) => restic::verify_before_restore(r, &from.manifest(id)?, cancel, on)?,
        Store::Rclone(_) => {
            let reports = verify::run(from, &[id.to_string()], false, cancel, on)?;
            if let Some(problem) = reports.iter().flat_map(|r| r.problems.iter()).next() {
                return Err(OpError::Verify(problem.clone()));
            }
        }
    }
    Ok(Verified { at, ok: true })
}

/// Whether the caller's verification `v` still stands for the generation as it
/// is now; says so when it does.
pub(super) fn still_stands(from: &Store, m: &Manifest, v: Verified, on: Sink) -> bool {
    let stands = match from {
        Store::Archive(repo) => repo
            .trusted_generation(&m.id)
            .is_ok_and(|dir| still_verified(&dir, m, v.at)),
        Store::Restic(_) => true,
        Store::Rclone(_) => false,
    };
    if stands {
        on(Event::Info(format!(
            "{} was verified at {} before the confirmation and is unchanged since: not verified again",
            m.id,
            chrono::DateTime::<chrono::Local>::from(v.at).format("%H:%M:%S")
        )));
    }
    stands
}

/// Whether a quick verification of generation folder `dir` that started at `at`
/// still holds: the manifest names the archives `SHA256SUMS` lists with the same
/// checksums, and neither `SHA256SUMS` nor any file it lists changed since (the
/// inode's change time, which no one can set back, is before `at`).
fn still_verified(dir: &Path, m: &Manifest, at: chrono::DateTime<chrono::Utc>) -> bool {
    let Ok(sums) = crate::repo::files::read_sums(dir) else {
        return false;
    };
    let listed = m.components.iter().all(|c| {
        sums.iter().any(|(_, n)| n == &c.index)
            && sums.iter().any(|(h, n)| n == &c.archive && h == &c.sha256)
    });
    let before = |name: &str| {
        fs::symlink_metadata(dir.join(name)).is_ok_and(|md| {
            let changed = chrono::DateTime::from_timestamp(md.ctime(), md.ctime_nsec() as u32);
            changed.is_some_and(|t| t < at)
        })
    };
    listed && before("SHA256SUMS") && sums.iter().all(|(_, n)| before(n))
}

#[cfg(test)]
mod verified_tests {
    use super::*;
    use crate::repo::manifest::Component;

    /// A generation folder with one component whose files `SHA256SUMS` lists.
    fn generation(dir: &Path) -> Manifest {
        fs::write(dir.join("c.tar.zst"), "archive").unwrap();
        fs::write(dir.join("c.files"), "index").unwrap();
        fs::write(dir.join("SHA256SUMS"), "aa  c.tar.zst\nbb  c.files\n").unwrap();
        let mut m = Manifest::bare("20260101T000000Z", chrono::Utc::now());
        m.components.push(Component {
            name: "c".into(),
            role: "structr".into(),
            source: std::path::PathBuf::from("/c"),
            archive: "c.tar.zst".into(),
            index: "c.files".into(),
            files: 0,
            entries: 0,
            bytes: 0,
            archive_size: 0,
            sha256: "aa".into(),
        });
        m
    }

    /// The restore's plan names every check it runs, in the order they run:
    /// the runbook's and an application export's too, before anything stops.
    #[test]
    fn the_plan_names_every_file_the_check_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let m = generation(dir.path());
        fs::write(
            dir.path().join("SHA256SUMS"),
            format!(
                "aa  c.tar.zst\nbb  c.files\ncc  app-export.tar.zst\ndd  {}\n",
                crate::ops::runbook::FILE
            ),
        )
        .unwrap();
        let names: Vec<String> = verify::quick_steps(dir.path(), &m)
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "verify c.tar.zst".to_string(),
                "verify c.files".into(),
                "verify app-export.tar.zst".into(),
                format!("verify {}", crate::ops::runbook::FILE),
            ]
        );
        // Unreadable sums: the manifest's files (the check then refuses at once).
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(verify::quick_steps(empty.path(), &m).len(), 2);
    }

    #[test]
    fn a_verification_stands_only_while_the_generation_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let before = chrono::Utc::now() - chrono::Duration::seconds(5);
        let m = generation(dir.path());
        let after = chrono::Utc::now() + chrono::Duration::milliseconds(10);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(still_verified(dir.path(), &m, after));
        assert!(!still_verified(dir.path(), &m, before), "written after it");
        // An archive rewritten after the verification: verified again.
        fs::write(dir.path().join("c.tar.zst"), "planted").unwrap();
        assert!(!still_verified(dir.path(), &m, after));
        // A manifest naming another checksum than SHA256SUMS: verified again.
        let dir = tempfile::tempdir().unwrap();
        let mut m = generation(dir.path());
        let later = chrono::Utc::now() + chrono::Duration::milliseconds(10);
        std::thread::sleep(std::time::Duration::from_millis(20));
        m.components[0].sha256 = "cc".into();
        assert!(!still_verified(dir.path(), &m, later));
    }
}
