//! Drawing the wizard: one function per screen, all from `App` and a clock, so the
//! same state always draws the same picture (snapshot tests rely on it).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Gauge, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::app::{
    App, Confirm, Focus, Job, PruneRow, ScheduleAction, ScheduleFacts, ScheduleScreen, Screen,
    ScreenKind, StepState, Timer,
};
use super::keys::keys;
use super::theme::Theme;
use crate::install::schedule::LastRun;
use crate::repo::generation::Manifest;
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
        Screen::BackupPlan => "Backup: plan".into(),
        Screen::Job(j) => j.kind.title().into(),
        Screen::Generations { .. } => "Generations".into(),
        Screen::RestorePick { .. } => "Restore: choose a generation".into(),
        Screen::RestoreConfirm(_) => "Restore: confirm".into(),
        Screen::DeleteConfirm(_) => "Delete: confirm".into(),
        Screen::PrunePreview { .. } => "Prune: preview".into(),
        Screen::Schedule(_) => "Schedule".into(),
        Screen::Help => "Help".into(),
        Screen::Actions { .. } => "Generations: actions".into(),
    };
    let who = format!("{} · {} ", app.data.kind, app.data.host);
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" structr-backup ", theme.title()),
            Span::styled(format!("› {title}"), theme.value()),
            Span::raw(
                " ".repeat((head.width as usize).saturating_sub(20 + title.len() + who.len())),
            ),
            Span::styled(who, theme.dim()),
        ])),
        head,
    );
    match screen {
        Screen::Home => home(f, body, app, theme, clock),
        Screen::BackupPlan => backup_plan(f, body, app, theme),
        Screen::Job(j) => job(f, body, j, &app.data, theme, clock),
        Screen::Generations { sel } => generations(f, body, app, *sel, theme, clock, true),
        Screen::RestorePick { sel } => generations(f, body, app, *sel, theme, clock, false),
        Screen::RestoreConfirm(c) => confirm(f, body, c, "Restore", theme),
        Screen::DeleteConfirm(c) => confirm(f, body, c, "Delete", theme),
        Screen::PrunePreview { rows, sel, confirm } => prune(f, body, rows, *sel, *confirm, theme),
        Screen::Schedule(sc) => schedule(f, body, app, sc, theme, clock),
        Screen::Help => help(f, body, app, theme),
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
    footer(f, foot, screen.kind(), theme);
}

fn too_small(f: &mut Frame, area: Rect, theme: &Theme) {
    let text = vec![
        Line::styled("Terminal too small", theme.warn()),
        Line::raw(format!(
            "need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{}",
            area.width, area.height
        )),
        Line::raw("enlarge the window to continue"),
    ];
    f.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
}

/// The screen's keys, as many whole ones as fit, in the table's order.
fn footer(f: &mut Frame, area: Rect, kind: ScreenKind, theme: &Theme) {
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for k in keys(kind) {
        let width = k.0.chars().count() + 1 + k.1.chars().count();
        if used + width > area.width as usize {
            break;
        }
        used += width + 2;
        spans.push(Span::styled(k.0, theme.key()));
        spans.push(Span::styled(format!(" {}  ", k.1), theme.dim()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn field<'a>(name: &'a str, value: String, theme: &Theme) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!(" {name:<13}"), theme.label()),
        Span::styled(value, theme.value()),
    ])
}

