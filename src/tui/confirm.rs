//! The typed confirmation every irreversible action asks for (a restore, a
//! delete, removing a kept folder, a disaster recovery): the user types the id,
//! which moves the focus to the action (it starts on Cancel), and presses Enter.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::scroll::Scroll;
use super::state::{Effect, Focus, Go, Reply, To};

#[derive(Clone, Debug)]
pub struct Confirm {
    pub id: String,
    pub typed: String,
    pub focus: Focus,
    /// What will happen, one fact per line.
    pub facts: Vec<String>,
    /// The facts scroll when they do not fit above the field.
    pub scroll: Scroll,
}

impl Confirm {
    pub fn new(id: &str, facts: Vec<String>) -> Self {
        Confirm {
            id: id.to_string(),
            typed: String::new(),
            focus: Focus::Cancel,
            facts,
            scroll: Scroll::default(),
        }
    }

    pub fn armed(&self) -> bool {
        self.typed == self.id
    }

    /// A key on the confirmation; once confirmed, it closes and `confirmed`
    /// says what to do with the id.
    pub fn key(&mut self, key: KeyEvent, confirmed: impl FnOnce(String) -> Effect) -> Reply {
        match key.code {
            // No id holds a `?`: it opens the help here too.
            KeyCode::Char('?') => Go::Open(To::Help).into(),
            KeyCode::Esc => Go::Back.into(),
            KeyCode::Tab | KeyCode::BackTab => {
                self.focus = self.focus.toggled();
                Reply::stay()
            }
            // Letters are typed: the arrows and page keys scroll the facts.
            KeyCode::Up | KeyCode::Down | KeyCode::PageUp | KeyCode::PageDown => {
                self.scroll.on_key(key.code, false);
                Reply::stay()
            }
            // Typing the id exactly moves the focus to the action, so Enter then does
            // what the user just confirmed; a change that breaks the match moves it back.
            KeyCode::Backspace | KeyCode::Char(_) => {
                match key.code {
                    KeyCode::Char(ch) => self.typed.push(ch),
                    _ => {
                        self.typed.pop();
                    }
                }
                self.focus = if self.armed() {
                    Focus::Confirm
                } else {
                    Focus::Cancel
                };
                Reply::stay()
            }
            // Enter after a mistyped id: said, not taken as a silent cancel.
            KeyCode::Enter if !self.typed.is_empty() && !self.armed() => Go::Say(format!(
                "\"{}\" does not match: type {} exactly to confirm, or Esc to go back",
                self.typed, self.id
            ))
            .into(),
            KeyCode::Enter if self.focus == Focus::Cancel => Go::Back.into(),
            KeyCode::Enter if self.armed() => {
                Reply::from(Go::Back).with(confirmed(self.id.clone()))
            }
            KeyCode::Enter => Go::Say(format!("type {} exactly to confirm", self.id)).into(),
            _ => Reply::stay(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::state::ScreenKind;
    use crate::tui::testing::{app_with, key, type_text};

    #[test]
    fn the_typed_id_moves_the_focus_to_the_action_and_back() {
        let mut app = app_with(&["20260101T000000Z"]);
        app.on_key(key(KeyCode::Char('r')));
        app.on_key(key(KeyCode::Enter));
        app.on_job_done(Ok("verified".into()));
        type_text(&mut app, "20260101T000000Z");
        app.on_key(key(KeyCode::Backspace));
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::None,
            "no longer the id: nothing starts"
        );
        // A mistyped id is said, not taken as a silent cancel.
        assert_eq!(app.screen().kind(), ScreenKind::Confirm);
        let said = app.status.clone().unwrap_or_default();
        assert!(
            said.contains("type 20260101T000000Z exactly") && said.contains("Esc"),
            "{said}"
        );
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::RestorePick);
        app.on_key(key(KeyCode::Enter));
        app.on_job_done(Ok("verified".into()));
        type_text(&mut app, "20260101T000000Z");
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::StartRestore("20260101T000000Z".into()),
            "typed, then Enter: restored"
        );
    }
}
