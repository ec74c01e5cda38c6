//! Snapshot backups' life after the backup (taken by `backup/command.rs` and
//! `backup/lvm.rs`): what restore and verify say of an external snapshot, the
//! `delete_command` prune runs, and `recover`'s cleanup of LVM snapshots a killed
//! run left behind. The tool's command line is split and run here for both.

use std::path::PathBuf;
use std::time::Duration;

use super::event::{Event, Sink};
use super::OpError;
use crate::install::lvm;
use crate::process;
use crate::repo::manifest::Manifest;

/// Why a generation cannot be restored by us, when it only records a snapshot.
pub fn restore_refusal(m: &Manifest) -> Option<String> {
    let s = m.snapshot_backup.as_ref().filter(|s| s.is_external())?;
    Some(format!(
        "generation {} is a snapshot taken by `{}` (it holds no archives): restore this snapshot with the tool that took it",
        m.id, s.command
    ))
}

/// What `verify` says of a generation that only records a snapshot.
pub const NOTHING_TO_VERIFY: &str =
    "a snapshot generation: nothing to verify here, check it in the hypervisor";

/// `line` split like the service commands, `{name}` replaced by the generation id
/// (ids are plain: digits, `T`, `Z`, `-`).
pub fn argv_for(line: &str, id: &str) -> Result<Vec<String>, OpError> {
    let argv = shell_words::split(line)
        .map_err(|e| OpError::Refused(format!("[snapshot] `{line}` cannot be split: {e}")))?;
    if argv.is_empty() {
        return Err(OpError::Refused("[snapshot] the command is empty".into()));
    }
    Ok(argv.iter().map(|a| a.replace("{name}", id)).collect())
}

/// The last lines of a command's output, stdout then stderr, without the
/// secret-looking values of its command line (`Output::hidden`) it may echo.
pub fn output_tail(out: &process::Output) -> String {
    let both = format!("{}\n{}", out.stdout.trim_end(), out.stderr.trim_end());
    let lines: Vec<&str> = both.trim().lines().collect();
    let mut text = lines[lines.len().saturating_sub(20)..].join("\n");
    for h in &out.hidden {
        text = text.replace(h.as_str(), crate::secrets::REDACTED);
    }
    crate::text::printable_lines(&text, 4000)
}

/// Runs a snapshot tool's `argv` (messages show it as `process::display` does,
/// its tokens hidden); returns that shown line and the outcome.
pub fn run_tool(argv: &[String], timeout: Duration) -> (String, Result<process::Output, String>) {
    let out = process::Cmd::from_argv(argv)
        .timeout(timeout)
        .output()
        .map_err(|e| e.to_string());
    (process::display(argv), out)
}

/// Before a generation is deleted (prune, delete): a snapshot kept elsewhere is
/// deleted with `delete_command`, or named for deleting by hand.
pub fn before_delete(
    m: &Manifest,
    delete_command: Option<&str>,
    timeout: Duration,
    on: Sink,
) -> Result<(), OpError> {
    let Some(s) = m.snapshot_backup.as_ref().filter(|s| s.is_external()) else {
        return Ok(());
    };
    let Some(line) = delete_command else {
        on(Event::Warning(format!(
            "{} recorded the snapshot taken by `{}`; no [snapshot] delete_command is configured, so only the record is deleted: delete snapshot {} by hand in the tool that took it",
            m.id, s.command, m.id
        )));
        return Ok(());
    };
    let argv = argv_for(line, &m.id)?;
    let (shown, out) = run_tool(&argv, timeout);
    let out =
        out.map_err(|e| OpError::failed(format!("deleting the snapshot of {}: {e}", m.id)))?;
    if !out.success() {
        return Err(OpError::failed(format!(
            "`{shown}` failed (exit status {}), so generation {} is kept: {}",
            out.status.map_or("none".into(), |s| s.to_string()),
            m.id,
            output_tail(&out)
        )));
    }
    on(Event::Info(format!(
        "deleted the snapshot of {}: `{shown}`",
        m.id
    )));
    Ok(())
}

/// For `recover`: unmounts and removes LVM snapshots of ours that a killed run
/// left behind. Returns the devices removed.
pub fn remove_leftovers(on: Sink) -> Vec<PathBuf> {
    let mut done = Vec::new();
    let found = match lvm::leftovers() {
        Ok(f) => f,
        Err(e) => {
            on(Event::Warning(format!(
                "leftover LVM snapshots were not looked for: {e}"
            )));
            return done;
        }
    };
    for (vg, name) in found {
        for m in lvm::mount_points_of(&lvm::device(&vg, &name)) {
            match lvm::unmount(&m) {
                Ok(()) => remove_mount_folders(&m),
                Err(e) => on(Event::Warning(e)),
            }
        }
        match lvm::remove_snapshot(&vg, &name) {
            Ok(()) => {
                on(Event::Info(format!(
                    "removed the LVM snapshot {vg}/{name} left by an interrupted backup"
                )));
                done.push(lvm::device(&vg, &name));
            }
            Err(e) => on(Event::Warning(e)),
        }
    }
    done
}

/// The folders a backup made to mount its snapshots in
/// (`<temp>/structr-backup-lvm-<id>/<n>`), once unmounted and empty.
fn remove_mount_folders(at: &std::path::Path) {
    let Some(base) = at.parent() else { return };
    let ours = base.parent() == Some(std::env::temp_dir().as_path())
        && base
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("structr-backup-lvm-"));
    if ours {
        // Only empty folders go: remove_dir refuses anything else.
        let _ = std::fs::remove_dir(at);
        let _ = std::fs::remove_dir(base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generation_id_goes_into_every_argument() {
        let argv = argv_for(
            "virsh snapshot-create-as vm 'sb {name}' --atomic",
            "20261124T031500Z",
        )
        .unwrap();
        assert_eq!(
            argv,
            [
                "virsh",
                "snapshot-create-as",
                "vm",
                "sb 20261124T031500Z",
                "--atomic"
            ]
        );
        assert!(argv_for("a 'b", "x").is_err());
    }
}