fn home(f: &mut Frame, area: Rect, app: &App, theme: &Theme, clock: Clock) {
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
        for c in &d.components {
            let name = if c.role == crate::install::ROLE_NEO4J_DATA {
                "Neo4j data"
            } else {
                "Structr"
            };
            lines.push(field(name, c.path.display().to_string(), theme));
        }
        let mut svc = vec![Span::styled(format!(" {:<13}", "Services"), theme.label())];
        for (name, running) in &d.services {
            let (sym, style, word) = match running {
                Some(true) => ("●", theme.ok(), "running"),
                Some(false) => ("○", theme.danger(), "STOPPED"),
                None => ("?", theme.warn(), "unknown"),
            };
            svc.push(Span::styled(format!("{sym} {name} {word}   "), style));
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
        None => "no backup yet".into(),
    };
    lines.push(field("Newest", newest, theme));
    lines.push(schedule_line(
        app.schedule.as_ref(),
        theme,
        clock,
        area.width.saturating_sub(14) as usize,
    ));
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
    for n in &d.notes {
        lines.push(Line::raw(""));
        lines.push(Line::styled(format!(" ℹ {n}"), theme.dim()));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::raw(" "),
        Span::styled("b", theme.key()),
        Span::raw(" back up now   "),
        Span::styled("r", theme.key()),
        Span::raw(" restore   "),
        Span::styled("g", theme.key()),
        Span::raw(" browse generations"),
    ]));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::TOP)),
        area,
    );
}

