//! Drawing the wizard: one function per screen, all from `App` and a clock, so the
//! same state always draws the same picture (snapshot tests rely on it).

mod backup_plan;
mod browse;
mod clock;
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

pub use clock::Clock;

use ratatui::layout::{Constraint, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::app::{App, Screen};
use super::browse::Listing;
use super::theme::Theme;
use widgets::{footer, too_small, MIN_HEIGHT, MIN_WIDTH};

/// Whether the wizard can be drawn in `width`×`height`; below that it shows only
/// "Terminal too small", and no key but quitting may act on screens nobody sees.
pub fn fits(width: u16, height: u16) -> bool {
    width >= MIN_WIDTH && height >= MIN_HEIGHT
}

pub fn draw(f: &mut Frame, app: &App, theme: &Theme, clock: Clock) {
    let area = f.area();
    if !fits(area.width, area.height) {
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
        Screen::PrunePreview(_) => "Prune: preview".into(),
        Screen::Schedule(_) => "Schedule".into(),
        Screen::Help(_) => "Help".into(),
        Screen::Actions { .. } => "Generations: actions".into(),
        Screen::Kept { .. } => "Kept folders".into(),
        Screen::Browse(b) if b.showing == Listing::Differences => {
            "Files: against the live installation".into()
        }
        Screen::Browse(_) => "Files".into(),
        Screen::RemoveKept { .. } => "Kept folders: remove".into(),
        Screen::Recovery(r) => recovery::title(r).into(),
        Screen::RecoveryConfirm(_) => "Disaster recovery: confirm".into(),
        Screen::StartServices(_) => "Home: start services".into(),
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
        Screen::Home => overflow = home::home(f, body, app, theme, clock),
        Screen::BackupPlan(p) => overflow = backup_plan::backup_plan(f, body, app, p, theme),
        Screen::Job(j) => overflow = job::job(f, body, j, &app.data, theme, clock),
        Screen::Generations { sel } => {
            generations::generations(f, body, app, *sel, theme, clock, true)
        }
        Screen::RestorePick { sel } => {
            generations::generations(f, body, app, *sel, theme, clock, false)
        }
        Screen::RestoreConfirm(c) => {
            overflow = confirm::confirm(f, body, c, "Restore", "generation id", theme)
        }
        Screen::DeleteConfirm(c) => {
            overflow = confirm::confirm(f, body, c, "Delete", "generation id", theme)
        }
        Screen::RemoveKept { confirm: c, .. } => {
            overflow = confirm::confirm(f, body, c, "Remove", "folder name", theme)
        }
        Screen::Kept { sel } => kept::kept(f, body, app, *sel, theme, clock),
        Screen::Recovery(r) => overflow = recovery::recovery(f, body, r, theme, clock),
        Screen::RecoveryConfirm(c) => {
            overflow = confirm::confirm(f, body, c, "Restore", "generation id", theme)
        }
        Screen::Browse(b) => browse::browse(f, body, b, theme),
        Screen::PrunePreview(p) => prune::prune(f, body, p, &app.data.policy, theme),
        Screen::Schedule(sc) => schedule::schedule(f, body, app, sc, theme, clock),
        Screen::Help(scroll) => overflow = help::help(f, body, app, scroll, theme),
        Screen::StartServices(names) => {
            home::home(f, body, app, theme, clock);
            widgets::dialog(
                f,
                body,
                &format!(
                    " Start {}?\n Found stopped; started in order and\n health-checked, as after a backup.\n\n y: start    any other key: back",
                    names.join(", ")
                ),
                theme,
            );
        }
        Screen::Actions { id, sel: hl } => {
            // The list stays beneath, with the generation still selected.
            let sel = app
                .data
                .generations
                .iter()
                .position(|m| &m.id == id)
                .unwrap_or(0);
            generations::generations(f, body, app, sel, theme, clock, true);
            let mut lines = vec![Line::raw(format!(" {id}")), Line::raw("")];
            for (i, (k, what)) in crate::tui::generations::actions(app.data.browsable)
                .iter()
                .enumerate()
            {
                let text = format!("{}{k:<4} {what}", if i == *hl { "▶ " } else { "  " });
                let style = match i == *hl {
                    true => theme.selected(),
                    false => theme.value(),
                };
                lines.push(Line::styled(text, style));
            }
            lines.push(Line::styled("  Esc  close", theme.dim()));
            widgets::dialog_lines(f, body, lines, theme);
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
