//! The folders restores kept beside the targets (`<target>.pre-restore-<id>`):
//! listed and measured by a task, removed as a job after a typed confirmation.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::keys::moved;
use super::state::{Go, Reply, To};
use crate::units;

/// One kept folder as the wizard shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct KeptRow {
    /// The component whose target it was beside.
    pub component: String,
    pub path: PathBuf,
    /// The live folder it held before a restore.
    pub target: PathBuf,
    pub modified: Option<DateTime<Utc>>,
    /// Files and bytes, once measured (or why they could not be).
    pub size: Option<Result<(u64, u64), String>>,
}

impl KeptRow {
    /// Its file name (what the confirmation asks to type).
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The generation whose restore moved it aside (its name after `.pre-restore-`).
    pub fn restored(&self) -> String {
        let name = self.name();
        name.split_once(".pre-restore-")
            .map_or(name.clone(), |(_, id)| id.to_string())
    }

    pub fn bytes(&self) -> Option<u64> {
        match &self.size {
            Some(Ok((_, bytes))) => Some(*bytes),
            _ => None,
        }
    }
}

/// What the task looking for kept folders reports: the list, then each size.
pub enum KeptMsg {
    Found(Vec<KeptRow>),
    Measured(PathBuf, Result<(u64, u64), String>),
    /// The look panicked: why (the sizes not measured yet say so).
    Failed(String),
}

/// A key on the list of kept folders; `sel` is the selected row.
pub fn key(sel: &mut usize, key: KeyEvent, rows: &[KeptRow]) -> Reply {
    *sel = moved(*sel, rows.len(), key.code);
    match (key.code, rows.get(*sel)) {
        (KeyCode::Esc, _) => Go::Back.into(),
        (KeyCode::Char('?'), _) => Go::Open(To::Help).into(),
        (KeyCode::Char('d') | KeyCode::Delete, Some(row)) => Go::Open(To::RemoveKept {
            name: row.name(),
            path: row.path.clone(),
            facts: removal_facts(row),
        })
        .into(),
        _ => Reply::stay(),
    }
}

/// `rows` found afresh, with the sizes `old` measured for the same folders
/// until they are measured again.
pub fn with_sizes_of(mut rows: Vec<KeptRow>, old: Option<&[KeptRow]>) -> Vec<KeptRow> {
    if let Some(old) = old {
        for r in rows.iter_mut().filter(|r| r.size.is_none()) {
            r.size = old
                .iter()
                .find(|o| o.path == r.path)
                .and_then(|o| o.size.clone());
        }
    }
    rows
}

/// What removing `row` does, for its confirmation.
fn removal_facts(row: &KeptRow) -> Vec<String> {
    let size = match &row.size {
        Some(Ok((files, bytes))) => format!("{} in {files} files", units::bytes(*bytes)),
        Some(Err(e)) => format!("size unknown: {e}"),
        None => "still being measured".into(),
    };
    vec![
        format!("Removes {} for good ({size}).", row.path.display()),
        format!(
            "It holds what {} held before a restore replaced it; the live folder is not touched.",
            row.target.display()
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::{App, Screen};
    use crate::tui::data::Data;
    use crate::tui::state::{Effect, JobKind, ScreenKind};
    use crate::tui::testing::key;

    fn row(name: &str) -> KeptRow {
        KeptRow {
            component: "neo4j-data".into(),
            path: PathBuf::from(format!("/srv/{name}")),
            target: PathBuf::from("/srv/data"),
            modified: None,
            size: None,
        }
    }

    #[test]
    fn a_kept_folder_is_removed_after_its_name_is_typed() {
        let mut app = App::new(Data::default());
        assert_eq!(app.on_key(key(KeyCode::Char('k'))), Effect::FindKept);
        assert_eq!(
            app.on_key(key(KeyCode::Char('d'))),
            Effect::None,
            "nothing listed yet"
        );
        assert_eq!(app.screen().kind(), ScreenKind::Kept);
        app.set_kept(vec![
            row("data.pre-restore-20261124T031500Z"),
            row("data.pre-restore-20261125T031500Z"),
        ]);
        app.on_kept(KeptMsg::Measured(
            PathBuf::from("/srv/data.pre-restore-20261124T031500Z"),
            Ok((1, 100)),
        ));
        app.on_kept(KeptMsg::Measured(
            PathBuf::from("/srv/data.pre-restore-20261125T031500Z"),
            Ok((3, 4096)),
        ));
        app.on_key(key(KeyCode::Char('j')));
        app.on_key(key(KeyCode::Char('d')));
        assert_eq!(app.screen().kind(), ScreenKind::Confirm);
        for ch in "data.pre-restore-20261125T031500Z".chars() {
            app.on_key(key(KeyCode::Char(ch)));
        }
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::RemoveKept(PathBuf::from("/srv/data.pre-restore-20261125T031500Z"))
        );
        let job = app.job().expect("removal runs as a job");
        assert_eq!(job.kind, JobKind::RemoveKept);
        assert_eq!(job.estimate.as_ref().map(|e| e.bytes), Some(4096));
        // Back on the list after the job; a fresh list keeps the measured sizes.
        app.on_job_done(Ok("removed".into()));
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::Kept);
        app.set_kept(vec![row("data.pre-restore-20261124T031500Z")]);
        assert_eq!(app.kept.as_ref().unwrap()[0].bytes(), Some(100));
        assert!(matches!(app.screen(), Screen::Kept { sel: 0 }), "in range");
    }
}