fn backup_plan(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let d = &app.data;
    let mut lines = vec![Line::styled(" The backup will:", theme.title())];
    let names: Vec<&str> = d.services.iter().map(|(n, _)| n.as_str()).collect();
    lines.push(Line::raw(format!(
        " 1. stop {} (in this order)",
        names.join(", then ")
    )));
    for (i, c) in d.components.iter().enumerate() {
        lines.push(Line::raw(format!(
            " {}. copy {} → {}/<new generation>/{}.tar.zst",
            i + 2,
            c.path.display(),
            d.repo,
            c.name
        )));
    }
    let rev: Vec<&str> = names.iter().rev().copied().collect();
    lines.push(Line::raw(format!(
        " {}. start {} and wait until healthy",
        d.components.len() + 2,
        rev.join(", then ")
    )));
    lines.push(Line::raw(""));
    if d.plan.is_empty() {
        lines.push(Line::styled(" measuring the installation…", theme.dim()));
    }
    for p in &d.plan {
        lines.push(Line::raw(format!(" {p}")));
    }
    lines.push(Line::raw(""));
    match &d.detect_error {
        Some(e) => lines.push(Line::styled(
            format!(" Cannot back up: {e}"),
            theme.danger(),
        )),
        None => lines.push(Line::from(vec![
            Span::raw(" Press "),
            Span::styled("Enter", theme.key()),
            Span::raw(" to start, "),
            Span::styled("Esc", theme.key()),
            Span::raw(" to go back."),
        ])),
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::TOP)),
        area,
    );
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn job(f: &mut Frame, area: Rect, j: &Job, data: &super::app::Data, theme: &Theme, clock: Clock) {
    // A finished job's clocks stop where it ended.
    let now = j.finished.unwrap_or(clock.mono);
    let [steps_area, right] =
        Layout::horizontal([Constraint::Length(40), Constraint::Min(20)]).areas(area);
    let items: Vec<Line> = j
        .steps
        .iter()
        .map(|(step, state)| {
            let (sym, style, extra) = match state {
                StepState::Pending => ("○", theme.dim(), String::new()),
                StepState::Running(t) => (
                    "▶",
                    theme.title(),
                    secs(clock.mono.saturating_duration_since(*t)),
                ),
                StepState::Done(d) => ("✓", theme.ok(), secs(*d)),
                StepState::Failed(why) if why == "cancelled" => ("⊘", theme.warn(), String::new()),
                StepState::Failed(_) => ("✗", theme.danger(), "failed".into()),
            };
            let name = step.to_string();
            let name: String = name.chars().take(28).collect();
            Line::from(vec![
                Span::styled(format!(" {sym} "), style),
                Span::styled(format!("{name:<29}"), style),
                Span::styled(extra, theme.dim()),
            ])
        })
        .collect();
    f.render_widget(
        Paragraph::new(items).block(
            Block::default()
                .borders(Borders::TOP | Borders::RIGHT)
                .title(" steps "),
        ),
        steps_area,
    );

    let [gauge_area, info_area] =
        Layout::vertical([Constraint::Length(4), Constraint::Min(1)]).areas(right);
    let block = Block::default().borders(Borders::TOP).title(" progress ");
    match &j.progress {
        Some((step, done, total, started)) => {
            let ratio = if *total == 0 {
                0.0
            } else {
                (*done as f64 / *total as f64).clamp(0.0, 1.0)
            };
            let elapsed = now.saturating_duration_since(*started).as_secs_f64();
            let rate = if elapsed > 0.2 {
                *done as f64 / elapsed
            } else {
                0.0
            };
            let eta = if j.finished.is_some() {
                String::new()
            } else if rate > 0.0 {
                format!("ETA {:.0} s", (*total - (*done).min(*total)) as f64 / rate)
            } else {
                "ETA …".into()
            };
            let inner = block.inner(gauge_area);
            f.render_widget(block, gauge_area);
            let [g, l] =
                Layout::vertical([Constraint::Length(1), Constraint::Length(2)]).areas(inner);
            f.render_widget(
                Gauge::default()
                    .gauge_style(theme.gauge())
                    .ratio(ratio)
                    .label(format!("{:.0}%", ratio * 100.0)),
                g,
            );
            f.render_widget(
                Paragraph::new(vec![
                    Line::raw(format!(
                        " {step}: {} of {}",
                        units::bytes(*done),
                        units::bytes(*total)
                    )),
                    Line::styled(
                        format!(" {}/s  {eta}", units::bytes(rate as u64)),
                        theme.dim(),
                    ),
                ]),
                l,
            );
        }
        None if j.finished.is_some() => f.render_widget(block, gauge_area),
        None => f.render_widget(
            Paragraph::new(" waiting…").style(theme.dim()).block(block),
            gauge_area,
        ),
    }

    let mut lines = Vec::new();
    if j.kind.stops_services() || j.first_stop.is_some() {
        match j.downtime(now) {
            Some(d) if j.services_down() => lines.push(Line::styled(
                format!(" Services down for {}", secs(d)),
                theme.warn(),
            )),
            Some(d) => lines.push(Line::styled(format!(" Downtime {}", secs(d)), theme.ok())),
            // Said only when it is true: nothing stopped yet and all were seen running.
            None if data.services.iter().all(|(_, r)| *r == Some(true)) => {
                lines.push(Line::styled(" Services still running", theme.dim()))
            }
            None => {}
        }
    }
    if !j.file.is_empty() && j.outcome.is_none() {
        lines.push(Line::styled(
            format!(" file {}", tail(&j.file, right.width as usize - 8)),
            theme.dim(),
        ));
    }
    for w in j.warnings.iter().rev().take(3) {
        lines.push(Line::styled(format!(" ⚠ {w}"), theme.warn()));
    }
    match &j.outcome {
        Some(Ok(msg)) => {
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                format!(" ✓ {} finished", j.kind.title()),
                theme.ok(),
            ));
            lines.push(Line::raw(format!(" {msg}")));
            lines.push(Line::styled(" Esc: back", theme.dim()));
        }
        Some(Err(msg)) if j.cancelled() => {
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                format!(" ⊘ {} cancelled", j.kind.title()),
                theme.warn(),
            ));
            let msg = msg.strip_prefix("cancelled: ").unwrap_or(msg);
            lines.push(Line::raw(format!(" {msg}")));
            lines.push(Line::styled(" Esc: back", theme.dim()));
        }
        Some(Err(msg)) => {
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                format!(" ✗ {} FAILED", j.kind.title()),
                theme.danger(),
            ));
            lines.push(Line::raw(format!(" {msg}")));
            lines.push(Line::styled(" Esc: back", theme.dim()));
        }
        None if j.cancel_requested => lines.push(Line::styled(
            " cancelling: services are being started again…",
            theme.warn(),
        )),
        None => {}
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), info_area);

    if j.ask_cancel {
        let what = if j.kind.stops_services() {
            " The services will be started again;\n no generation is written."
        } else {
            ""
        };
        dialog(
            f,
            area,
            &format!(
                " Cancel the {}?\n{what}\n\n y: cancel it    any other key: keep going",
                j.kind.title().to_lowercase()
            ),
            theme,
        );
    }
}

