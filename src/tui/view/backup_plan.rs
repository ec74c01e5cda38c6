//! The backup plan: what a backup will do before anything stops, and the
//! label typed for it.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::widgets::{above, fit_path, scrolled, tail, wrap};
use crate::tui::app::App;
use crate::tui::backup_plan::PlanScreen;
use crate::tui::theme::Theme;

pub fn backup_plan(f: &mut Frame, area: Rect, app: &App, plan: &PlanScreen, theme: &Theme) -> bool {
    let d = &app.data;
    let mut lines = vec![Line::styled(" The backup will:", theme.title())];
    let names: Vec<&str> = d.services.iter().map(|(n, _)| n.as_str()).collect();
    lines.push(Line::raw(format!(
        " 1. stop {} (in this order)",
        names.join(", then ")
    )));
    let name_width = d
        .components
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    let room = (area.width as usize).saturating_sub(9 + name_width + 2 + 1);
    for (i, c) in d.components.iter().enumerate() {
        lines.push(Line::raw(format!(
            " {}. copy {:<name_width$}  {}",
            i + 2,
            fit_path(&c.name, name_width),
            fit_path(&c.path.display().to_string(), room)
        )));
    }
    lines.push(Line::raw(format!(
        "    each into {}/<new generation>/<name>.tar.zst",
        d.repo
    )));
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
    let block = Block::default().borders(Borders::TOP);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let mut end = vec![Line::raw("")];
    if d.detect_error.is_none() {
        // The end of a long label, so the cursor stays in view.
        let room = (inner.width as usize).saturating_sub(10);
        end.push(Line::from(vec![
            Span::styled(" Label  ", theme.label()),
            Span::styled(format!("{}_", tail(&plan.label, room)), theme.title()),
        ]));
        if plan.label.is_empty() {
            end.push(Line::styled(
                "        optional: type one to find this generation by it later",
                theme.dim(),
            ));
        }
    }
    match &d.detect_error {
        Some(e) => end.push(Line::styled(
            format!(" Cannot back up: {e}"),
            theme.danger(),
        )),
        None => end.push(Line::from(vec![
            Span::raw(" Press "),
            Span::styled("Enter", theme.key()),
            Span::raw(" to start, "),
            Span::styled("Esc", theme.key()),
            Span::raw(" to go back."),
        ])),
    }
    let end: Vec<Line> = end
        .into_iter()
        .flat_map(|l| wrap(l, inner.width as usize))
        .collect();
    // The way on stays in view; the plan above it scrolls when it does not fit.
    let [plan_area, end_area] = above(inner, &lines, end.len() as u16);
    let overflow = scrolled(f, plan_area, lines, &plan.scroll);
    f.render_widget(Paragraph::new(end), end_area);
    overflow
}
