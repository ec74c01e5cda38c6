//! The help screen: every key of the screen beneath it.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::scroll::Scroll;
use super::state::{Go, Reply};

pub fn key(scroll: &mut Scroll, key: KeyEvent) -> Reply {
    match key.code {
        KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') => Go::Back.into(),
        code => {
            scroll.on_key(code, true);
            Reply::stay()
        }
    }
}
