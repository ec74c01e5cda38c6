//! Local tests that must run as root (no Docker): they mount tmpfs, ext4 and
//! XFS images, change file owners, set trusted xattrs and capabilities, or play
//! a hostile local user `nobody`. Run by scripts/test; one module per subject,
//! filtered with e.g. `cargo test --test root paths::`.

#[path = "../common/mod.rs"]
mod common;

mod app_export_attacks;
mod drill_recover;
mod durability;
mod mirror;
mod mounts;
mod paths;
mod reflink;
mod roundtrip;
mod runbook;
mod snapshot_lvm;
mod staging_reflink;
