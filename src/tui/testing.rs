//! Helpers for the screens' unit tests: keys as a terminal sends them, and an
//! app on a list of generations.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::App;
use super::data::Data;
use crate::repo::manifest::Manifest;

pub fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new_with_kind(c, KeyModifiers::NONE, KeyEventKind::Press)
}

pub fn ctrl_c() -> KeyEvent {
    KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
}

pub fn type_text(app: &mut App, s: &str) {
    for ch in s.chars() {
        app.on_key(key(KeyCode::Char(ch)));
    }
}

/// An app on Home, with these generations (newest first).
pub fn app_with(ids: &[&str]) -> App {
    let generations = ids
        .iter()
        .map(|id| Manifest::bare(id, chrono::Utc::now()))
        .collect();
    App::new(Data {
        generations,
        ..Data::default()
    })
}
