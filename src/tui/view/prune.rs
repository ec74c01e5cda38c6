//! The prune preview: what the retention policy keeps and why.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::columns::{fit, Col};
use super::widgets::{dialog, wrap};
use crate::tui::prune::{PruneRow, PruneScreen};
use crate::tui::state::Focus;
use crate::tui::theme::Theme;
use crate::units;

pub fn prune(f: &mut Frame, area: Rect, screen: &PruneScreen, policy: &str, theme: &Theme) {
    let (rows, sel, confirm) = (&screen.rows, screen.sel, screen.confirm);
    let doomed = rows.iter().filter(|r| !r.keep).count();
    let mut text = if doomed == 0 {
        " The retention policy keeps every generation: nothing to delete.".to_string()
    } else {
        let frees: u64 = rows.iter().filter(|r| !r.keep).map(|r| r.size).sum();
        format!(
            " {doomed} generation(s) will be DELETED, {} kept; frees {}. Enter deletes them.",
            rows.len() - doomed,
            units::bytes(frees)
        )
    };
    if !policy.is_empty() {
        text.push_str(&format!(" Policy: keep {policy}."));
    }
    let text = wrap(Line::raw(text), area.width as usize);
    let [summary, table_area] = Layout::vertical([
        Constraint::Length(text.len() as u16 + 1),
        Constraint::Min(3),
    ])
    .areas(area);
    f.render_widget(
        Paragraph::new(text).block(Block::default().borders(Borders::TOP)),
        summary,
    );
    let cols = [
        Col::fixed("", 7, 0),
        Col::fixed("id", 19, 0),
        Col::fixed("created", 17, 1),
        Col::fill("why kept", 24, 0),
    ];
    let (kept, widths) = fit(&cols, table_area.width);
    let visible = table_area.height.saturating_sub(1) as usize;
    let skip = sel.saturating_sub(visible.saturating_sub(1));
    let table_rows: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(skip)
        .take(visible)
        .map(|(i, r)| {
            let mark = if r.keep {
                Span::styled("keep  ", theme.ok())
            } else {
                Span::styled("DELETE", theme.danger())
            };
            let mut cells = [
                Some(Cell::from(mark)),
                Some(Cell::from(r.id.clone())),
                Some(Cell::from(r.created.clone())),
                Some(Cell::from(prune_note(r))),
            ];
            let row = Row::new(kept.iter().filter_map(|&c| cells[c].take()));
            if i == sel {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    f.render_widget(
        Table::new(table_rows, widths)
            .header(Row::new(kept.iter().map(|&c| cols[c].header)).style(theme.label())),
        table_area,
    );
    if let Some(focus) = confirm {
        // The ids go in the question: the list beneath is hidden by it.
        let ids: Vec<&str> = rows
            .iter()
            .filter(|r| !r.keep)
            .map(|r| r.id.as_str())
            .collect();
        let shown = (area.height as usize).saturating_sub(10).clamp(1, 6);
        let mut names: String = ids
            .iter()
            .take(shown)
            .map(|id| format!("   {id}\n"))
            .collect();
        if ids.len() > shown {
            names.push_str(&format!("   and {} more\n", ids.len() - shown));
        }
        let text = format!(
            " Delete {doomed} generation(s) for good?\n{names}\n {}   {}\n\n Tab moves, Enter presses.",
            if focus == Focus::Cancel { "[▶ Cancel ◀]" } else { "[  Cancel  ]" },
            if focus == Focus::Confirm { "[▶ Delete ◀]" } else { "[  Delete  ]" }
        );
        dialog(f, area, &text, theme);
    }
}

/// The rules that keep a generation and its label; a restore's safety backup says so.
pub fn prune_note(r: &PruneRow) -> String {
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
