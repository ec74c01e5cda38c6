//! The guided disaster recovery: on a machine whose Neo4j data folder is missing
//! or empty, or whose repository holds no generation, Home offers to restore
//! from a copy kept elsewhere. Its stages: choose the source (an off-site target,
//! a folder, a restic repository), pick a generation, read the plan, confirm
//! with the typed id, watch the restore, and end on a checklist. This module is
//! the state and its keys; `recovery_tasks` does the slow work as tasks and
//! `view::recovery` draws it.

use std::path::PathBuf;

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::data::Offer;
use super::keys::moved;
use super::scroll::Scroll;
use super::state::{Effect, Go, Reply, ScreenKind, SourceSpec, To};
use crate::repo::manifest::Manifest;

/// One row of the source chooser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    Offsite(String),
    Folder,
    Restic,
}

impl Choice {
    pub fn label(&self) -> String {
        match self {
            Choice::Offsite(name) => format!("off-site target {name}"),
            Choice::Folder => "a folder (copied repository, mounted disk)…".into(),
            Choice::Restic => "a restic repository…".into(),
        }
    }
}

/// A text field of the source chooser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    Folder,
    ResticRepo,
    /// The password file of the restic repository typed before it.
    ResticPassword {
        repo: String,
    },
}

impl Field {
    pub fn prompt(&self) -> &'static str {
        match self {
            Field::Folder => "Folder",
            Field::ResticRepo => "Repository",
            Field::ResticPassword { .. } => "Password file",
        }
    }
}

/// One line of the plan and how it is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tone {
    Plain,
    /// Something the admin must look at (an owner missing here, a version change).
    Warn,
    /// A refusal: the restore cannot go on.
    Refused,
}

/// What the restore of one generation will do here, worked out on a thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub lines: Vec<(Tone, String)>,
    /// True when a refusal blocks the restore.
    pub refused: bool,
    /// Where the targets that exist are kept once replaced.
    pub kept: Vec<PathBuf>,
}

/// One service on the checklist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceCheck {
    pub name: String,
    /// None: the question failed (the error is in `health`).
    pub running: Option<bool>,
    /// Ok once it answers as healthy; why not otherwise.
    pub health: Result<(), String>,
}

/// The state after the restore, checked afresh on a thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checklist {
    pub services: Vec<ServiceCheck>,
    /// Structr's HTTP health endpoint: where it was asked and what it said
    /// (None: no Structr folder to read the port from).
    pub http: Option<(String, Result<(), String>)>,
    /// The previous folders the restore kept beside the targets, still there.
    pub kept: Vec<PathBuf>,
    /// Starting the stopped services failed: why, per service.
    pub start_errors: Vec<String>,
}

impl Checklist {
    pub fn stopped(&self) -> Vec<&str> {
        self.services
            .iter()
            .filter(|s| s.running == Some(false))
            .map(|s| s.name.as_str())
            .collect()
    }
}

#[derive(Clone, Debug)]
pub enum Stage {
    Source {
        sel: usize,
        /// A text field being typed, and its text.
        field: Option<(Field, String)>,
        /// The source being opened (on a thread), in words.
        opening: Option<String>,
        /// Why the last source could not be opened.
        error: Option<String>,
        /// The field last sent off and its text: it comes back, as typed, when
        /// the source cannot be opened (a typo is corrected, not typed again).
        sent: Option<(Field, String)>,
    },
    Pick {
        sel: usize,
    },
    Plan {
        id: String,
        /// None while it is worked out.
        plan: Option<Result<Plan, String>>,
        scroll: Scroll,
    },
    Checklist {
        /// What the restore reported when it finished.
        summary: String,
        /// None while it is checked.
        checks: Option<Checklist>,
        scroll: Scroll,
    },
}

/// The opened source: where it is and its generations, newest first.
#[derive(Clone, Debug)]
pub struct Opened {
    pub location: String,
    pub generations: Vec<Manifest>,
    /// Generations that could not be read (listed, not offered).
    pub unreadable: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Recovery {
    pub offer: Offer,
    pub stage: Stage,
    pub opened: Option<Opened>,
}

impl Recovery {
    pub fn new(offer: Offer) -> Self {
        Recovery {
            offer,
            stage: source_stage(),
            opened: None,
        }
    }

