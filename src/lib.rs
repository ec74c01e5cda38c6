//! structr-backup: cold backups of Structr installations (Neo4j data directory plus
//! the Structr directory) into a repository of generations, and their restore.
//!
//! Data flows one way: faces (`cli`, `tui`) → `ops` → `install` / `repo`.

pub mod cancel;
pub mod cli;
pub mod config;
pub mod demo;
pub mod ids;
pub mod install;
pub mod notify;
pub mod ops;
pub mod process;
pub mod repo;
pub mod secrets;
pub mod standin;
pub mod sys;
pub mod text;
pub mod tui;
pub mod units;
