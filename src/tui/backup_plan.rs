//! The backup plan: what will happen, before anything stops, and the label the
//! new generation gets. Letters type the label, Enter starts, the arrows scroll.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::scroll::Scroll;
use super::state::{Effect, Go, Reply, To};
use crate::repo::manifest::MAX_LABEL;

#[derive(Clone, Debug, Default)]
pub struct PlanScreen {
    pub scroll: Scroll,
    pub label: String,
}

impl PlanScreen {
    /// Adds a typed character to the label: printable ones only, and no more
    /// than a label may hold (the rest would be cut when it is read back).
    pub fn type_char(&mut self, c: char) {
        if !crate::text::is_unprintable(c) && self.label.chars().count() < MAX_LABEL {
            self.label.push(c);
        }
    }

    /// A key on the plan; `can_start`: an installation was found to back up.
    pub fn key(&mut self, key: KeyEvent, can_start: bool) -> Reply {
        match key.code {
            KeyCode::Enter if can_start => {
                let label = self.label.trim().to_string();
                Reply::from(Go::Back).with(Effect::StartBackup { label })
            }
            KeyCode::Esc => Go::Back.into(),
            // No label needs a `?` more than the help does.
            KeyCode::Char('?') => Go::Open(To::Help).into(),
            KeyCode::Char(c) => {
                self.type_char(c);
                Reply::stay()
            }
            KeyCode::Backspace => {
                self.label.pop();
                Reply::stay()
            }
            code => {
                self.scroll.on_key(code, false);
                Reply::stay()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::state::ScreenKind;
    use crate::tui::testing::{app_with, key, type_text};

    #[test]
    fn backup_goes_plan_then_job_and_back_home() {
        let mut app = app_with(&[]);
        assert_eq!(app.on_key(key(KeyCode::Char('b'))), Effect::PlanBackup);
        assert_eq!(app.screen().kind(), ScreenKind::BackupPlan);
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::StartBackup {
                label: String::new()
            }
        );
        assert!(app.job_running());
        assert_eq!(
            app.on_key(key(KeyCode::Esc)),
            Effect::None,
            "no leaving a running job"
        );
        app.on_job_done(Ok("done".into()));
        assert_eq!(app.on_key(key(KeyCode::Esc)), Effect::Refresh);
        assert_eq!(app.screen().kind(), ScreenKind::Home);
    }

    #[test]
    fn the_plan_takes_a_label_typed_before_the_backup_starts() {
        let mut app = app_with(&[]);
        app.on_key(key(KeyCode::Char('b')));
        // q is a letter of the label here, not quit; control characters are dropped.
        type_text(&mut app, " before quarterly\u{1b}[2J upgrade ");
        app.on_key(key(KeyCode::Backspace));
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::StartBackup {
                label: "before quarterly[2J upgrade".into()
            },
            "trimmed, without the escape"
        );
        let mut app = app_with(&[]);
        app.on_key(key(KeyCode::Char('b')));
        type_text(&mut app, &"x".repeat(250));
        let Effect::StartBackup { label } = app.on_key(key(KeyCode::Enter)) else {
            panic!("no backup")
        };
        assert_eq!(label.chars().count(), MAX_LABEL, "at most 200 characters");
    }
}