/// The end of `s` in at most `max` characters, with an ellipsis when cut.
fn tail(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let kept: String = s.chars().skip(n - max.saturating_sub(1)).collect();
    format!("…{kept}")
}

fn dialog(f: &mut Frame, area: Rect, text: &str, theme: &Theme) {
    let w = 50.min(area.width);
    let h = (text.lines().count() as u16 + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text.to_string()).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.warn()),
        ),
        r,
    );
}

fn verified(m: &Manifest) -> &'static str {
    match &m.last_verified {
        None => "never",
        Some(v) if !v.ok => "FAILED",
        Some(v) if v.deep => "deep ✓",
        Some(_) => "quick ✓",
    }
}

fn generations(
    f: &mut Frame,
    area: Rect,
    app: &App,
    sel: usize,
    theme: &Theme,
    clock: Clock,
    details: bool,
) {
    let gens = &app.data.generations;
    if gens.is_empty() {
        f.render_widget(
            Paragraph::new(
                " No generations yet. Go back (Esc) and press b to make the first backup.",
            )
            .block(Block::default().borders(Borders::TOP)),
            area,
        );
        return;
    }
    let [table_area, detail_area] = Layout::vertical([
        Constraint::Min(5),
        Constraint::Length(if details { 7 } else { 3 }),
    ])
    .areas(area);
    let rows: Vec<Row> = gens
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let style = if i == sel {
                theme.selected()
            } else {
                theme.value()
            };
            Row::new(vec![
                Cell::from(format!("{}{}", if i == sel { "▶ " } else { "  " }, m.id)),
                Cell::from(
                    m.created_at
                        .with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                ),
                Cell::from(units::age(clock.wall - m.created_at)),
                Cell::from(units::bytes(m.total_archive_size())),
                Cell::from(if m.pinned { "pin" } else { "" }),
                Cell::from(verified(m)),
                Cell::from(m.label.clone()),
            ])
            .style(style)
        })
        .collect();
    let widths = [
        Constraint::Length(18),
        Constraint::Length(16),
        Constraint::Length(11),
        Constraint::Length(9),
        Constraint::Length(3),
        Constraint::Length(8),
        Constraint::Min(6),
    ];
    let header = Row::new(vec![
        "  id", "created", "age", "size", "pin", "verified", "label",
    ])
    .style(theme.label());
    // Keep the selection visible in a long list.
    let visible = table_area.height.saturating_sub(2) as usize;
    let skip = sel.saturating_sub(visible.saturating_sub(1));
    let rows: Vec<Row> = rows.into_iter().skip(skip).collect();
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .block(Block::default().borders(Borders::TOP)),
        table_area,
    );

    let Some(m) = gens.get(sel) else { return };
    let mut lines = Vec::new();
    if details {
        lines.push(Line::styled(
            format!(
                " {} from {} ({} installation), tool {}",
                m.id, m.host, m.installation, m.tool_version
            ),
            theme.title(),
        ));
        for c in &m.components {
            lines.push(Line::raw(format!(
                "  {:<11} {} files, {} → {}  from {}",
                c.name,
                c.files,
                units::bytes(c.bytes),
                units::bytes(c.archive_size),
                c.source.display()
            )));
        }
        lines.push(Line::styled(
            format!(
                "  downtime {}",
                secs(Duration::from_secs_f64(m.timings.downtime_secs.max(0.0)))
            ),
            theme.dim(),
        ));
    } else {
        lines.push(Line::raw(format!(
            " Enter verifies {} and then asks for confirmation; nothing is stopped before that.",
            m.id
        )));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::TOP)),
        detail_area,
    );
}

fn button<'a>(label: &'a str, focused: bool, enabled: bool, theme: &Theme) -> Span<'a> {
    let text = if focused {
        format!("[▶ {label} ◀]")
    } else {
        format!("[  {label}  ]")
    };
    let style = match (focused, enabled) {
        (true, _) => theme.selected(),
        (false, false) => theme.dim(),
        (false, true) => theme.value(),
    };
    Span::styled(text, style)
}

