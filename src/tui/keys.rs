//! The keys of each screen: one table feeds both the footer and the help screen.
//! The footer shows as many as fit, in this order; the help screen shows them all.

use super::app::ScreenKind;

/// A key and what it does.
pub type Key = (&'static str, &'static str);

/// Scrolling text taller than the screen (PgUp/PgDn too); the footer shows it
/// only when something does not fit.
pub const SCROLL: Key = ("↑↓", "scroll");

pub fn keys(screen: ScreenKind) -> &'static [Key] {
    match screen {
        ScreenKind::Home => &[
            SCROLL,
            ("b", "backup"),
            ("r", "restore"),
            ("g", "generations"),
            ("s", "schedule"),
            ("?", "help"),
            ("q", "quit"),
            // Last: the footer drops what does not fit, and the screen itself
            // says "Press R" whenever there is something to recover.
            ("R", "recover"),
        ],
        ScreenKind::BackupPlan => &[
            SCROLL,
            ("type", "a label"),
            ("Enter", "start backup"),
            ("Esc", "back"),
        ],
        ScreenKind::Job => &[("Ctrl-C", "cancel"), ("?", "help")],
        ScreenKind::JobDone => &[("Esc", "back"), ("?", "help"), ("q", "quit")],
        ScreenKind::Generations => &[
            // What does not fit the footer is in the Enter menu and the help.
            ("↑↓ jk", "select"),
            ("Enter", "actions"),
            ("P", "prune"),
            ("Esc", "back"),
            ("v", "verify"),
            ("V", "deep verify"),
            ("p", "pin/unpin"),
            ("d", "delete"),
        ],
        ScreenKind::RestorePick => &[
            ("↑↓ jk", "select"),
            ("Enter", "verify and continue"),
            ("Esc", "back"),
        ],
        ScreenKind::Confirm => &[
            SCROLL,
            ("type", "the id"),
            ("Tab", "move focus"),
            ("Enter", "press button"),
            ("Esc", "cancel"),
        ],
        ScreenKind::PrunePreview => &[
            ("↑↓ jk", "scroll"),
            ("Enter", "delete marked"),
            ("Esc", "back"),
        ],
        ScreenKind::Schedule => &[
            ("0-9", "type HH:MM"),
            ("Enter", "set time"),
            ("e", "enable"),
            ("d", "disable"),
            ("Esc", "back"),
        ],
        ScreenKind::Help => &[SCROLL, ("Esc", "close help")],
        ScreenKind::Actions => &[
            ("r", "restore"),
            ("v", "verify"),
            ("V", "deep verify"),
            ("p", "pin/unpin"),
            ("d", "delete"),
            ("Esc", "close"),
        ],
    }
}
