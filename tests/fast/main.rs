//! The fast tier: integration tests that need neither root nor Docker nor a
//! server built or installed by scripts/test. They run as any user who has cargo
//! and the everyday tools (tar, zstd, restic, tmux; see scripts/test-fast):
//! `scripts/test-fast`, or `cargo test --test fast`. One binary, so the crate is
//! linked once; filter by file with `cargo test --test fast restic::`.

#[path = "../common/mod.rs"]
mod common;

mod app_export;
mod archive;
mod bad_generations;
mod cli_edges;
mod drill;
mod live_services;
mod maintenance;
mod restic;
mod snapshot;
mod trust;
mod tui_e2e;
