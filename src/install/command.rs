//! The install layer's name for the one child-process runner (`crate::process`):
//! service commands, systemctl, docker and the LVM tools run through it, with an
//! explicit argv, a timeout, their own process group and bounded output.

pub use crate::process::{display, run, run_with_env, Output, RunError as CommandError};
