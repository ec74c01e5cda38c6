//! The backup repository on disk: generations, archives, retention, the lock.

pub mod archive;
pub mod file_index;
pub mod generation;
pub mod lock;
pub mod retention;
