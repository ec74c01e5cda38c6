//! Drawing the wizard: one function per screen, all from `App` and a clock, so the
//! same state always draws the same picture (snapshot tests rely on it).

mod browse;
mod columns;
mod confirm;
mod generations;
mod help;
mod home;
mod job;
mod kept;
mod prune;
mod recovery;
mod schedule;
mod widgets;

use browse::browse;
use columns::{fit, Col};
use confirm::confirm;
use generations::generations;
use help::help;
use home::*;
use job::job;
use kept::{kept, kept_line};
use prune::prune;
use schedule::schedule;
use widgets::*;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Gauge, Paragraph, Row, Scrollbar, ScrollbarOrientation,
    ScrollbarState, Table, Wrap,
};
use ratatui::Frame;

use super::app::{
    App, Confirm, Focus, Job, PlanScreen, PruneRow, ScheduleAction, ScheduleFacts, ScheduleScreen,
    Screen, ScreenKind, StepState, Timer,
};
use super::keys::{keys, SCROLL};
use super::scroll::Scroll;
use super::theme::Theme;
use crate::install::schedule::LastRun;
use crate::install::ComponentSpec;
use crate::repo::manifest::Manifest;
use crate::text::printable;
use crate::units;

pub const MIN_WIDTH: u16 = 64;
pub const MIN_HEIGHT: u16 = 20;

/// The time the picture is drawn at (fixed in tests).
#[derive(Clone, Copy)]
pub struct Clock {
    pub wall: DateTime<Utc>,
    pub mono: Instant,
}

impl Clock {
    pub fn now() -> Self {
        Clock {
            wall: Utc::now(),
            mono: Instant::now(),
        }
    }
}

pub fn draw(f: &mut Frame, app: &App, theme: &Theme, clock: Clock) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(f, area, theme);
        return;
    }
    let [head, body, status, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let screen = app.screen();
    let title = match screen {
        Screen::Home => "Home".to_string(),
        Screen::BackupPlan(_) => "Backup: plan".into(),
        Screen::Job(j) => j.kind.title().into(),
        Screen::Generations { .. } => "Generations".into(),
        Screen::RestorePick { .. } => "Restore: choose a generation".into(),
        Screen::RestoreConfirm(_) => "Restore: confirm".into(),
        Screen::DeleteConfirm(_) => "Delete: confirm".into(),
        Screen::PrunePreview { .. } => "Prune: preview".into(),
        Screen::Schedule(_) => "Schedule".into(),
        Screen::Help(_) => "Help".into(),
        Screen::Actions { .. } => "Generations: actions".into(),
        Screen::Kept { .. } => "Kept folders".into(),
        Screen::Browse(b) if b.showing == crate::tui::browse::Listing::Differences => {
            "Files: against the live installation".into()
        }
        Screen::Browse(_) => "Files".into(),
        Screen::RemoveKept { .. } => "Kept folders: remove".into(),
        Screen::Recovery(r) => recovery::title(r).into(),
        Screen::RecoveryConfirm(_) => "Disaster recovery: confirm".into(),
    };
    let who = format!("{} · {} ", app.data.kind, app.data.host);
    // The installation goes when the title needs the room.
    let left = 16 + 2 + title.chars().count();
    let gap = (head.width as usize).saturating_sub(left + who.chars().count());
    let who = if gap == 0 { String::new() } else { who };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" structr-backup ", theme.title()),
            Span::styled(format!("› {title}"), theme.value()),
            Span::raw(" ".repeat(gap)),
            Span::styled(who, theme.dim()),
        ])),
        head,
    );
    let mut overflow = false;
    match screen {
        Screen::Home => overflow = home(f, body, app, theme, clock),
        Screen::BackupPlan(p) => overflow = backup_plan(f, body, app, p, theme),
        Screen::Job(j) => job(f, body, j, &app.data, theme, clock),
        Screen::Generations { sel } => generations(f, body, app, *sel, theme, clock, true),
        Screen::RestorePick { sel } => generations(f, body, app, *sel, theme, clock, false),
        Screen::RestoreConfirm(c) => {
            overflow = confirm(f, body, c, "Restore", "generation id", theme)
        }
        Screen::DeleteConfirm(c) => {
            overflow = confirm(f, body, c, "Delete", "generation id", theme)
        }
        Screen::RemoveKept { confirm: c, .. } => {
            overflow = confirm(f, body, c, "Remove", "folder name", theme)
        }
        Screen::Kept { sel } => kept(f, body, app, *sel, theme, clock),
        Screen::Recovery(r) => overflow = recovery::recovery(f, body, r, theme, clock),
        Screen::RecoveryConfirm(c) => {
            overflow = confirm(f, body, c, "Restore", "generation id", theme)
        }
        Screen::Browse(b) => browse(f, body, b, theme),
        Screen::PrunePreview { rows, sel, confirm } => {
            prune(f, body, rows, &app.data.policy, *sel, *confirm, theme)
        }
        Screen::Schedule(sc) => schedule(f, body, app, sc, theme, clock),
        Screen::Help(scroll) => overflow = help(f, body, app, scroll, theme),
        Screen::Actions { id } => {
            // The list stays beneath, with the generation still selected.
            let sel = app
                .data
                .generations
                .iter()
                .position(|m| &m.id == id)
                .unwrap_or(0);
            generations(f, body, app, sel, theme, clock, true);
            let menu: String = keys(ScreenKind::Actions)
                .iter()
                .filter(|(k, _)| app.data.browsable || *k != "f")
                .map(|(k, what)| format!(" {k:<4} {what}\n"))
                .collect();
            dialog(f, body, &format!(" {id}\n\n{menu}"), theme);
        }
    }
    if let Some(s) = &app.status {
        f.render_widget(
            Paragraph::new(Span::styled(format!(" {s}"), theme.warn())),
            status,
        );
    }
    // Keys that would do nothing now are left out.
    let idle: &[&str] = match screen {
        Screen::Kept { .. } if app.kept.as_ref().is_none_or(|k| k.is_empty()) => &["d", "↑↓ jk"],
        Screen::Generations { .. } | Screen::RestorePick { .. }
            if app.data.generations.is_empty() =>
        {
            &["↑↓ jk", "Enter", "f", "v", "V", "p", "d"]
        }
        Screen::Generations { .. } | Screen::Actions { .. } if !app.data.browsable => &["f"],
        Screen::Recovery(r) if !r.can_go_on() => &["Enter"],
        _ => &[],
    };
    footer(f, foot, screen.kind(), overflow, idle, theme);
}
