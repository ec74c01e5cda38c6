//! Browsing a generation's contents: every entry of its file indexes (size,
//! sha256, and the mtime read from the archives on a thread), a `/` search by
//! path, and what differs from the live installation (`c`, on a thread).

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::keys::moved;
use super::state::{Effect, Go, Reply, ScreenKind, To};
use crate::ops::compare::Change;
use crate::repo::file_index::EntryKind;

/// One entry of a generation.
#[derive(Clone, Debug, PartialEq)]
pub struct FileRow {
    pub component: String,
    /// The path inside the component, printable (odd bytes as `%XX`); `.` is its root.
    pub path: String,
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub sha256: Option<String>,
    /// A symlink's target or the path a hardlink shares its data with.
    pub link: Option<String>,
    /// Seconds since the epoch, once read from the archive.
    pub mtime: Option<i64>,
}

impl FileRow {
    /// `component/path`, as listed and searched.
    pub fn shown(&self) -> String {
        shown(&self.component, &self.path)
    }
}

/// `component/path`; a component's root is `component/`.
pub fn shown(component: &str, path: &str) -> String {
    match path {
        "." => format!("{component}/"),
        p => format!("{component}/{p}"),
    }
}

/// One difference from the live installation.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffRow {
    pub component: String,
    pub path: String,
    pub change: Change,
}

/// Reading the mtimes from the archives.
#[derive(Clone, Debug, PartialEq)]
pub enum Times {
    /// Bytes of the archives' contents read so far, of all.
    Reading {
        done: u64,
        total: u64,
    },
    Read,
    /// The archive could not be read to its end (damaged?): why.
    Failed(String),
}

/// Comparing with the live installation.
#[derive(Clone, Debug, PartialEq)]
pub enum Comparison {
    Running { step: String, done: u64, total: u64 },
    Done(Vec<DiffRow>),
    Failed(String),
}

/// What the tasks of a browse report.
pub enum BrowseMsg {
    Listed(Result<Vec<FileRow>, String>),
    /// Row positions and their mtimes.
    Times(Vec<(usize, i64)>),
    TimesRead {
        done: u64,
        total: u64,
    },
    TimesEnd(Result<(), String>),
    Comparing {
        step: String,
        done: u64,
        total: u64,
    },
    Compared(Result<Vec<DiffRow>, String>),
    /// The listing's task panicked: why.
    Failed(String),
}

/// The contents of a generation, or how it differs from the live installation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    Contents,
    Differences,
}

#[derive(Clone, Debug)]
pub struct BrowseScreen {
    pub id: String,
    /// None while the indexes are read.
    pub rows: Option<Result<Vec<FileRow>, String>>,
    pub times: Times,
    pub compare: Option<Comparison>,
    pub showing: Listing,
    /// The `/` search: its text, and whether keys type into it.
    pub filter: String,
    pub searching: bool,
    /// Positions of the shown list's entries whose path holds the filter.
    pub matches: Vec<usize>,
    /// The selection, a position in `matches`.
    pub sel: usize,
    /// Files listed and the bytes they hold.
    pub files: usize,
    pub bytes: u64,
}

impl BrowseScreen {
    pub fn new(id: &str) -> BrowseScreen {
        BrowseScreen {
            id: id.to_string(),
            rows: None,
            times: Times::Reading { done: 0, total: 0 },
            compare: None,
            showing: Listing::Contents,
            filter: String::new(),
            searching: false,
            matches: Vec::new(),
            sel: 0,
            files: 0,
            bytes: 0,
        }
    }

    pub fn entries(&self) -> &[FileRow] {
        match &self.rows {
            Some(Ok(rows)) => rows,
            _ => &[],
        }
    }

    pub fn differences(&self) -> &[DiffRow] {
        match &self.compare {
            Some(Comparison::Done(d)) => d,
            _ => &[],
        }
    }

    /// Finds the entries of the shown list that match the filter (case does not
    /// matter), keeping the selection on the entry it was on when it still matches.
    pub fn refilter(&mut self) {
        let needle = self.filter.to_lowercase();
        let hit = |s: String| needle.is_empty() || s.to_lowercase().contains(&needle);
        let before = self.matches.get(self.sel).copied();
        self.matches = match self.showing {
            Listing::Contents => (0..self.entries().len())
                .filter(|&i| hit(self.entries()[i].shown()))
                .collect(),
            Listing::Differences => (0..self.differences().len())
                .filter(|&i| {
                    let d = &self.differences()[i];
                    hit(shown(&d.component, &d.path))
                })
                .collect(),
        };
        self.sel = before
            .and_then(|b| self.matches.iter().position(|&m| m == b))
            .unwrap_or(0);
    }

