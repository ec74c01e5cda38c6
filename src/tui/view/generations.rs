//! The list of generations with the selected one's details.

use std::time::Duration;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};
use ratatui::Frame;

use super::clock::Clock;
use super::columns::{self, fit, Col};
use super::widgets::{fit_path, local, secs, wrap};
use crate::repo::manifest::Manifest;
use crate::text::printable;
use crate::tui::app::App;
use crate::tui::theme::Theme;
use crate::units;

pub fn verified(m: &Manifest) -> &'static str {
    match &m.last_verified {
        None => "never",
        Some(v) if !v.ok => "FAILED",
        Some(v) if v.deep => "deep ✓",
        Some(_) => "quick ✓",
    }
}

/// Whether and when a restore drill last passed for `m`, as `list` says it.
pub fn tested(m: &Manifest, clock: Clock) -> String {
    match &m.last_drill {
        None => "never".into(),
        Some(d) if !d.ok => "FAILED".into(),
        Some(d) => format!(
            "✓ {}",
            units::age(clock.wall - d.at).trim_end_matches(" ago")
        ),
    }
}

pub fn generations(
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
        let said = match app.data.listed {
            true => " No generations yet. Go back (Esc) and press b to make the first backup.",
            false => " reading the repository…",
        };
        f.render_widget(
            Paragraph::new(said).block(Block::default().borders(Borders::TOP)),
            area,
        );
        return;
    }
    let lines = match gens.get(sel) {
        Some(m) if details => {
            let mut lines = details_of(m, app.damage.get(&m.id), area.width as usize, theme, clock);
            lines.extend(copies_line(&app.data, &m.id, theme));
            lines
        }
        Some(m) => {
            let mut lines = vec![Line::raw(format!(
                " Enter verifies {} and then asks for confirmation; nothing is stopped before that.",
                m.id
            ))];
            // A recorded failure is said where the generation to restore is chosen.
            if let Some(v) = m.last_verified.as_ref().filter(|v| !v.ok) {
                lines.push(Line::styled(
                    format!(
                        " Its last {} check FAILED ({}): it is verified again before anything is stopped.",
                        if v.deep { "deep" } else { "quick" },
                        local(v.at)
                    ),
                    theme.danger(),
                ));
            }
            lines
        }
        None => vec![],
    };
    let lines: Vec<Line> = lines
        .into_iter()
        .flat_map(|l| wrap(l, area.width as usize))
        .collect();
    // The details take what they need, up to half the screen (all but a few
    // rows of the list when they tell what a verification found); the list the rest.
    let wanted = lines.len() as u16 + 1;
    let damaged = gens
        .get(sel)
        .is_some_and(|m| app.damage.contains_key(&m.id));
    let most = match damaged {
        true => area.height.saturating_sub(6),
        false => area.height / 2,
    };
    let [table_area, detail_area] = Layout::vertical([
        Constraint::Min(5),
        Constraint::Length(wanted.min(most.max(3))),
    ])
    .areas(area);
    // Wide enough for the longest id shown: two backups in one second are
    // `…Z` and `…Z-2`, and a cut id could not be told apart or typed.
    let id_width = gens.iter().map(|m| m.id.chars().count()).max().unwrap_or(0);
    let cols = [
        Col::fixed("  id", 2 + id_width.max(16) as u16, 0),
        Col::fixed("created", 16, 7),
        Col::fixed("age", 11, 3),
        Col::fixed("size", 9, 2),
        Col::fixed("pin", 3, 6),
        Col::fixed("verified", 8, 1),
        // When a restore drill last proved the generation restores (`drill`).
        Col::fixed("tested", 9, 4),
        Col::fill("label", 6, 5),
    ];
    let (kept, widths) = fit(&cols, table_area.width);
    // Keep the selection visible in a long list.
    let visible = table_area.height.saturating_sub(2) as usize;
    let skip = sel.saturating_sub(visible.saturating_sub(1));
    let rows: Vec<Row> = gens
        .iter()
        .enumerate()
        .skip(skip)
        .take(visible)
        .map(|(i, m)| {
            let style = if i == sel {
                theme.selected()
            } else {
                theme.value()
            };
            let cells = [
                format!("{}{}", if i == sel { "▶ " } else { "  " }, m.id),
                local(m.created_at),
                units::age(clock.wall - m.created_at),
                units::bytes(m.total_archive_size()),
                if m.pinned { "pin" } else { "" }.to_string(),
                verified(m).to_string(),
                tested(m, clock),
                m.label_words(),
            ];
            Row::new(columns::cells(&cols, &kept, table_area.width, &cells)).style(style)
        })
        .collect();
    let header = Row::new(kept.iter().map(|&c| cols[c].header)).style(theme.label());
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .block(Block::default().borders(Borders::TOP)),
        table_area,
    );
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::TOP)),
        detail_area,
    );
}

