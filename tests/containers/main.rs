//! End to end against a real Docker engine: Compose projects and Debian
//! containers booted with systemd (scripts/e2e-env prepares both). The tests
//! take turns ([`common::docker::one_at_a_time`]): each boots its own
//! containers, and two at once on a small machine would time out.

#[path = "../common/mod.rs"]
mod common;

mod e2e_compose;
mod e2e_compose_real_neo4j;
mod e2e_disaster;
mod e2e_package;
mod e2e_real_neo4j;
mod e2e_schedule;
mod e2e_systemd;
