//! The TOML configuration: where it is looked up, its defaults, and validation with
//! messages that name the file, the line and the key.
//!
//! One file per concern; everything outside this folder uses the names
//! re-exported here (`crate::config::Config`, `crate::config::parse`, …).
//!
//! - `sections`: the types of the `[sections]`, their defaults, and what the
//!   whole config answers (repository path, secrets);
//! - `lookup`: where the file is and where a loaded one came from;
//! - `load`: reading and parsing it; `error`: the one error type;
//! - `validate`: required keys, commands, paths, snapshot, off-site, notify;
//! - `bounds`: every number's range; `places`: folders that must stay apart,
//!   and which locations are restic backends;
//! - `key_line`: the line a key is on, for messages;
//! - `exposure`: the warning for a readable file holding a secret;
//! - `size`, `within`: the LVM snapshot size and `keep_within` span formats;
//! - `staging`: the `[staging]` section (how a backup stages its copy).

mod bounds;
mod error;
mod exposure;
mod key_line;
mod load;
mod lookup;
mod places;
mod sections;
pub mod size;
pub mod staging;
mod validate;
pub mod within;

pub use bounds::{MAX_KEEP, MAX_THREADS, MAX_TIMEOUT_SECS};
pub use error::ConfigError;
pub use exposure::exposure_warning;
pub use load::{load, parse};
pub use lookup::{config_path, Source};
pub use places::is_backend_location;
pub use sections::*;
