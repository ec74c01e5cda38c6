//! The generations list (verify, pin, delete, browse, prune from here) and the
//! actions menu Enter opens on one generation.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::data::Data;
use super::keys::moved;
use super::state::{Effect, Go, Reply, To};

/// A key on the list; `sel` is the selected row.
pub fn key(sel: &mut usize, key: KeyEvent, data: &Data) -> Reply {
    *sel = moved(*sel, data.generations.len(), key.code);
    let Some(m) = data.generations.get(*sel) else {
        return match key.code {
            KeyCode::Esc => Go::Back.into(),
            KeyCode::Char('?') => Go::Open(To::Help).into(),
            KeyCode::Char('P') => Reply::effect(Effect::PlanPrune),
            _ => Reply::stay(),
        };
    };
    let id = m.id.clone();
    match key.code {
        KeyCode::Esc => Go::Back.into(),
        KeyCode::Char('?') => Go::Open(To::Help).into(),
        KeyCode::Char(c @ ('v' | 'V')) => Reply::effect(Effect::Verify { id, deep: c == 'V' }),
        KeyCode::Enter => Go::Open(To::Actions(id)).into(),
        KeyCode::Char('p') => Reply::effect(Effect::TogglePin(id)),
        KeyCode::Char('f') if data.browsable => {
            Reply::from(Go::Open(To::Browse(id.clone()))).with(Effect::Browse(id))
        }
        KeyCode::Char('d') if m.pinned => Go::Say(format!(
            "{id} is pinned: press p to unpin it, then d to delete it"
        ))
        .into(),
        KeyCode::Char('d') => {
            let facts = vec![format!(
                "Generation {id} will be deleted from the repository for good."
            )];
            Go::Open(To::DeleteConfirm { id, facts }).into()
        }
        KeyCode::Char('P') => Reply::effect(Effect::PlanPrune),
        _ => Reply::stay(),
    }
}

/// The actions menu on generation `id`: each key does what it does on the list
/// beneath (whose selection is this generation), `r` starts the restore of it.
pub fn actions_key(id: &str, key: KeyEvent) -> Reply {
    match key.code {
        KeyCode::Esc => Go::Back.into(),
        KeyCode::Char('?') => Go::Open(To::Help).into(),
        KeyCode::Char('r') => Reply::from(Go::Back).with(Effect::VerifyBeforeRestore(id.into())),
        KeyCode::Char('v' | 'V' | 'p' | 'd' | 'f') => Go::Pass.into(),
        _ => Reply::stay(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::App;
    use crate::tui::app::Screen;
    use crate::tui::state::{JobKind, ScreenKind};
    use crate::tui::testing::{app_with, key, type_text};

    #[test]
    fn lists_move_with_the_keys_people_expect() {
        let ids: Vec<String> = (0..25)
            .map(|i| format!("202601{:02}T000000Z", i + 1))
            .collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut app = app_with(&refs);
        app.on_key(key(KeyCode::Char('g')));
        let sel = |app: &App| match app.screen() {
            Screen::Generations { sel } => *sel,
            _ => usize::MAX,
        };
        for (k, want) in [
            (KeyCode::Char('j'), 1),
            (KeyCode::Char('j'), 2),
            (KeyCode::Char('k'), 1),
            (KeyCode::PageDown, 11),
            (KeyCode::End, 24),
            (KeyCode::PageDown, 24),
            (KeyCode::PageUp, 14),
            (KeyCode::Home, 0),
            (KeyCode::Up, 0),
        ] {
            app.on_key(key(k));
            assert_eq!(sel(&app), want, "after {k:?}");
        }
    }

    #[test]
    fn enter_on_a_generation_opens_its_actions() {
        let mut app = app_with(&["20260102T000000Z", "20260101T000000Z"]);
        app.on_key(key(KeyCode::Char('g')));
        app.on_key(key(KeyCode::Down));
        app.on_key(key(KeyCode::Enter));
        assert_eq!(app.screen().kind(), ScreenKind::Actions);
        assert_eq!(
            app.on_key(key(KeyCode::Char('p'))),
            Effect::TogglePin("20260101T000000Z".into())
        );
        assert_eq!(app.screen().kind(), ScreenKind::Generations);
        app.on_key(key(KeyCode::Enter));
        assert_eq!(
            app.on_key(key(KeyCode::Char('r'))),
            Effect::VerifyBeforeRestore("20260101T000000Z".into())
        );
        app.on_job_done(Ok("verified".into()));
        assert_eq!(app.screen().kind(), ScreenKind::Confirm);
        app.on_key(key(KeyCode::Esc));
        app.on_key(key(KeyCode::Enter));
        app.on_key(key(KeyCode::Esc));
        assert_eq!(
            app.screen().kind(),
            ScreenKind::Generations,
            "Esc closes the menu"
        );
    }

    #[test]
    fn deleting_a_pinned_generation_says_to_unpin_first() {
        let mut app = app_with(&["20260101T000000Z"]);
        app.data.generations[0].pinned = true;
        app.on_key(key(KeyCode::Char('g')));
        assert_eq!(app.on_key(key(KeyCode::Char('d'))), Effect::None);
        assert_eq!(
            app.screen().kind(),
            ScreenKind::Generations,
            "no id asked for"
        );
        assert!(app.status.as_deref().unwrap().contains("press p to unpin"));
    }

    #[test]
    fn delete_needs_the_typed_id() {
        let mut app = app_with(&["20260101T000000Z", "20250101T000000Z"]);
        app.on_key(key(KeyCode::Char('g')));
        app.on_key(key(KeyCode::Down));
        app.on_key(key(KeyCode::Char('d')));
        type_text(&mut app, "20250101T000000Z");
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::Delete("20250101T000000Z".into())
        );
        let job = app.job().expect("deleting runs as a job");
        assert_eq!(
            (job.kind, job.id.as_deref()),
            (JobKind::Delete, Some("20250101T000000Z"))
        );
        assert_eq!(app.screen().kind(), ScreenKind::Job);
        app.on_job_done(Ok("deleted".into()));
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::Generations);
    }
}
