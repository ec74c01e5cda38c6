//! The backup repository on disk: generations, archives, retention, the lock.

pub mod archive;
pub mod clone;
pub mod error;
pub mod file_index;
pub mod files;
pub mod generation;
pub mod lock;
pub mod manifest;
pub mod meta;
pub mod owners;
pub mod rclone;
pub mod restic;
pub mod retention;
pub mod store;
pub mod tree;
pub mod trust;
pub mod unzip;