fn confirm(f: &mut Frame, area: Rect, c: &Confirm, verb: &str, theme: &Theme) {
    let mut lines = vec![
        Line::styled(format!(" {verb} generation {}", c.id), theme.danger()),
        Line::raw(""),
    ];
    if c.facts.is_empty() {
        lines.push(Line::styled(
            " working out what will be replaced…",
            theme.dim(),
        ));
    }
    for fact in &c.facts {
        lines.push(Line::raw(format!(" {fact}")));
    }
    lines.push(Line::raw(""));
    lines.push(Line::raw(format!(
        " Type the generation id to confirm: {}",
        c.id
    )));
    let matches = if c.armed() {
        Span::styled(" ✓", theme.ok())
    } else {
        Span::raw("")
    };
    lines.push(Line::from(vec![
        Span::raw(" > "),
        Span::styled(format!("{}_", c.typed), theme.title()),
        matches,
    ]));
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::raw(" "),
        button("Cancel", c.focus == Focus::Cancel, true, theme),
        Span::raw("   "),
        button(verb, c.focus == Focus::Confirm, c.armed(), theme),
    ]));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::TOP)),
        area,
    );
}

fn prune(
    f: &mut Frame,
    area: Rect,
    rows: &[PruneRow],
    sel: usize,
    confirm: Option<Focus>,
    theme: &Theme,
) {
    let doomed = rows.iter().filter(|r| !r.keep).count();
    let [summary, table_area] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(3)]).areas(area);
    let text = if doomed == 0 {
        " The retention policy keeps every generation: nothing to delete.".to_string()
    } else {
        let frees: u64 = rows.iter().filter(|r| !r.keep).map(|r| r.size).sum();
        format!(
            " {doomed} generation(s) will be DELETED, {} kept; frees {}. Enter deletes them.",
            rows.len() - doomed,
            units::bytes(frees)
        )
    };
    f.render_widget(
        Paragraph::new(text).block(Block::default().borders(Borders::TOP)),
        summary,
    );
    let visible = table_area.height.saturating_sub(1) as usize;
    let skip = sel.saturating_sub(visible.saturating_sub(1));
    let table_rows: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(skip)
        .map(|(i, r)| {
            let mark = if r.keep {
                Span::styled("keep  ", theme.ok())
            } else {
                Span::styled("DELETE", theme.danger())
            };
            let row = Row::new(vec![
                Cell::from(mark),
                Cell::from(r.id.clone()),
                Cell::from(r.created.clone()),
                Cell::from(prune_note(r)),
            ]);
            if i == sel {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    let widths = [
        Constraint::Length(7),
        Constraint::Length(19),
        Constraint::Length(17),
        Constraint::Min(10),
    ];
    f.render_widget(
        Table::new(table_rows, widths)
            .header(Row::new(vec!["", "id", "created", "why kept"]).style(theme.label())),
        table_area,
    );
    if let Some(focus) = confirm {
        let text =
            format!(
            " Delete {doomed} generation(s) for good?\n\n {}   {}\n\n Tab moves, Enter presses.",
            if focus == Focus::Cancel { "[▶ Cancel ◀]" } else { "[  Cancel  ]" },
            if focus == Focus::Confirm { "[▶ Delete ◀]" } else { "[  Delete  ]" }
        );
        dialog(f, area, &text, theme);
    }
}

fn help(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let below = app
        .stack
        .iter()
        .rev()
        .nth(1)
        .map_or(ScreenKind::Home, Screen::kind);
    let mut lines = vec![Line::styled(
        " Keys on the screen you came from",
        theme.title(),
    )];
    for k in keys(below) {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<8}", k.0), theme.key()),
            Span::raw(k.1),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(" Everywhere", theme.title()));
    for (k, what) in [
        ("Esc", "go back"),
        ("?", "this help"),
        (
            "Ctrl-C",
            "cancel a running job (asks first; services are started again)",
        ),
    ] {
        lines.push(Line::from(vec![
            Span::styled(format!("  {k:<8}"), theme.key()),
            Span::raw(what),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        " A backup stops Structr, then Neo4j, copies both, and starts Neo4j, then Structr. A restore verifies the generation before anything is stopped. The nightly backup is systemd's structr-backup.timer: s on Home sets its time, enables or disables it.",
        theme.dim(),
    ));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::TOP)),
        area,
    );
}

