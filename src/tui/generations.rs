//! The generations list (verify, pin, delete, browse, prune from here) and the
//! actions menu Enter opens on one generation.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::data::Data;
use super::keys::{keys, moved, Key};
use super::state::{Effect, Go, Reply, ScreenKind, To};
use crate::repo::manifest::Manifest;

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
    match key.code {
        KeyCode::Esc => Go::Back.into(),
        KeyCode::Char('?') => Go::Open(To::Help).into(),
        KeyCode::Enter => Go::Open(To::Actions(m.id.clone())).into(),
        KeyCode::Char('P') => Reply::effect(Effect::PlanPrune),
        KeyCode::Char(c) => act(c, m, data),
        _ => Reply::stay(),
    }
}

/// What action `c` (a key of the list, an entry of the menu) does to generation `m`.
fn act(c: char, m: &Manifest, data: &Data) -> Reply {
    let id = m.id.clone();
    match c {
        'v' | 'V' => Reply::effect(Effect::Verify { id, deep: c == 'V' }),
        'r' => Reply::effect(Effect::VerifyBeforeRestore(id)),
        'p' => Reply::effect(Effect::TogglePin(id)),
        'f' if data.browsable => {
            Reply::from(Go::Open(To::Browse(id.clone()))).with(Effect::Browse(id))
        }
        'd' if m.pinned => Go::Say(format!(
            "{id} is pinned: press p to unpin it, then d to delete it"
        ))
        .into(),
        'd' => {
            let facts = vec![format!(
                "Generation {id} will be deleted from the repository for good."
            )];
            Go::Open(To::DeleteConfirm { id, facts }).into()
        }
        _ => Reply::stay(),
    }
}

/// The actions menu's entries, as the keys table lists them (browsing only
/// where the file indexes can be read).
pub fn actions(browsable: bool) -> Vec<Key> {
    keys(ScreenKind::Actions)
        .iter()
        // The entries are the one-letter keys; ↑↓, Enter and Esc work the menu.
        .filter(|(k, _)| k.len() == 1 && (browsable || *k != "f"))
        .copied()
        .collect()
}

/// A key on the actions menu of generation `id`, `sel` its highlighted entry:
/// ↑↓ move the highlight, Enter or an entry's letter does it to this generation
/// (never to whatever the list beneath has selected), Esc closes. No key reaches
/// the list beneath while the menu is open.
pub fn actions_key(id: &str, sel: &mut usize, key: KeyEvent, data: &Data) -> Reply {
    let items = actions(data.browsable);
    *sel = moved(*sel, items.len(), key.code);
    let letter = match key.code {
        KeyCode::Esc => return Go::Back.into(),
        KeyCode::Char('?') => return Go::Open(To::Help).into(),
        KeyCode::Enter => items.get(*sel).and_then(|(k, _)| k.chars().next()),
        KeyCode::Char(c) if items.iter().any(|(k, _)| *k == c.to_string()) => Some(c),
        _ => None,
    };
    let Some(c) = letter else {
        return Reply::stay();
    };
    let Some(m) = data.generations.iter().find(|m| m.id == id) else {
        return Go::Say(format!("{id} is no longer in the repository: press Esc")).into();
    };
    // The menu closes, and what the action opens takes its place.
    let reply = act(c, m, data);
    match reply.go {
        Go::Stay => Reply::from(Go::Back).with(reply.effect),
        Go::Open(to) => Reply::from(Go::Replace(to)).with(reply.effect),
        _ => reply,
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
    fn the_actions_menu_is_a_list_and_keeps_its_keys_to_itself() {
        let mut app = app_with(&["20260102T000000Z", "20260101T000000Z"]);
        app.on_key(key(KeyCode::Char('g')));
        app.on_key(key(KeyCode::Down));
        app.on_key(key(KeyCode::Enter));
        let hl = |app: &App| match app.screen() {
            Screen::Actions { sel, .. } => *sel,
            other => panic!("not the menu: {:?}", other.kind()),
        };
        // ↑↓ move the highlight, not the list beneath.
        app.on_key(key(KeyCode::Down));
        app.on_key(key(KeyCode::Down));
        assert_eq!(hl(&app), 2);
        app.on_key(key(KeyCode::Up));
        assert_eq!(hl(&app), 1);
        assert!(matches!(app.stack[1], Screen::Generations { sel: 1 }));
        // A key that is no entry does nothing, and reaches nothing beneath.
        assert_eq!(app.on_key(key(KeyCode::Char('P'))), Effect::None);
        assert_eq!(app.screen().kind(), ScreenKind::Actions);
        // Enter does the highlighted entry (verify) to the menu's generation.
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::Verify {
                id: "20260101T000000Z".into(),
                deep: false
            }
        );
        assert_eq!(
            app.job().and_then(|j| j.id.as_deref()),
            Some("20260101T000000Z")
        );
        app.on_job_done(Ok("intact".into()));
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::Generations);
        // d from the menu asks for the menu's id, in the menu's place.
        app.on_key(key(KeyCode::Enter));
        app.on_key(key(KeyCode::Char('d')));
        assert_eq!(app.screen().kind(), ScreenKind::Confirm);
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::Generations);
        // Esc closes it.
        app.on_key(key(KeyCode::Enter));
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::Generations);
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
