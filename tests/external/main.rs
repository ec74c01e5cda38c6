//! Tests against real servers and programs that scripts/test installs or builds
//! and caches: OpenSSH's sshd, `rclone serve restic`, Garage (S3) and a real
//! Neo4j Community. Filter with e.g. `cargo test --test external offsite::`.

#[path = "../common/mod.rs"]
mod common;

mod offsite;
mod real_neo4j;
mod real_neo4j_drill;
mod real_neo4j_kernel;
mod s3;
mod servers;
