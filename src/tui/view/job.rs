//! A running or finished job: its steps, progress, clocks and outcome.

use std::time::Instant;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Gauge, Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState,
};
use ratatui::Frame;

use super::clock::Clock;
use super::widgets::{cut, dialog, scrolled, secs, tail, wrap};
use crate::tui::job::Job;
use crate::tui::state::StepState;
use crate::tui::theme::Theme;
use crate::units;

/// Terminals narrower than this get the steps below the progress, not beside it.
const SIDE_BY_SIDE: u16 = 80;

/// Draws the job; whether its result pane holds more than it shows.
pub fn job(
    f: &mut Frame,
    area: Rect,
    j: &Job,
    data: &crate::tui::data::Data,
    theme: &Theme,
    clock: Clock,
) -> bool {
    // A finished job's clocks stop where it ended.
    let now = j.finished.unwrap_or(clock.mono);
    let done = j.outcome.is_some();
    // A result is read across the whole width, the steps it took below it.
    let wide = area.width >= SIDE_BY_SIDE && !done;
    // Once the job ended there is no progress to draw: its rows go to the result.
    let gauge_rows = if done { 2 } else { 5 };
    let text_width = if wide { area.width - 40 } else { area.width };
    let info = info_lines(j, data, theme, now, text_width as usize);
    let info_rows: usize = info
        .iter()
        .map(|l| wrap(l.clone(), text_width as usize).len())
        .sum();
    let (steps_area, gauge_area, info_area, steps_block) = if wide {
        let [steps_area, right] =
            Layout::horizontal([Constraint::Length(40), Constraint::Min(20)]).areas(area);
        let [gauge_area, info_area] =
            Layout::vertical([Constraint::Length(gauge_rows), Constraint::Min(1)]).areas(right);
        let block = Block::default()
            .borders(Borders::TOP | Borders::RIGHT)
            .title(" steps ");
        (steps_area, gauge_area, info_area, block)
    } else {
        // Progress and what happened on top, full width; the steps below scroll.
        // A result takes what it needs, the steps it took get what is left.
        let steps_rows = if done { 0 } else { 5 };
        let room = area.height.saturating_sub(gauge_rows + steps_rows);
        let [gauge_area, info_area, steps_area] = Layout::vertical([
            Constraint::Length(gauge_rows),
            Constraint::Length((info_rows.min(u16::MAX as usize) as u16).min(room)),
            Constraint::Min(steps_rows),
        ])
        .areas(area);
        let block = Block::default().borders(Borders::TOP).title(" steps ");
        (steps_area, gauge_area, info_area, block)
    };
    // A title with no room for a step under it is left out.
    if steps_area.height >= 2 {
        let inner = steps_block.inner(steps_area);
        f.render_widget(steps_block, steps_area);
        step_list(f, inner, j, theme, clock);
    }
    let block = Block::default().borders(Borders::TOP).title(" progress ");
    let inner = block.inner(gauge_area);
    f.render_widget(block, gauge_area);
    let [g, l] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    let mut lines = Vec::new();
    match &j.progress {
        // A job that ended has no progress left to show, only its clock.
        Some(_) if done => {}
        Some((step, done, total, started)) => {
            let ratio = if *total == 0 {
                0.0
            } else {
                (*done as f64 / *total as f64).clamp(0.0, 1.0)
            };
            // The percentage beside the bar, not drawn over it.
            let [bar, pct] =
                Layout::horizontal([Constraint::Min(1), Constraint::Length(5)]).areas(g);
            f.render_widget(
                Gauge::default()
                    .gauge_style(theme.gauge())
                    .ratio(ratio)
                    .label(""),
                bar,
            );
            f.render_widget(
                Paragraph::new(format!("{:>4.0}%", ratio * 100.0)).style(theme.value()),
                pct,
            );
            let width = (l.width as usize).saturating_sub(1);
            lines.push(Line::raw(format!(
                " {}",
                cut(
                    &format!(
                        "{step}: {} of {}",
                        units::bytes(*done),
                        units::bytes(*total)
                    ),
                    width
                )
            )));
            if let Some(line) = step_rate(j, *done, *total, *started, now) {
                lines.push(Line::styled(format!(" {}", cut(&line, width)), theme.dim()));
            }
        }
        None if j.finished.is_some() => {}
        None => lines.push(Line::styled(" waiting…", theme.dim())),
    }
    lines.push(Line::styled(whole_job(j, now), theme.dim()));
    let at = if j.progress.is_some() && !done {
        l
    } else {
        inner
    };
    f.render_widget(Paragraph::new(lines), at);

    let overflow = scrolled(f, info_area, info, &j.scroll);

    if j.ask_cancel {
        let what = match j.kind {
            crate::tui::state::JobKind::Restore => {
                " The services will be started again;\n the installation stays as it was."
            }
            kind if kind.stops_services() => {
                " The services will be started again;\n no generation is written."
            }
            _ => "",
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
    overflow
}

/// The step's rate and time left, once bytes have moved long enough to tell
/// (None before: no `0 B/s`); its ETA is never later than the whole job's.
fn step_rate(j: &Job, done: u64, total: u64, started: Instant, now: Instant) -> Option<String> {
    let elapsed = now.saturating_duration_since(started).as_secs_f64();
    if done == 0 || elapsed < 0.5 {
        return None;
    }
    let rate = done as f64 / elapsed;
    let mut left = std::time::Duration::from_secs_f64(total.saturating_sub(done) as f64 / rate);
    if let Some(job) = j.left(now) {
        left = left.min(job);
    }
    Some(format!(
        "{}/s  ETA {}",
        units::bytes(rate as u64),
        units::duration(left)
    ))
}

/// The whole job's clock: how long it has run and, while it runs, about how long
/// it has left; frozen where it ended.
fn whole_job(j: &Job, now: Instant) -> String {
    let ran = units::duration(now.saturating_duration_since(j.started));
    match (&j.outcome, &j.estimate, j.left(now)) {
        (Some(_), _, _) => format!(" job took {ran}"),
        (None, Some(_), Some(left)) => format!(" job {ran}, ETA {}", units::duration(left)),
        (None, Some(_), None) => format!(" job {ran}, ETA …"),
        (None, None, _) => format!(" job {ran}"),
    }
}

/// What the job did besides its steps: downtime, the file at hand, warnings, and
/// its outcome once it has one.
fn info_lines<'a>(
    j: &Job,
    data: &crate::tui::data::Data,
    theme: &Theme,
    now: Instant,
    width: usize,
) -> Vec<Line<'a>> {
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
            format!(" file {}", tail(&j.file, width.saturating_sub(8))),
            theme.dim(),
        ));
    }
    // While it runs the newest three; once it ended the result comes first
    // and every warning after it (the pane scrolls).
    if j.outcome.is_none() {
        for w in j.warnings.iter().rev().take(3) {
            lines.push(Line::styled(format!(" ⚠ {w}"), theme.warn()));
        }
    }
    match &j.outcome {
        Some(Ok(msg)) => {
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                format!(" ✓ {} finished", j.kind.title()),
                theme.ok(),
            ));
            lines.push(Line::raw(format!(" {msg}")));
        }
        Some(Err(msg)) if j.cancelled() => {
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                format!(" ⊘ {} cancelled", j.kind.title()),
                theme.warn(),
            ));
            let msg = msg.strip_prefix("cancelled: ").unwrap_or(msg);
            lines.push(Line::raw(format!(" {msg}")));
        }
        Some(Err(msg)) => {
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                format!(" ✗ {} FAILED", j.kind.title()),
                theme.danger(),
            ));
            lines.push(Line::raw(format!(" {msg}")));
        }
        None if j.cancel_requested => lines.push(Line::styled(
            " cancelling: services are being started again…",
            theme.warn(),
        )),
        None => {}
    }
    if j.outcome.is_some() && !j.warnings.is_empty() {
        lines.push(Line::raw(""));
        for w in &j.warnings {
            lines.push(Line::styled(format!(" ⚠ {w}"), theme.warn()));
        }
    }
    lines
}

