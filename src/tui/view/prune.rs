//! The prune preview: what the retention policy keeps and why.

use super::*;

pub fn prune(
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
