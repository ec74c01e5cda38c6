//! What the caller asks of a restore.

#[derive(Clone, Debug)]
pub struct RestoreOptions {
    pub safety_backup: bool,
}
