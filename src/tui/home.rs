//! Home: what is installed and how it stands, and a key for each thing to do.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::data::Data;
use super::scroll::Scroll;
use super::state::{Effect, Go, Reply, To};

/// A key on Home; its facts scroll when the terminal is too short for them.
pub fn key(scroll: &mut Scroll, key: KeyEvent, data: &Data) -> Reply {
    match key.code {
        KeyCode::Char('q') => Go::Quit.into(),
        KeyCode::Char('b') => Reply::from(Go::Open(To::BackupPlan)).with(Effect::PlanBackup),
        // Screens showing the repository list it afresh as they open.
        KeyCode::Char('r') => Reply::from(Go::Open(To::RestorePick)).with(Effect::ReloadRepo),
        KeyCode::Char('g') => Reply::from(Go::Open(To::Generations)).with(Effect::ReloadRepo),
        KeyCode::Char('s') => Reply::from(Go::Open(To::Schedule)).with(Effect::RefreshSchedule),
        KeyCode::Char('k') => Reply::from(Go::Open(To::Kept)).with(Effect::FindKept),
        KeyCode::Char('D') => Go::Open(To::Recovery).into(),
        KeyCode::Char('R') if data.interrupted.is_some() => Reply::effect(Effect::Recover),
        KeyCode::Char('R') => {
            Go::Say("nothing to recover: no interrupted run left services stopped".into()).into()
        }
        // A service found stopped (by hand, after a crash) is started through
        // `recover`, after a yes.
        KeyCode::Char('S') => {
            let down: Vec<String> = data
                .services
                .iter()
                .filter(|(_, running)| *running == Some(false))
                .map(|(name, _)| name.clone())
                .collect();
            match down.is_empty() {
                true => Go::Say("nothing to start: no service is seen stopped".into()).into(),
                false => Go::Open(To::StartServices(down)).into(),
            }
        }
        KeyCode::Char('?') => Go::Open(To::Help).into(),
        code => {
            scroll.on_key(code, true);
            Reply::stay()
        }
    }
}

/// The question before starting stopped services: `y` starts them, any other
/// key goes back to Home.
pub fn start_key(key: KeyEvent) -> Reply {
    match key.code {
        KeyCode::Char('y') | KeyCode::Char('Y') => Reply::from(Go::Back).with(Effect::StartStopped),
        _ => Go::Back.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::journal::Record;
    use crate::tui::testing::{app_with, key};

    #[test]
    fn recover_only_when_something_is_down() {
        let mut app = app_with(&[]);
        assert_eq!(app.on_key(key(KeyCode::Char('R'))), Effect::None);
        assert!(
            app.status
                .as_deref()
                .unwrap_or("")
                .contains("nothing to recover"),
            "{:?}",
            app.status
        );
        app.data.interrupted = Some(Record {
            pid: 1,
            host: "h".into(),
            operation: "backup".into(),
            started_at: chrono::Utc::now(),
            targets: vec![],
            stopped: vec!["structr".into()],
            failed_start: None,
            swaps: vec![],
        });
        assert_eq!(app.on_key(key(KeyCode::Char('R'))), Effect::Recover);
        assert!(app.job_running(), "recovering runs as a job");
    }

    /// A service seen stopped is started from Home after a yes, through
    /// `recover`; with none stopped, S says so.
    #[test]
    fn a_stopped_service_is_started_from_home_after_a_yes() {
        use crate::tui::state::ScreenKind;
        let mut app = app_with(&[]);
        app.data.services = vec![("structr".into(), Some(true)), ("neo4j".into(), Some(true))];
        assert_eq!(app.on_key(key(KeyCode::Char('S'))), Effect::None);
        assert!(app
            .status
            .as_deref()
            .unwrap_or("")
            .contains("nothing to start"));
        app.data.services[1].1 = Some(false);
        app.on_key(key(KeyCode::Char('S')));
        assert_eq!(app.screen().kind(), ScreenKind::StartServices);
        assert_eq!(
            app.on_key(key(KeyCode::Char('n'))),
            Effect::None,
            "no: back"
        );
        assert_eq!(app.screen().kind(), ScreenKind::Home);
        app.on_key(key(KeyCode::Char('S')));
        assert_eq!(app.on_key(key(KeyCode::Char('y'))), Effect::StartStopped);
        assert!(app.job_running(), "starting runs as a job");
    }
}
