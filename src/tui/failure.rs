//! How a wizard job failed: the message shown, the exit code the CLI gives the
//! same failure (the monitors hear it), and, for a verification that found
//! damage, what it found (the generations screen shows it).

use crate::ops::exit::Exit;
use crate::ops::OpError;

#[derive(Clone, Debug, PartialEq)]
pub struct Failed {
    pub message: String,
    pub exit: Exit,
    /// The problems a verification found (empty for every other failure).
    pub damage: Vec<String>,
}

impl crate::notify::Failing for Failed {
    fn exit(&self) -> Exit {
        self.exit
    }
    fn message(&self) -> &str {
        &self.message
    }
}

impl Failed {
    /// A verification that found `problems` in generation `id`.
    pub fn damaged(id: &str, problems: Vec<String>) -> Failed {
        Failed {
            message: format!("{id} is damaged: {}", problems.join("; ")),
            exit: Exit::Verify,
            damage: problems,
        }
    }
}

impl From<OpError> for Failed {
    /// With the CLI's exit code for it, so wizard and CLI runs read the same.
    fn from(e: OpError) -> Failed {
        Failed {
            exit: Exit::of(&e),
            message: e.to_string(),
            damage: Vec::new(),
        }
    }
}

impl From<String> for Failed {
    fn from(message: String) -> Failed {
        Failed {
            message,
            exit: Exit::Failed,
            damage: Vec::new(),
        }
    }
}

impl From<&str> for Failed {
    fn from(message: &str) -> Failed {
        Failed::from(message.to_string())
    }
}

impl super::panics::Report for Failed {
    fn with_report(mut self, report: String) -> Self {
        self.message = self.message.with_report(report);
        self
    }

    fn internal(report: String) -> Self {
        Failed::from(String::internal(report))
    }
}
