//! Restoring a generation: pick it (Enter verifies it first), then, once the
//! verification passed, the typed confirmation (`confirm`) with the facts of
//! what the restore replaces (`facts::restore`).

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::data::Data;
use super::keys::moved;
use super::state::{Effect, Go, Reply, To};

/// A key on the picker; `sel` is the selected row.
pub fn pick_key(sel: &mut usize, key: KeyEvent, data: &Data) -> Reply {
    *sel = moved(*sel, data.generations.len(), key.code);
    match (key.code, data.generations.get(*sel)) {
        (KeyCode::Esc, _) => Go::Back.into(),
        (KeyCode::Char('?'), _) => Go::Open(To::Help).into(),
        (KeyCode::Enter, Some(m)) => Reply::effect(Effect::VerifyBeforeRestore(m.id.clone())),
        _ => Reply::stay(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::state::ScreenKind;
    use crate::tui::testing::{app_with, key, type_text};

    #[test]
    fn restore_needs_verification_then_the_typed_id_and_focus_on_confirm() {
        let mut app = app_with(&["20260101T000000Z"]);
        app.on_key(key(KeyCode::Char('r')));
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::VerifyBeforeRestore("20260101T000000Z".into())
        );
        app.on_job_done(Ok("verified".into()));
        assert_eq!(app.screen().kind(), ScreenKind::Confirm);
        // Focus starts on Cancel: Enter with nothing typed cancels.
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::None);
        assert_eq!(app.screen().kind(), ScreenKind::RestorePick);
        // A part of the id and Enter: said, nothing starts, Esc goes back.
        app.on_key(key(KeyCode::Enter));
        app.on_job_done(Ok("verified".into()));
        type_text(&mut app, "2026");
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::None);
        assert_eq!(app.screen().kind(), ScreenKind::Confirm);
        assert!(app
            .status
            .as_deref()
            .unwrap_or("")
            .contains("does not match"));
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::RestorePick);
        // Again, with focus moved but a wrong id: refused with a hint.
        app.on_key(key(KeyCode::Enter));
        app.on_job_done(Ok("verified".into()));
        type_text(&mut app, "2026");
        app.on_key(key(KeyCode::Tab));
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::None);
        assert!(app
            .status
            .as_deref()
            .unwrap()
            .contains("type 20260101T000000Z"));
        // Typing the rest of the id moves the focus to Restore: Enter restores.
        type_text(&mut app, "0101T000000Z");
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::StartRestore("20260101T000000Z".into())
        );
        assert_eq!(app.screen().kind(), ScreenKind::Job);
    }

    #[test]
    fn a_failed_verification_stops_the_restore() {
        let mut app = app_with(&["20260101T000000Z"]);
        app.on_key(key(KeyCode::Char('r')));
        app.on_key(key(KeyCode::Enter));
        app.on_job_done(Err("damaged".into()));
        assert_eq!(
            app.screen().kind(),
            ScreenKind::JobDone,
            "the failure stays on screen"
        );
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::RestorePick);
    }
}