/// The selected generation in a few lines: where it comes from, what a
/// verification in this session found wrong with it, each component (its source
/// path cut to fit `width`), the downtime, label and last verification.
fn details_of<'a>(
    m: &Manifest,
    damage: Option<&Vec<String>>,
    width: usize,
    theme: &Theme,
    clock: Clock,
) -> Vec<Line<'a>> {
    let mut lines = vec![Line::styled(
        format!(
            " {} from {} ({} installation), tool {}",
            m.id, m.host, m.installation, m.tool_version
        ),
        theme.title(),
    )];
    for problem in damage.into_iter().flatten() {
        // Names in the problems come from the repository: printed safe.
        lines.push(Line::styled(
            format!("  ✗ {}", printable(problem, 2000)),
            theme.danger(),
        ));
    }
    let name_width = m
        .components
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    for c in &m.components {
        let what = format!(
            "  {:<name_width$} {} files, {} → {}",
            fit_path(&c.name, name_width),
            c.files,
            units::bytes(c.bytes),
            units::bytes(c.archive_size),
        );
        let room = width.saturating_sub(what.chars().count() + 7);
        let from = match room {
            0..=11 => String::new(),
            _ => format!("  from {}", fit_path(&c.source.display().to_string(), room)),
        };
        lines.push(Line::raw(format!("{what}{from}")));
    }
    let mut last = match &m.restoring {
        // Taken inside a restore's stop window: that restore's downtime, not its own.
        Some(id) => format!("  safety backup before restoring {id}"),
        None => format!(
            "  downtime {}",
            secs(Duration::from_secs_f64(m.timings.downtime_secs.max(0.0)))
        ),
    };
    if !m.label.is_empty() {
        last.push_str(&format!(" · \u{201c}{}\u{201d}", m.label));
    }
    if let Some(v) = &m.last_verified {
        last.push_str(&format!(
            " · {} {} {}",
            if v.deep { "deep check" } else { "quick check" },
            if v.ok { "passed" } else { "FAILED" },
            local(v.at)
        ));
        if !v.ok && damage.is_none() {
            last.push_str(" (v tells why)");
        }
    }
    lines.push(Line::styled(last, theme.dim()));
    // A restore drill proves more than a check: the copy started.
    if let Some(d) = &m.last_drill {
        let age = crate::units::age(clock.wall - d.at);
        match d.ok {
            true => lines.push(Line::styled(format!("  restore-tested {age}"), theme.dim())),
            false => lines.push(Line::styled(
                format!("  restore drill FAILED {age}: {}", d.detail),
                theme.danger(),
            )),
        }
    }
    lines
}

/// Where else the generation exists: one line naming the off-site targets that
/// hold it and those that do not (nothing without off-site targets).
fn copies_line<'a>(d: &crate::tui::data::Data, id: &str, theme: &Theme) -> Option<Line<'a>> {
    if d.offsite.is_empty() {
        return None;
    }
    let (have, lack) = d.copies_of(id);
    let mut spans = vec![Span::raw("  copies: ")];
    for name in have {
        spans.push(Span::styled(format!("✓ {name}  "), theme.ok()));
    }
    for name in lack {
        spans.push(Span::styled(format!("✗ {name}  "), theme.warn()));
    }
    Some(Line::from(spans))
}
