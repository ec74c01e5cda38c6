//! How a run ended, as the one number scripts and monitors read: the CLI exits
//! with it, the wizard reports its jobs with it, notifications carry it. Below
//! both faces so that the same failure gives the same code wherever it ran.

use super::OpError;
use crate::repo::error::RepoError;
use crate::repo::lock::LockError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exit {
    Ok,
    Failed,
    /// A command line that cannot be run as given (a bad id, a missing `--yes`).
    Usage,
    /// A check found damage; nothing was changed.
    Verify,
    /// Another run (or a restic lock) holds what this one needs.
    Locked,
    /// Ctrl-C, SIGTERM, or the wizard's cancel.
    Cancelled,
    /// An earlier run was interrupted with services down: `recover` first.
    NeedsRecover,
    /// No repository where one was named (restic's code for it).
    NoRepository,
    /// The password does not open the repository (restic's code for it).
    WrongPassword,
}

impl Exit {
    /// The process exit code (documented in the README).
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Verify => 3,
            Exit::Locked => 4,
            Exit::Cancelled => 5,
            Exit::NeedsRecover => 6,
            Exit::NoRepository => 10,
            Exit::WrongPassword => 12,
        }
    }

    /// What the code means, for scripts (`--json`'s `error.kind`).
    pub fn kind(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::Failed => "failed",
            Exit::Usage => "usage",
            Exit::Verify => "verification_failed",
            Exit::Locked => "locked",
            Exit::Cancelled => "cancelled",
            Exit::NeedsRecover => "needs_recover",
            Exit::NoRepository => "no_repository",
            Exit::WrongPassword => "wrong_password",
        }
    }

    /// The exit of a run that failed with `e`.
    pub fn of(e: &OpError) -> Exit {
        match e {
            OpError::Lock(LockError::Held { .. } | LockError::Restic(_)) => Exit::Locked,
            OpError::Verify(_) => Exit::Verify,
            OpError::Cancelled { .. } => Exit::Cancelled,
            OpError::NeedsRecover(_) => Exit::NeedsRecover,
            OpError::Repo(RepoError::BadId { .. } | RepoError::Ambiguous { .. }) => Exit::Usage,
            OpError::Repo(RepoError::NoRepository(_)) => Exit::NoRepository,
            OpError::Repo(RepoError::WrongPassword(_)) => Exit::WrongPassword,
            _ => Exit::Failed,
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        let all = [
            Exit::Ok,
            Exit::Failed,
            Exit::Usage,
            Exit::Verify,
            Exit::Locked,
            Exit::Cancelled,
            Exit::NeedsRecover,
            Exit::NoRepository,
            Exit::WrongPassword,
        ];
        let codes: Vec<u8> = all.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6, 10, 12]);
        assert_eq!(Exit::of(&OpError::Verify("x".into())), Exit::Verify);
        assert_eq!(
            Exit::of(&OpError::Cancelled { detail: "x".into() }),
            Exit::Cancelled
        );
    }
}