/// The steps, one a line, scrolled so the one that matters now (the failed one,
/// else the running one, else the last done) is in view with what comes after it.
fn step_list(f: &mut Frame, area: Rect, j: &Job, theme: &Theme, clock: Clock) {
    let name_width = (area.width as usize).saturating_sub(3 + 8).min(28);
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
                StepState::Failed(why) if why == crate::tui::job::STOPPED => {
                    ("⊘", theme.dim(), "not finished".into())
                }
                StepState::Failed(_) => ("✗", theme.danger(), "failed".into()),
            };
            let name = cut(&step.to_string(), name_width);
            Line::from(vec![
                Span::styled(format!(" {sym} "), style),
                Span::styled(format!("{name:<w$}", w = name_width + 1), style),
                Span::styled(extra, theme.dim()),
            ])
        })
        .collect();
    let height = area.height as usize;
    let focus = j
        .steps
        .iter()
        .position(|(_, s)| matches!(s, StepState::Failed(_)))
        .or_else(|| {
            j.steps
                .iter()
                .rposition(|(_, s)| !matches!(s, StepState::Pending))
        })
        .unwrap_or(0);
    let first = focus
        .saturating_sub(height / 3)
        .min(items.len().saturating_sub(height));
    let overflow = items.len() > height;
    let shown: Vec<Line> = items.into_iter().skip(first).take(height).collect();
    f.render_widget(Paragraph::new(shown), area);
    if overflow {
        let mut state = ScrollbarState::new(j.steps.len().saturating_sub(height) + 1)
            .viewport_content_length(height)
            .position(first);
        f.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight),
            area,
            &mut state,
        );
    }
}
