//! The backup repository on disk: generations, archives, retention, the lock.

pub mod archive;
pub mod retention;
