//! Archives: one component (a directory tree) as tar streamed through
//! multithreaded zstd into a file, readable by `zstd -d | tar -x`. Hashes are
//! computed on the same pass as the data moves; nothing is read twice.

mod hashing;
mod model;
mod pax;
mod read;
mod write;

pub use model::*;
pub use read::{
    deep_verify, entry_times, extract_archive, sync_file_system, ExtractSummary, VerifySummary,
};
pub use write::write_archive;