/// Home's one line on the nightly timer: the next run and the last result, in
/// `room` columns (the generation id goes first when they are few).
fn schedule_line<'a>(
    facts: Option<&ScheduleFacts>,
    theme: &Theme,
    clock: Clock,
    room: usize,
) -> Line<'a> {
    let label = Span::styled(format!(" {:<13}", "Schedule"), theme.label());
    let Some(facts) = facts else {
        return Line::from(vec![label, Span::styled("checking…", theme.dim())]);
    };
    let (state, style) = match &facts.timer {
        Timer::Known(s) if s.enabled && s.active => (
            match s.next_run {
                Some(t) => format!("next {}", local(t)),
                None => "enabled, no next run (press s)".into(),
            },
            theme.value(),
        ),
        Timer::Known(s) if s.enabled => ("enabled but stopped (press s)".into(), theme.warn()),
        Timer::Known(_) => ("not enabled (press s)".into(), theme.warn()),
        Timer::NotInstalled => ("timer not installed (press s)".into(), theme.warn()),
        Timer::Unavailable(_) => ("unavailable (press s)".into(), theme.warn()),
    };
    let mut spans = vec![label, Span::styled(state.clone(), style)];
    if let Ok(Some(run)) = &facts.last {
        let full = last_words(run, clock, true);
        let words = if state.len() + 3 + full.chars().count() <= room {
            full
        } else {
            last_words(run, clock, false)
        };
        let style = if run.succeeded() {
            theme.value()
        } else {
            theme.danger()
        };
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(words, style));
    }
    Line::from(spans)
}

