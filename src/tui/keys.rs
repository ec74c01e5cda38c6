//! The keys of each screen: one table feeds both the footer and the help screen.

use super::app::ScreenKind;

/// A key and what it does.
pub type Key = (&'static str, &'static str);

pub fn keys(screen: ScreenKind) -> &'static [Key] {
    match screen {
        ScreenKind::Home => &[
            ("b", "backup"),
            ("r", "restore"),
            ("g", "generations"),
            ("R", "recover"),
            ("?", "help"),
            ("q", "quit"),
        ],
        ScreenKind::BackupPlan => &[("Enter", "start backup"), ("Esc", "back")],
        ScreenKind::Job => &[("Ctrl-C", "cancel"), ("Esc", "back when done")],
        ScreenKind::Generations => &[
            ("↑↓", "select"),
            ("v", "verify"),
            ("V", "deep verify"),
            ("p", "pin/unpin"),
            ("d", "delete"),
            ("P", "prune"),
            ("Esc", "back"),
        ],
        ScreenKind::RestorePick => &[
            ("↑↓", "select"),
            ("Enter", "verify and continue"),
            ("Esc", "back"),
        ],
        ScreenKind::Confirm => &[
            ("type", "the id"),
            ("Tab", "move focus"),
            ("Enter", "press button"),
            ("Esc", "cancel"),
        ],
        ScreenKind::PrunePreview => &[
            ("↑↓", "scroll"),
            ("Enter", "delete marked"),
            ("Esc", "back"),
        ],
        ScreenKind::Help => &[("Esc", "close help")],
    }
}
