//! Home: what is installed, how it stands, and what can be done.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::clock::Clock;
use super::kept::kept_line;
use super::widgets::{above, field, fit_path, local, scrolled};
use crate::install::schedule::LastRun;
use crate::install::ComponentSpec;
use crate::text::printable;
use crate::tui::app::App;
use crate::tui::data::{ScheduleFacts, Timer};
use crate::tui::theme::Theme;
use crate::units;

pub fn home(f: &mut Frame, area: Rect, app: &App, theme: &Theme, clock: Clock) -> bool {
    let d = &app.data;
    let mut lines = Vec::new();
    if let Some(e) = &d.detect_error {
        lines.push(Line::styled(" No installation found", theme.danger()));
        lines.push(Line::raw(format!(" {e}")));
    } else {
        lines.push(field(
            "Installation",
            format!("{} on {}", d.kind, d.host),
            theme,
        ));
        lines.extend(components(&d.components, area.width as usize, theme));
        let mut svc = vec![Span::styled(format!(" {:<13}", "Services"), theme.label())];
        for (name, running) in &d.services {
            let (sym, style, word) = match running {
                Some(true) => ("●", theme.ok(), "running"),
                Some(false) => ("○", theme.danger(), "STOPPED"),
                None => ("?", theme.warn(), "unknown"),
            };
            svc.push(Span::styled(format!("{sym} {name} {word}   "), style));
        }
        // Services an interrupted run left down are R's; others found stopped, S's.
        if d.interrupted.is_none() && d.services.iter().any(|(_, r)| *r == Some(false)) {
            svc.push(Span::styled("press S to start", theme.warn()));
        }
        lines.push(Line::from(svc));
    }
    let free = d.free_bytes.map_or("free space unknown".into(), |b| {
        format!("{} free", units::bytes(b))
    });
    lines.push(field("Repository", format!("{} ({free})", d.repo), theme));
    let newest = match d.generations.first() {
        Some(m) => format!(
            "{} ({}); {} in all, {}",
            m.id,
            units::age(clock.wall - m.created_at),
            d.generations.len(),
            units::bytes(d.generations.iter().map(|g| g.total_archive_size()).sum())
        ),
        None if !d.listed => "reading the repository…".into(),
        None => "no backup yet".into(),
    };
    lines.push(field("Newest", newest, theme));
    for o in &d.offsite {
        lines.push(offsite_line(o, d, clock, theme));
    }
    lines.push(schedule_line(
        app.schedule.as_ref(),
        theme,
        clock,
        area.width.saturating_sub(14) as usize,
    ));
    if let Some(rows) = app.kept.as_ref().filter(|k| !k.is_empty()) {
        lines.push(kept_line(rows, theme));
    }
    if let Some(r) = &d.interrupted {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            " ⚠ Services are down after an interrupted run:",
            theme.danger(),
        ));
        lines.push(Line::raw(format!(
            "   {} left stopped: {}. Press R to recover.",
            r.operation,
            r.stopped.join(", ")
        )));
    }
    if let Some(why) = d.recovery.why.as_ref().filter(|_| d.detect_error.is_none()) {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(" ⚠ This installation looks lost: {why}."),
            theme.warn(),
        ));
    }
    for n in &d.notes {
        lines.push(Line::raw(""));
        lines.push(Line::styled(format!(" ℹ {n}"), theme.dim()));
    }
    let block = Block::default().borders(Borders::TOP);
    let inner = block.inner(area);
    f.render_widget(block, area);
    // What to press stays in view; the facts above scroll when they do not fit.
    let mut actions = vec![
        Line::raw(""),
        Line::from(vec![
            Span::raw(" "),
            Span::styled("b", theme.key()),
            Span::raw(" back up now   "),
            Span::styled("r", theme.key()),
            Span::raw(" restore   "),
            Span::styled("g", theme.key()),
            Span::raw(" browse generations"),
        ]),
    ];
    // Offered where the other actions are when the installation looks lost
    // (otherwise D is in the help only).
    if d.recovery.why.is_some() && d.detect_error.is_none() {
        actions.push(Line::from(vec![
            Span::raw(" "),
            Span::styled("D", theme.key()),
            Span::raw(" Disaster recovery: restore from a copy"),
        ]));
    }
    let [facts, keys] = above(inner, &lines, actions.len() as u16);
    let overflow = scrolled(f, facts, lines, &app.home_scroll);
    f.render_widget(Paragraph::new(actions), keys);
    overflow
}

/// One line per component: a server's two or three folders by what they hold; a
/// Compose project's volumes by name, each with its path cut to fit `width`.
fn components<'a>(specs: &[ComponentSpec], width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let known = |c: &ComponentSpec| match (c.role.as_str(), c.name.as_str()) {
        (crate::install::ROLE_NEO4J_DATA, _) => Some("Neo4j data"),
        (crate::install::ROLE_STRUCTR, _) => Some("Structr"),
        (_, "structr-files") => Some("Structr files"),
        _ => None,
    };
    if specs.iter().all(|c| known(c).is_some()) {
        return specs
            .iter()
            .map(|c| {
                let name = known(c).unwrap_or_default();
                field(name, c.path.display().to_string(), theme)
            })
            .collect();
    }
    let name_width = specs
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    specs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let label = if i == 0 { "Components" } else { "" };
            let room = width.saturating_sub(14 + name_width + 2 + 1);
            let name = fit_path(&c.name, name_width);
            Line::from(vec![
                Span::styled(format!(" {label:<13}"), theme.label()),
                Span::styled(format!("{name:<name_width$}  "), theme.value()),
                Span::styled(fit_path(&c.path.display().to_string(), room), theme.dim()),
            ])
        })
        .collect()
}

