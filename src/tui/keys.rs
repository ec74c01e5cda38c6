//! The keys of each screen: one table feeds both the footer and the help screen.
//! The footer shows as many as fit, in this order; the help screen shows them all.
//! Also what the movement keys do in a list, the same on every screen.

use ratatui::crossterm::event::KeyCode;

use super::state::ScreenKind;

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
            ("k", "kept folders"),
            // Last: the footer drops what does not fit, and the screen itself
            // says "Press R" whenever there is something to recover.
            ("R", "recover"),
            // Home says "press S to start" beside a service seen stopped.
            ("S", "start stopped services"),
            // Home says "Press D" when the installation looks lost.
            ("D", "disaster recovery"),
        ],
        ScreenKind::BackupPlan => &[
            SCROLL,
            ("type", "a label"),
            ("Enter", "start backup"),
            ("Esc", "back"),
        ],
        ScreenKind::StartServices => &[("y", "start them"), ("Esc", "back")],
        ScreenKind::Job => &[("Ctrl-C", "cancel"), ("?", "help")],
        // q goes back from a finished job, as Esc does (it quits only from Home).
        ScreenKind::JobDone => &[SCROLL, ("Esc q", "back"), ("?", "help")],
        ScreenKind::Generations => &[
            // What does not fit the footer is in the Enter menu and the help.
            ("↑↓ jk", "select"),
            ("Enter", "actions"),
            ("f", "files"),
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
            ("type", "to confirm"),
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
        ScreenKind::Kept => &[("↑↓ jk", "select"), ("d", "remove"), ("Esc", "back")],
        ScreenKind::Browse => &[
            ("↑↓ jk", "select"),
            ("/", "search"),
            ("c", "compare with live"),
            ("Esc", "back"),
        ],
        ScreenKind::BrowseSearch => &[
            ("type", "part of a path"),
            ("↑↓", "select"),
            ("Enter", "keep"),
            ("Esc", "clear"),
        ],
        ScreenKind::BrowseDiff => &[
            ("↑↓ jk", "select"),
            ("/", "search"),
            ("c", "contents"),
            ("Esc", "back"),
        ],
        ScreenKind::RecoverySource => &[("↑↓ jk", "select"), ("Enter", "open"), ("Esc", "back")],
        ScreenKind::RecoveryInput => &[("type", "the place"), ("Enter", "next"), ("Esc", "back")],
        ScreenKind::RecoveryPick => &[("↑↓ jk", "select"), ("Enter", "plan"), ("Esc", "back")],
        ScreenKind::RecoveryPlan => &[SCROLL, ("Enter", "confirm"), ("Esc", "back")],
        ScreenKind::RecoveryChecklist => &[
            SCROLL,
            ("S", "start stopped services"),
            ("c", "check again"),
            ("Esc", "done"),
        ],
        ScreenKind::Actions => &[
            ("↑↓ Enter", "choose"),
            ("r", "restore"),
            ("v", "verify"),
            ("V", "deep verify"),
            ("p", "pin/unpin"),
            ("d", "delete"),
            ("f", "browse files"),
            ("Esc", "close"),
        ],
    }
}

/// Rows a page key moves: about a screen at the documented minimum size.
const PAGE: usize = 10;

pub fn is_movement(code: KeyCode) -> bool {
    matches!(
        code,
        KeyCode::Up
            | KeyCode::Down
            | KeyCode::Char('j' | 'k')
            | KeyCode::Home
            | KeyCode::End
            | KeyCode::PageUp
            | KeyCode::PageDown
    )
}

/// The selection after a movement key in a list of `count` rows (other keys keep it):
/// arrows and j/k move one row, PgUp/PgDn a page, Home/End to the ends.
pub fn moved(sel: usize, count: usize, code: KeyCode) -> usize {
    let last = count.saturating_sub(1);
    match code {
        KeyCode::Up | KeyCode::Char('k') => sel.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => (sel + 1).min(last),
        KeyCode::PageUp => sel.saturating_sub(PAGE),
        KeyCode::PageDown => (sel + PAGE).min(last),
        KeyCode::Home => 0,
        KeyCode::End => last,
        _ => sel.min(last),
    }
}

/// Where a cursor that was on generation `id` (row `row`) goes in the list
/// `ids` (newest first): the same generation, or the first older one when it is
/// gone, or the last row when none is older.
pub fn nearest<'a>(ids: impl Iterator<Item = &'a str>, id: Option<&str>, row: usize) -> usize {
    let ids: Vec<&str> = ids.collect();
    let last = ids.len().saturating_sub(1);
    let Some(id) = id else {
        return row.min(last);
    };
    // Ids are UTC times (`-2` for a second one in a second): their order is the age.
    ids.iter()
        .position(|i| *i == id)
        .or_else(|| ids.iter().position(|i| *i < id))
        .unwrap_or(last)
}