    /// The rows of the source chooser: the off-site targets, then the two kinds
    /// of place to type.
    pub fn choices(&self) -> Vec<Choice> {
        let mut v: Vec<Choice> = self
            .offer
            .offsite
            .iter()
            .cloned()
            .map(Choice::Offsite)
            .collect();
        v.push(Choice::Folder);
        v.push(Choice::Restic);
        v
    }

    pub fn kind(&self) -> ScreenKind {
        match &self.stage {
            Stage::Source { field: Some(_), .. } => ScreenKind::RecoveryInput,
            Stage::Source { .. } => ScreenKind::RecoverySource,
            Stage::Pick { .. } => ScreenKind::RecoveryPick,
            Stage::Plan { .. } => ScreenKind::RecoveryPlan,
            Stage::Checklist { .. } => ScreenKind::RecoveryChecklist,
        }
    }

    /// Whether Enter leads anywhere now (a plan still worked out or refused: no).
    pub fn can_go_on(&self) -> bool {
        match &self.stage {
            Stage::Plan { plan, .. } => matches!(plan, Some(Ok(p)) if !p.refused),
            Stage::Source { opening, .. } => opening.is_none(),
            _ => true,
        }
    }

    /// Whether the generations of the source are on screen (they are kept fresh).
    pub fn picking(&self) -> bool {
        matches!(self.stage, Stage::Pick { .. })
    }

    pub fn typing(&self) -> bool {
        matches!(self.stage, Stage::Source { field: Some(_), .. })
    }
}

/// What a recovery task found (see `recovery_tasks`).
pub enum RecoveryMsg {
    /// The source opened and listed, or why not. The store stays with the world.
    Opened(Result<(crate::repo::store::Store, Opened), String>),
    Planned(String, Result<Plan, String>),
    /// The opened source listed again because it changed (see `freshness`).
    Relisted(Opened),
    Checked(Checklist),
}

impl Recovery {
    pub fn key(&mut self, key: KeyEvent) -> Reply {
        let r = self;
        if key.code == KeyCode::Char('?') && !r.typing() {
            return Go::Open(To::Help).into();
        }
        let count = r.opened.as_ref().map_or(0, |o| o.generations.len());
        let choices = r.choices();
        match &mut r.stage {
            Stage::Source {
                sel,
                field,
                opening,
                error,
                sent,
            } => {
                if let Some((f, text)) = field {
                    return match key.code {
                        KeyCode::Esc => {
                            *field = None;
                            Reply::stay()
                        }
                        KeyCode::Backspace => {
                            text.pop();
                            Reply::stay()
                        }
                        KeyCode::Char(c) if !c.is_control() => {
                            text.push(c);
                            Reply::stay()
                        }
                        KeyCode::Enter if text.trim().is_empty() => Reply::stay(),
                        KeyCode::Enter => {
                            let typed = text.trim().to_string();
                            let spec = match f {
                                Field::Folder => SourceSpec {
                                    given: typed,
                                    password_file: None,
                                },
                                Field::ResticRepo => {
                                    *field = Some((
                                        Field::ResticPassword { repo: typed },
                                        String::new(),
                                    ));
                                    return Reply::stay();
                                }
                                Field::ResticPassword { repo } => SourceSpec {
                                    given: repo.clone(),
                                    password_file: Some(PathBuf::from(typed)),
                                },
                            };
                            *sent = field.take();
                            *error = None;
                            *opening = Some(spec.given.clone());
                            Reply::effect(Effect::OpenRecoverySource(spec))
                        }
                        _ => Reply::stay(),
                    };
                }
                if opening.is_some() {
                    // Listing a remote source takes seconds: Esc stops waiting for it.
                    if key.code == KeyCode::Esc {
                        *opening = None;
                    }
                    return Reply::stay();
                }
                *sel = moved(*sel, choices.len(), key.code);
                match (key.code, choices.get(*sel)) {
                    (KeyCode::Esc, _) => Go::Back.into(),
                    (KeyCode::Enter, Some(Choice::Offsite(name))) => {
                        *error = None;
                        *opening = Some(format!("off-site target {name}"));
                        Reply::effect(Effect::OpenRecoverySource(SourceSpec {
                            given: name.clone(),
                            password_file: None,
                        }))
                    }
                    (KeyCode::Enter, Some(Choice::Folder)) => {
                        *field = Some((Field::Folder, String::new()));
                        Reply::stay()
                    }
                    (KeyCode::Enter, Some(Choice::Restic)) => {
                        *field = Some((Field::ResticRepo, String::new()));
                        Reply::stay()
                    }
                    _ => Reply::stay(),
                }
            }
            Stage::Pick { sel } => {
                *sel = moved(*sel, count, key.code);
                let id = r
                    .opened
                    .as_ref()
                    .and_then(|o| o.generations.get(*sel))
                    .map(|m| m.id.clone());
                match (key.code, id) {
                    (KeyCode::Esc, _) => {
                        r.stage = source_stage();
                        Reply::stay()
                    }
                    (KeyCode::Enter, Some(id)) => {
                        r.stage = Stage::Plan {
                            id: id.clone(),
                            plan: None,
                            scroll: Scroll::default(),
                        };
                        Reply::effect(Effect::RecoveryPlan(id))
                    }
                    _ => Reply::stay(),
                }
            }
            Stage::Plan { id, plan, scroll } => match key.code {
                KeyCode::Esc => {
                    let sel = r
                        .opened
                        .as_ref()
                        .and_then(|o| o.generations.iter().position(|m| &m.id == id))
                        .unwrap_or(0);
                    r.stage = Stage::Pick { sel };
                    Reply::stay()
                }
                // The generation is verified before the typed id is asked for
                // (the restore then does not verify it again).
                KeyCode::Enter => match plan {
                    Some(Ok(p)) if !p.refused => {
                        Reply::effect(Effect::VerifyBeforeRecovery(id.clone()))
                    }
                    _ => Reply::stay(),
                },
                code => {
                    scroll.on_key(code, true);
                    Reply::stay()
                }
            },
            Stage::Checklist { checks, scroll, .. } => match key.code {
                KeyCode::Esc | KeyCode::Enter => Reply::from(Go::Back).with(Effect::Refresh),
                KeyCode::Char('S') if checks.as_ref().is_some_and(|c| !c.stopped().is_empty()) => {
                    *checks = None;
                    Reply::effect(Effect::RecoveryCheck { start: true })
                }
                KeyCode::Char('c') if checks.is_some() => {
                    *checks = None;
                    Reply::effect(Effect::RecoveryCheck { start: false })
                }
                code => {
                    scroll.on_key(code, true);
                    Reply::stay()
                }
            },
        }
    }