    /// Takes in what a thread reported.
    pub fn apply(&mut self, msg: BrowseMsg) {
        match msg {
            BrowseMsg::Listed(rows) => {
                let files = rows.iter().flatten().filter(|r| r.kind == EntryKind::File);
                self.files = files.clone().count();
                self.bytes = files.map(|r| r.size).sum();
                self.rows = Some(rows);
                self.refilter();
            }
            BrowseMsg::Times(times) => {
                if let Some(Ok(rows)) = &mut self.rows {
                    for (i, t) in times {
                        if let Some(r) = rows.get_mut(i) {
                            r.mtime = Some(t);
                        }
                    }
                }
            }
            BrowseMsg::TimesRead { done, total } => self.times = Times::Reading { done, total },
            BrowseMsg::TimesEnd(Ok(())) => self.times = Times::Read,
            BrowseMsg::TimesEnd(Err(e)) => self.times = Times::Failed(e),
            BrowseMsg::Comparing { step, done, total } => {
                self.compare = Some(Comparison::Running { step, done, total })
            }
            BrowseMsg::Failed(e) => {
                if self.rows.is_none() {
                    self.rows = Some(Err(e.clone()));
                }
                self.times = Times::Failed(e);
            }
            BrowseMsg::Compared(r) => {
                self.compare = Some(match r {
                    Ok(mut d) => {
                        d.sort_by(|a, b| {
                            (rank(&a.change), &a.component, &a.path).cmp(&(
                                rank(&b.change),
                                &b.component,
                                &b.path,
                            ))
                        });
                        Comparison::Done(d)
                    }
                    Err(e) => Comparison::Failed(e),
                });
                self.refilter();
            }
        }
    }

    pub fn kind(&self) -> ScreenKind {
        match (self.searching, self.showing) {
            (true, _) => ScreenKind::BrowseSearch,
            (false, Listing::Differences) => ScreenKind::BrowseDiff,
            (false, Listing::Contents) => ScreenKind::Browse,
        }
    }

    pub fn key(&mut self, key: KeyEvent) -> Reply {
        // No path search needs a `?` more than the help does.
        if key.code == KeyCode::Char('?') {
            return Go::Open(To::Help).into();
        }
        if self.searching {
            match key.code {
                KeyCode::Char(c) => self.filter.push(c),
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Enter => self.searching = false,
                KeyCode::Esc => {
                    self.searching = false;
                    self.filter.clear();
                }
                code => {
                    self.sel = moved(self.sel, self.matches.len(), code);
                    return Reply::stay();
                }
            }
            self.refilter();
            return Reply::stay();
        }
        match key.code {
            KeyCode::Char('/') => self.searching = true,
            KeyCode::Esc if !self.filter.is_empty() => {
                self.filter.clear();
                self.refilter();
            }
            KeyCode::Char('c') => {
                self.showing = match self.showing {
                    Listing::Contents => Listing::Differences,
                    Listing::Differences => Listing::Contents,
                };
                self.sel = 0;
                self.refilter();
                if self.compare.is_none() && self.showing == Listing::Differences {
                    self.compare = Some(Comparison::Running {
                        step: String::new(),
                        done: 0,
                        total: 0,
                    });
                    return Reply::effect(Effect::Compare(self.id.clone()));
                }
            }
            KeyCode::Esc => return Go::Back.into(),
            code => self.sel = moved(self.sel, self.matches.len(), code),
        }
        Reply::stay()
    }
}

