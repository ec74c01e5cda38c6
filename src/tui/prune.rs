//! The prune preview: what the retention policy keeps and deletes, then a
//! question (focus on Cancel first) before the deleting job.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::keys::{is_movement, moved};
use super::state::{Effect, Focus, Go, Reply, To};

/// One generation and what the policy decided for it.
#[derive(Clone, Debug)]
pub struct PruneRow {
    pub id: String,
    pub created: String,
    pub keep: bool,
    pub reasons: String,
    /// Bytes its archives take in the repository (what deleting it frees).
    pub size: u64,
    /// Its label (`pre-restore` marks a restore's safety backup).
    pub label: String,
}

#[derive(Clone, Debug)]
pub struct PruneScreen {
    pub rows: Vec<PruneRow>,
    pub sel: usize,
    /// The question "delete them?", once asked, and its focus.
    pub confirm: Option<Focus>,
}

impl PruneScreen {
    pub fn new(rows: Vec<PruneRow>) -> Self {
        PruneScreen {
            rows,
            sel: 0,
            confirm: None,
        }
    }

    pub fn key(&mut self, key: KeyEvent) -> Reply {
        if key.code == KeyCode::Char('?') {
            return Go::Open(To::Help).into();
        }
        match (self.confirm.as_mut(), key.code) {
            (Some(f), KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right) => {
                *f = f.toggled();
                Reply::stay()
            }
            (Some(Focus::Confirm), KeyCode::Enter) => {
                Reply::from(Go::Back).with(Effect::StartPrune)
            }
            (Some(_), KeyCode::Enter | KeyCode::Esc) => {
                self.confirm = None;
                Reply::stay()
            }
            (None, code) if is_movement(code) => {
                self.sel = moved(self.sel, self.rows.len(), code);
                Reply::stay()
            }
            (None, KeyCode::Enter) if self.rows.iter().any(|r| !r.keep) => {
                self.confirm = Some(Focus::Cancel);
                Reply::stay()
            }
            (None, KeyCode::Enter) => {
                Go::Say("nothing to prune: the retention policy keeps every generation".into())
                    .into()
            }
            (None, KeyCode::Esc) => Go::Back.into(),
            _ => Reply::stay(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::state::JobKind;
    use crate::tui::testing::{app_with, key};

    #[test]
    fn enter_with_nothing_to_prune_says_so() {
        let mut app = app_with(&["a"]);
        app.on_key(key(KeyCode::Char('g')));
        app.on_key(key(KeyCode::Char('P')));
        app.show_prune_plan(vec![PruneRow {
            id: "a".into(),
            created: String::new(),
            keep: true,
            reasons: String::new(),
            size: 0,
            label: String::new(),
        }]);
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::None);
        assert!(
            app.status
                .as_deref()
                .unwrap_or("")
                .contains("nothing to prune"),
            "{:?}",
            app.status
        );
    }

    #[test]
    fn prune_preview_confirms_with_focus_starting_on_cancel() {
        let mut app = app_with(&["a"]);
        app.on_key(key(KeyCode::Char('g')));
        assert_eq!(app.on_key(key(KeyCode::Char('P'))), Effect::PlanPrune);
        app.show_prune_plan(vec![PruneRow {
            id: "a".into(),
            created: String::new(),
            keep: false,
            reasons: String::new(),
            size: 0,
            label: String::new(),
        }]);
        app.on_key(key(KeyCode::Enter));
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::None,
            "Enter on Cancel closes the question"
        );
        app.on_key(key(KeyCode::Enter));
        app.on_key(key(KeyCode::Tab));
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::StartPrune);
        assert_eq!(app.job().map(|j| j.kind), Some(JobKind::Prune));
    }
}