/// "last: success 20261125T031502Z, 3 h ago" (the id only `with_id`).
fn last_words(run: &LastRun, clock: Clock, with_id: bool) -> String {
    let status = match run.status.as_deref() {
        Some("success") => "success".to_string(),
        Some("failure") => "FAILED".to_string(),
        Some(s) => s.to_uppercase(),
        None => "unknown".into(),
    };
    let mut s = format!("last: {status}");
    if let Some(id) = run.id.as_ref().filter(|_| with_id) {
        s.push_str(&format!(" {id}"));
    }
    if let Some(t) = run.when() {
        s.push_str(&format!(", {}", units::age(clock.wall - t)));
    }
    s
}

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn schedule(
    f: &mut Frame,
    area: Rect,
    app: &App,
    sc: &ScheduleScreen,
    theme: &Theme,
    clock: Clock,
) {
    let mut lines = Vec::new();
    match app.schedule.as_ref().map(|s| &s.timer) {
        None => lines.push(Line::styled(" asking systemd…", theme.dim())),
        Some(Timer::NotInstalled) => {
            lines.push(Line::styled(
                " The timer structr-backup.timer is not installed.",
                theme.warn(),
            ));
            for l in [
                " Install the Debian package, or copy the two units",
                " assets/structr-backup.{service,timer} to /etc/systemd/system",
                " and run systemctl daemon-reload (README, Install).",
            ] {
                lines.push(Line::raw(l));
            }
        }
        Some(Timer::Unavailable(e)) => {
            lines.push(Line::styled(" Cannot ask systemd:", theme.warn()));
            lines.push(Line::raw(format!(" {e}")));
        }
        Some(Timer::Known(s)) => {
            let (state, style) = match (s.enabled, s.active) {
                (true, true) => ("enabled, running", theme.ok()),
                (true, false) => ("enabled, but stopped", theme.warn()),
                (false, _) => ("NOT enabled: no nightly backups", theme.warn()),
            };
            lines.push(Line::from(vec![
                Span::styled(format!(" {:<13}", "Timer"), theme.label()),
                Span::styled(state, style),
            ]));
            let when = match s.time {
                Some(t) => format!("daily at {t}"),
                None => s.on_calendar.join(", "),
            };
            let delay = match s.randomized_delay.as_str() {
                "" | "0" => String::new(),
                d => format!(", up to {d} later"),
            };
            lines.push(field("Time", format!("{when}{delay}"), theme));
            lines.push(field(
                "Next run",
                s.next_run.map_or("none".into(), local),
                theme,
            ));
        }
    }
    match app.schedule.as_ref().map(|s| &s.last) {
        Some(Ok(Some(run))) => {
            let mut words = last_words(run, clock, true);
            if let Some(d) = run.downtime_secs.filter(|d| *d >= 0.0) {
                words.push_str(&format!(
                    ", downtime {}",
                    units::duration(Duration::from_secs_f64(d))
                ));
            }
            let words = words.trim_start_matches("last: ").to_string();
            let style = if run.succeeded() {
                theme.value()
            } else {
                theme.danger()
            };
            lines.push(Line::from(vec![
                Span::styled(format!(" {:<13}", "Last run"), theme.label()),
                Span::styled(words, style),
            ]));
            if let Some(e) = &run.error {
                lines.push(Line::styled(format!("              {e}"), theme.danger()));
            }
        }
        Some(Ok(None)) => lines.push(field("Last run", "none recorded yet".into(), theme)),
        Some(Err(e)) => lines.push(field("Last run", format!("unknown: {e}"), theme)),
        None => {}
    }
    lines.push(Line::raw(""));
    let valid = sc
        .time
        .parse::<crate::install::schedule::TimeOfDay>()
        .is_ok();
    lines.push(Line::from(vec![
        Span::styled(format!(" {:<13}", "New time"), theme.label()),
        Span::styled(format!("[{:<5}]", sc.time), theme.title()),
        Span::styled(
            if valid {
                "  HH:MM, local time"
            } else {
                "  HH:MM, e.g. 03:15"
            },
            if valid { theme.dim() } else { theme.warn() },
        ),
    ]));
    lines.push(Line::raw(""));
    if sc.busy {
        lines.push(Line::styled(" changing the schedule…", theme.dim()));
    } else {
        lines.push(Line::from(vec![
            Span::raw(" "),
            Span::styled("Enter", theme.key()),
            Span::raw(" sets the time   "),
            Span::styled("e", theme.key()),
            Span::raw(" enables at it   "),
            Span::styled("d", theme.key()),
            Span::raw(" disables"),
        ]));
    }
    lines.push(Line::styled(
        " A nightly backup stops Structr and Neo4j while it copies.",
        theme.dim(),
    ));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::TOP)),
        area,
    );
    if let Some((action, focus)) = sc.confirm {
        let (question, verb) = match action {
            ScheduleAction::Enable(t) => (
                format!(" Enable the nightly backup at {t}?\n Structr and Neo4j stop each night\n while it copies them."),
                "Enable",
            ),
            ScheduleAction::Disable => (
                " Disable the nightly backup?\n No backups are made until it is\n enabled again.".to_string(),
                "Disable",
            ),
            ScheduleAction::SetTime(t) => (
                format!(" Run the nightly backup at {t}\n from now on?"),
                "Set time",
            ),
        };
        let pad = |label: &str, on: bool| {
            if on {
                format!("[▶ {label} ◀]")
            } else {
                format!("[  {label}  ]")
            }
        };
        let text = format!(
            "{question}\n\n {}   {}\n\n Tab moves, Enter presses.",
            pad("Cancel", focus == Focus::Cancel),
            pad(verb, focus == Focus::Confirm)
        );
        dialog(f, area, &text, theme);
    }
}

/// The rules that keep a generation and its label; a restore's safety backup says so.
fn prune_note(r: &PruneRow) -> String {
    let label = match r.label.as_str() {
        "" => String::new(),
        crate::ops::restore::SAFETY_LABEL => "safety backup before a restore".into(),
        other => format!("\u{201c}{other}\u{201d}"),
    };
    [r.reasons.as_str(), label.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}