/// Home's one line on the nightly timer: the next run, the last backup and,
/// when a run of another operation came after it, that run by name; in `room`
/// columns (the generation id goes first when they are few, then the end is
/// cut with an ellipsis).
pub fn schedule_line<'a>(
    facts: Option<&ScheduleFacts>,
    theme: &Theme,
    clock: Clock,
    room: usize,
) -> Line<'a> {
    let label = Span::styled(format!(" {:<13}", "Schedule"), theme.label());
    let Some(facts) = facts else {
        return Line::from(vec![label, Span::styled("checking…", theme.dim())]);
    };
    // The next run's date is left out first when room is short (the timer is daily).
    let state = |date: bool| match &facts.timer {
        Timer::Known(s) if s.enabled && s.active => (
            match s.next_run {
                Some(t) if date => format!("next {}", local(t)),
                Some(t) => format!("next {}", t.with_timezone(&chrono::Local).format("%H:%M")),
                None => "enabled, no next run (press s)".into(),
            },
            theme.value(),
        ),
        Timer::Known(s) if s.enabled => ("enabled but stopped (press s)".into(), theme.warn()),
        Timer::Known(_) => ("not enabled (press s)".into(), theme.warn()),
        Timer::NotInstalled => ("timer not installed (press s)".into(), theme.warn()),
        Timer::Unavailable(_) => ("unavailable (press s)".into(), theme.warn()),
    };
    let (backup, other) = match &facts.last {
        Ok(runs) => runs.headline(),
        Err(_) => (None, None),
    };
    // Shorter and shorter: without the id; then without the next run's date,
    // the backup's age (Home's "Newest" says it) and the other run's "last".
    let said = |full: bool, with_id: bool, age: bool| -> Vec<(String, ratatui::style::Style)> {
        let mut parts = vec![state(full)];
        for (i, run) in backup.iter().chain(other.iter()).enumerate() {
            let style = match run.succeeded() {
                true => theme.value(),
                false => theme.danger(),
            };
            let words = match (i, full, age) {
                (_, true, _) | (0, false, true) => last_words(run, clock, with_id),
                (0, false, false) => format!("last {}: {}", run.operation(), status_word(run)),
                _ => format!("{}: {}", run.operation(), run_words(run, clock, false)),
            };
            parts.push((format!(" · {words}"), style));
        }
        parts
    };
    let width = |parts: &[(String, _)]| parts.iter().map(|(t, _)| t.chars().count()).sum::<usize>();
    let parts = [
        (true, true, true),
        (true, false, true),
        (false, false, true),
    ]
    .into_iter()
    .map(|(full, with_id, age)| said(full, with_id, age))
    .find(|p| width(p) <= room)
    .unwrap_or_else(|| said(false, false, false));
    let mut spans = vec![label];
    let mut left = room;
    for (text, style) in parts {
        let n = text.chars().count();
        if n <= left {
            left -= n;
            spans.push(Span::styled(text, style));
            continue;
        }
        if left > 0 {
            let cut: String = text.chars().take(left - 1).collect();
            spans.push(Span::styled(format!("{}…", cut.trim_end()), style));
        }
        break;
    }
    Line::from(spans)
}

/// "last backup: success 20261125T031502Z, 3 h ago" (the id only `with_id`).
pub fn last_words(run: &LastRun, clock: Clock, with_id: bool) -> String {
    format!(
        "last {}: {}",
        run.operation(),
        run_words(run, clock, with_id)
    )
}

/// "success 20261125T031502Z, 3 h ago" (the id only `with_id`).
pub fn run_words(run: &LastRun, clock: Clock, with_id: bool) -> String {
    let mut s = status_word(run);
    if let Some(id) = run.id.as_ref().filter(|_| with_id) {
        s.push_str(&format!(" {id}"));
    }
    if let Some(t) = run.when() {
        s.push_str(&format!(", {}", units::age(clock.wall - t)));
    }
    s
}

/// "success", or a failure in capitals.
fn status_word(run: &LastRun) -> String {
    match run.status.as_deref() {
        Some("success") => "success".to_string(),
        Some("failure") => "FAILED".to_string(),
        Some(s) => s.to_uppercase(),
        None => "unknown".into(),
    }
}

/// One off-site target on Home: its newest copy and how far it lags behind the
/// repository's newest generation.
fn offsite_line<'a>(
    o: &crate::tui::data::OffsiteState,
    d: &crate::tui::data::Data,
    clock: Clock,
    theme: &Theme,
) -> Line<'a> {
    let label = "Off-site";
    let name = &o.name;
    let ids = match &o.ids {
        Err(e) => {
            return Line::from(vec![
                Span::styled(format!(" {label:<13}"), theme.label()),
                Span::styled(
                    format!("{name}: unreachable: {}", printable(e, 200)),
                    theme.danger(),
                ),
            ])
        }
        Ok(ids) => ids,
    };
    let Some(newest) = ids.first() else {
        return Line::from(vec![
            Span::styled(format!(" {label:<13}"), theme.label()),
            Span::styled(format!("{name}: no copy yet"), theme.warn()),
        ]);
    };
    let behind = d
        .generations
        .iter()
        .take_while(|g| &g.id != newest)
        .filter(|g| !ids.contains(&g.id))
        .count();
    let age = d
        .generations
        .iter()
        .find(|g| &g.id == newest)
        .map(|g| format!(" ({})", units::age(clock.wall - g.created_at)))
        .unwrap_or_default();
    let (text, style) = match behind {
        0 => (format!("{name}: {newest}{age}, up to date"), theme.ok()),
        n => (
            format!("{name}: {newest}{age}, {n} newer generation(s) not copied"),
            theme.warn(),
        ),
    };
    Line::from(vec![
        Span::styled(format!(" {label:<13}"), theme.label()),
        Span::styled(text, style),
    ])
}
