//! `recover` after a killed drill removes the drill's own copy from the scratch
//! folder and nothing else there, not even a look-alike another user made (so
//! this runs as root, which can make one; moved here from drill.rs for the fast
//! tier, which runs without root).

use crate::common;

use std::os::unix::fs::DirBuilderExt;

use common::drill::{kill_a_drill, slow_drill_sandbox};
use common::text;

#[test]
fn recover_removes_a_killed_drills_copy_and_nothing_else_in_scratch() {
    let (sb, scratch) = slow_drill_sandbox();
    let left = kill_a_drill(&sb, &scratch);
    let id = sb.newest();
    // Not ours: a folder of someone's, a look-alike another user made, and the
    // copy of a drill that is still running (this test's own process id).
    let notes = scratch.join("notes");
    std::fs::create_dir(&notes).unwrap();
    let planted = scratch.join(format!("structr-backup-drill-{id}-1-0123456789abcdef"));
    std::fs::create_dir(&planted).unwrap();
    std::os::unix::fs::chown(&planted, Some(65534), Some(65534)).unwrap();
    let running = scratch.join(format!(
        "structr-backup-drill-{id}-{}-fedcba9876543210",
        std::process::id()
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&running)
        .unwrap();

    let out = sb.cli(&["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!left.exists(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("removed {}", left.display())),
        "named: {}",
        text(&out)
    );
    assert!(notes.exists() && planted.exists() && running.exists());
}