    /// The typed confirmation of the planned restore, once its plan allows it.
    pub fn confirmation(&self) -> Option<To> {
        match &self.stage {
            Stage::Plan {
                id,
                plan: Some(Ok(p)),
                ..
            } if !p.refused => Some(To::RecoveryConfirm {
                id: id.clone(),
                facts: confirm_facts(id, p, self.opened.as_ref()),
            }),
            _ => None,
        }
    }

    /// Its restore succeeded (the job's screen gives way to this one): on to
    /// the checklist, which looks at the services afresh.
    pub fn restored(&mut self, summary: String) -> Effect {
        self.stage = Stage::Checklist {
            summary,
            checks: None,
            scroll: Scroll::default(),
        };
        Effect::RecoveryCheck { start: false }
    }

    /// What a recovery task found; a message for a stage since left is dropped.
    pub fn on_msg(&mut self, msg: RecoveryMsg) {
        let r = self;
        match (msg, &mut r.stage) {
            (
                RecoveryMsg::Opened(found),
                Stage::Source {
                    opening,
                    error,
                    field,
                    sent,
                    ..
                },
            ) if opening.is_some() => {
                *opening = None;
                // What was typed comes back to be corrected, unless it opened.
                let typed = sent.take();
                if !matches!(&found, Ok((_, o)) if !o.generations.is_empty()) {
                    *field = typed;
                }
                match found {
                    Ok((_, o)) if o.generations.is_empty() => {
                        *error = Some(format!(
                            "{} holds no generation{}",
                            o.location,
                            match o.unreadable.first() {
                                Some(e) => format!(" that can be read ({e})"),
                                None => String::new(),
                            }
                        ));
                    }
                    Ok((_, o)) => {
                        r.opened = Some(o);
                        r.stage = Stage::Pick { sel: 0 };
                    }
                    Err(e) => *error = Some(e),
                }
            }
            (RecoveryMsg::Planned(for_id, p), Stage::Plan { id, plan, .. }) if for_id == *id => {
                *plan = Some(p);
            }
            (RecoveryMsg::Checked(c), Stage::Checklist { checks, .. }) => *checks = Some(c),
            // The picker shows the new list, its cursor on the generation it was on
            // (or the next older one when that one is gone).
            (RecoveryMsg::Relisted(o), Stage::Pick { sel }) => {
                let was = r.opened.as_ref().and_then(|old| old.generations.get(*sel));
                let was = was.map(|m| m.id.clone());
                let ids = o.generations.iter().map(|m| m.id.as_str());
                *sel = super::keys::nearest(ids, was.as_deref(), *sel);
                r.opened = Some(o);
            }
            _ => {}
        }
    }
}

/// The chooser as it opens (and as the list goes back to it).
fn source_stage() -> Stage {
    Stage::Source {
        sel: 0,
        field: None,
        opening: None,
        error: None,
        sent: None,
    }
}

/// The confirmation's facts: the plan in short, from where.
fn confirm_facts(id: &str, plan: &Plan, opened: Option<&Opened>) -> Vec<String> {
    let mut v = vec![format!(
        "Restores generation {id} from {}.",
        opened.map_or("the copy", |o| o.location.as_str())
    )];
    v.extend(plan.lines.iter().map(|(_, l)| l.clone()));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::{App, Screen};
    use crate::tui::data::Data;
    use crate::tui::state::JobKind;
    use crate::tui::testing::{key, type_text};

    fn manifest(id: &str) -> Manifest {
        Manifest {
            host: "old".into(),
            ..Manifest::bare(id, chrono::Utc::now())
        }
    }

    fn opened(ids: &[&str]) -> RecoveryMsg {
        let store = crate::repo::store::Store::Archive(crate::repo::generation::Repo::new(
            PathBuf::from("/copy"),
        ));
        RecoveryMsg::Opened(Ok((
            store,
            Opened {
                location: "/copy".into(),
                generations: ids.iter().map(|i| manifest(i)).collect(),
                unreadable: vec![],
            },
        )))
    }

    #[test]
    fn the_picker_takes_a_new_listing_and_keeps_its_generation() {
        let mut app = App::new(Data::default());
        app.on_key(key(KeyCode::Char('D')));
        app.on_key(key(KeyCode::Enter));
        type_text(&mut app, "/copy");
        app.on_key(key(KeyCode::Enter));
        app.on_recovery(opened(&[
            "20260103T000000Z",
            "20260102T000000Z",
            "20260101T000000Z",
        ]));
        app.on_key(key(KeyCode::Down));
        assert!(app.picking_recovery());
        let relisted = |ids: &[&str]| {
            let RecoveryMsg::Opened(Ok((_, o))) = opened(ids) else {
                unreachable!()
            };
            RecoveryMsg::Relisted(o)
        };
        let sel = |app: &App| match app.screen() {
            Screen::Recovery(r) => match r.stage {
                Stage::Pick { sel } => sel,
                _ => usize::MAX,
            },
            _ => usize::MAX,
        };
        app.on_recovery(relisted(&[
            "20260104T000000Z",
            "20260103T000000Z",
            "20260102T000000Z",
            "20260101T000000Z",
        ]));
        assert_eq!(sel(&app), 2, "still on 20260102T000000Z");
        app.on_recovery(relisted(&["20260104T000000Z", "20260101T000000Z"]));
        assert_eq!(sel(&app), 1, "its generation gone: the next older one");
    }

    #[test]
    fn from_home_through_a_typed_folder_to_the_job() {
        let mut app = App::new(Data::default());
        app.on_key(key(KeyCode::Char('D')));
        assert_eq!(app.screen().kind(), ScreenKind::RecoverySource);
        app.on_key(key(KeyCode::Enter));
        assert_eq!(app.screen().kind(), ScreenKind::RecoveryInput);
        // `q` is a letter of the path here.
        type_text(&mut app, "/mnt/q");
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::OpenRecoverySource(SourceSpec {
                given: "/mnt/q".into(),
                password_file: None
            })
        );
        // A failure is shown and what was typed comes back to be corrected.
        app.on_recovery(RecoveryMsg::Opened(Err("there is no folder /mnt/q".into())));
        assert_eq!(app.screen().kind(), ScreenKind::RecoveryInput);
        for _ in 0.."/mnt/q".len() {
            app.on_key(key(KeyCode::Backspace));
        }
        type_text(&mut app, "/copy");
        app.on_key(key(KeyCode::Enter));
        app.on_recovery(opened(&["b", "a"]));
        assert_eq!(app.screen().kind(), ScreenKind::RecoveryPick);
        app.on_key(key(KeyCode::Down));
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::RecoveryPlan("a".into())
        );
        // Refused: Enter goes nowhere.
        let refused = Plan {
            lines: vec![(Tone::Refused, "a different kind".into())],
            refused: true,
            kept: vec![],
        };
        app.on_recovery(RecoveryMsg::Planned("a".into(), Ok(refused)));
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::None);
        assert_eq!(app.screen().kind(), ScreenKind::RecoveryPlan);
        app.on_key(key(KeyCode::Esc));
        app.on_key(key(KeyCode::Enter));
        let fine = Plan {
            lines: vec![(Tone::Plain, "CREATED".into())],
            refused: false,
            kept: vec![],
        };
        app.on_recovery(RecoveryMsg::Planned("a".into(), Ok(fine)));
        // Verified before the typed id is asked for, not after.
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::VerifyBeforeRecovery("a".into())
        );
        assert_eq!(app.screen().kind(), ScreenKind::Job);
        // A failed verification stays on its screen; Esc goes back to the plan.
        assert_eq!(app.on_job_done(Err("a is damaged".into())), Effect::Refresh);
        assert_eq!(app.screen().kind(), ScreenKind::JobDone);
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::RecoveryPlan);
        app.on_key(key(KeyCode::Enter));
        assert_eq!(app.on_job_done(Ok("a is intact".into())), Effect::None);
        assert_eq!(app.screen().kind(), ScreenKind::Confirm);
        type_text(&mut app, "a");
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::StartRecovery("a".into())
        );
        assert!(app.job_running());
        assert_eq!(
            app.on_job_done(Ok("restored".into())),
            Effect::RecoveryCheck { start: false }
        );
        assert_eq!(app.screen().kind(), ScreenKind::RecoveryChecklist);
        app.on_recovery(RecoveryMsg::Checked(Checklist {
            services: vec![ServiceCheck {
                name: "neo4j".into(),
                running: Some(false),
                health: Err("not running".into()),
            }],
            http: None,
            kept: vec![],
            start_errors: vec![],
        }));
        assert_eq!(
            app.on_key(key(KeyCode::Char('S'))),
            Effect::RecoveryCheck { start: true }
        );
        assert_eq!(app.on_key(key(KeyCode::Char('S'))), Effect::None, "once");
        assert_eq!(app.on_key(key(KeyCode::Esc)), Effect::Refresh);
        assert_eq!(app.screen().kind(), ScreenKind::Home);
    }

    #[test]
    fn a_restic_source_asks_for_its_password_file() {
        let mut app = App::new(Data::default());
        app.on_key(key(KeyCode::Char('D')));
        app.on_key(key(KeyCode::Down));
        app.on_key(key(KeyCode::Enter));
        type_text(&mut app, "sftp:b@nas:/srv/r");
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::None);
        type_text(&mut app, "/root/pw");
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::OpenRecoverySource(SourceSpec {
                given: "sftp:b@nas:/srv/r".into(),
                password_file: Some("/root/pw".into())
            })
        );
        // Esc stops waiting; a late answer is dropped.
        app.on_key(key(KeyCode::Esc));
        app.on_recovery(opened(&["a"]));
        assert_eq!(app.screen().kind(), ScreenKind::RecoverySource);
    }

    #[test]
    fn a_failed_restore_stays_on_its_screen() {
        let mut app = App::new(Data::default());
        app.on_key(key(KeyCode::Char('D')));
        app.begin_job(JobKind::Restore, Some("a".into()));
        assert_eq!(app.on_job_done(Err("disk full".into())), Effect::Refresh);
        assert_eq!(app.screen().kind(), ScreenKind::JobDone);
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::RecoverySource);
    }
}
