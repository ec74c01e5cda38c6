//! The folders restores kept beside the targets (`<target>.pre-restore-<id>`):
//! listed and measured on a thread, removed as a job after a typed confirmation.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::app::{App, Confirm, Effect, Screen};
use super::eta::Estimate;
use super::panics;
use crate::install::Installation;
use crate::ops::kept;
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

/// What the thread looking for kept folders reports: the list, then each size.
pub enum KeptMsg {
    Found(Vec<KeptRow>),
    Measured(PathBuf, Result<(u64, u64), String>),
}

/// Looks for the kept folders and measures them, on a thread; the receiver ends
/// when all are measured. A panic ends it with what was sent so far.
pub fn gather(inst: Arc<Installation>) -> Option<Receiver<KeptMsg>> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("wizard-kept".into())
        .spawn(move || {
            let _ = panics::caught::<_, String>(|| {
                let found = kept::find(&inst);
                let rows = found
                    .iter()
                    .map(|k| KeptRow {
                        component: inst
                            .components
                            .iter()
                            .find(|c| c.path == k.target)
                            .map_or(String::new(), |c| c.name.clone()),
                        path: k.path.clone(),
                        target: k.target.clone(),
                        modified: k.modified.map(DateTime::<Utc>::from),
                        size: None,
                    })
                    .collect();
                if tx.send(KeptMsg::Found(rows)).is_err() {
                    return Ok(());
                }
                for k in found {
                    let size = kept::measure(&k.path).map_err(|e| e.to_string());
                    if tx.send(KeptMsg::Measured(k.path, size)).is_err() {
                        break;
                    }
                }
                Ok(())
            });
        })
        .ok()?;
    Some(rx)
}

impl App {
    /// A fresh list of kept folders; sizes already measured stay until measured
    /// again, and the selection stays in range.
    pub fn set_kept(&mut self, mut rows: Vec<KeptRow>) {
        if let Some(old) = &self.kept {
            for r in rows.iter_mut().filter(|r| r.size.is_none()) {
                r.size = old
                    .iter()
                    .find(|o| o.path == r.path)
                    .and_then(|o| o.size.clone());
            }
        }
        let last = rows.len().saturating_sub(1);
        for screen in &mut self.stack {
            if let Screen::Kept { sel } = screen {
                *sel = (*sel).min(last);
            }
        }
        self.kept = Some(rows);
    }

    pub fn kept_measured(&mut self, path: &Path, size: Result<(u64, u64), String>) {
        if let Some(r) = self.kept.iter_mut().flatten().find(|r| r.path == path) {
            r.size = Some(size);
        }
    }

    /// The removal job just begun expects to remove what the kept folder holds.
    pub(super) fn expect_removal(&mut self, path: &Path) {
        let bytes = self
            .kept
            .iter()
            .flatten()
            .find(|r| r.path == path)
            .and_then(KeptRow::bytes);
        if let (Some(j), Some(bytes)) = (self.job_mut(), bytes) {
            j.estimate = Some(Estimate {
                bytes,
                ..Estimate::default()
            });
        }
    }

    pub(super) fn kept_key(&mut self, key: KeyEvent) -> Effect {
        let rows = self.kept.clone().unwrap_or_default();
        let Screen::Kept { sel } = self.screen_mut() else {
            return Effect::None;
        };
        *sel = super::app::moved(*sel, rows.len(), key.code);
        let row = rows.get(*sel).cloned();
        match (key.code, row) {
            (KeyCode::Esc, _) => {
                self.back();
                Effect::None
            }
            (KeyCode::Char('?'), _) => self.help(),
            (KeyCode::Char('d') | KeyCode::Delete, Some(row)) => {
                let facts = removal_facts(&row);
                self.stack.push(Screen::RemoveKept {
                    confirm: Confirm::new(&row.name(), facts),
                    path: row.path,
                });
                Effect::None
            }
            _ => Effect::None,
        }
    }
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
    use crate::tui::app::{Data, JobKind, ScreenKind};
    use ratatui::crossterm::event::KeyModifiers;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

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
        app.kept_measured(
            Path::new("/srv/data.pre-restore-20261124T031500Z"),
            Ok((1, 100)),
        );
        app.kept_measured(
            Path::new("/srv/data.pre-restore-20261125T031500Z"),
            Ok((3, 4096)),
        );
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