/// Where a kind of difference sorts, first what a restore of the generation
/// would undo in the live installation, in the order a sysadmin checks before
/// restoring: a changed file (the restore puts the generation's version back
/// and the live edit goes to the kept folder), a missing one (the restore
/// brings it back), then a new one (not in the generation: after the restore
/// it exists only in the kept folder). The summary line counts them in this
/// order too. Within a kind, by component and path.
fn rank(c: &Change) -> u8 {
    match c {
        Change::Changed(_) => 0,
        Change::Missing => 1,
        Change::New => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::{App, Screen};
    use crate::tui::data::Data;
    use crate::tui::testing::key;

    fn file(path: &str) -> FileRow {
        FileRow {
            component: "structr".into(),
            path: path.into(),
            kind: EntryKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 1,
            sha256: Some("ab".repeat(32)),
            link: None,
            mtime: None,
        }
    }

    fn browsing() -> App {
        let mut app = App::new(Data {
            generations: vec![crate::repo::manifest::Manifest::bare(
                "g1",
                chrono::Utc::now(),
            )],
            browsable: true,
            ..Data::default()
        });
        app.on_key(key(KeyCode::Char('g')));
        assert_eq!(
            app.on_key(key(KeyCode::Char('f'))),
            Effect::Browse("g1".into())
        );
        app.on_browse(BrowseMsg::Listed(Ok(vec![
            file("."),
            file("structr.conf"),
            file("files/Quarterly.pdf"),
            file("files/notes.txt"),
        ])));
        app
    }

    fn screen(app: &App) -> &BrowseScreen {
        match app.screen() {
            Screen::Browse(b) => b,
            _ => panic!("not browsing"),
        }
    }

    #[test]
    fn slash_searches_paths_and_q_is_typed_there() {
        let mut app = browsing();
        assert_eq!(screen(&app).matches.len(), 4);
        app.on_key(key(KeyCode::Char('/')));
        assert_eq!(app.screen().kind(), ScreenKind::BrowseSearch);
        for c in "files/q".chars() {
            assert_eq!(app.on_key(key(KeyCode::Char(c))), Effect::None, "typed");
        }
        let b = screen(&app);
        assert_eq!(b.matches, [2], "case does not matter");
        app.on_key(key(KeyCode::Backspace));
        app.on_key(key(KeyCode::Enter));
        assert_eq!(screen(&app).matches, [2, 3]);
        app.on_key(key(KeyCode::Char('j')));
        assert_eq!(screen(&app).sel, 1, "j moves once the search is kept");
        // Esc clears the filter first, then leaves.
        app.on_key(key(KeyCode::Esc));
        assert_eq!(screen(&app).matches.len(), 4);
        assert_eq!(screen(&app).sel, 3, "still on the same entry");
        app.on_key(key(KeyCode::Esc));
        assert!(!app.browsing());
    }

    #[test]
    fn c_compares_once_and_switches_between_the_lists() {
        let mut app = browsing();
        assert_eq!(
            app.on_key(key(KeyCode::Char('c'))),
            Effect::Compare("g1".into())
        );
        assert_eq!(app.screen().kind(), ScreenKind::BrowseDiff);
        app.on_browse(BrowseMsg::Compared(Ok(vec![DiffRow {
            component: "structr".into(),
            path: "files/new.txt".into(),
            change: Change::New,
        }])));
        assert_eq!(screen(&app).matches, [0]);
        assert_eq!(app.on_key(key(KeyCode::Char('c'))), Effect::None);
        assert_eq!(app.screen().kind(), ScreenKind::Browse);
        assert_eq!(
            app.on_key(key(KeyCode::Char('c'))),
            Effect::None,
            "compared once"
        );
    }

    #[test]
    fn differences_sort_changed_then_missing_then_new() {
        let mut app = browsing();
        app.on_key(key(KeyCode::Char('c')));
        let row = |path: &str, change: Change| DiffRow {
            component: "structr".into(),
            path: path.into(),
            change,
        };
        app.on_browse(BrowseMsg::Compared(Ok(vec![
            row("a-new", Change::New),
            row("b-missing", Change::Missing),
            row("c-changed", Change::Changed("size".into())),
            row("a-missing", Change::Missing),
        ])));
        let paths: Vec<&str> = screen(&app)
            .differences()
            .iter()
            .map(|d| d.path.as_str())
            .collect();
        assert_eq!(paths, ["c-changed", "a-missing", "b-missing", "a-new"]);
    }

    #[test]
    fn mtimes_arrive_by_position() {
        let mut app = browsing();
        app.on_browse(BrowseMsg::Times(vec![(1, 1_700_000_000), (9, 1)]));
        assert_eq!(screen(&app).entries()[1].mtime, Some(1_700_000_000));
        app.on_browse(BrowseMsg::TimesEnd(Err("damaged".into())));
        assert_eq!(screen(&app).times, Times::Failed("damaged".into()));
    }
}
