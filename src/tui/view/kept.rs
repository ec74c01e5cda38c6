//! The folders restores kept beside the targets: size, age, and what each held.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};
use ratatui::Frame;

use super::clock::Clock;
use super::columns::{self, fit, Col};
use super::widgets::wrap;
use crate::tui::app::App;
use crate::tui::kept::KeptRow;
use crate::tui::theme::Theme;
use crate::units;

pub fn kept(f: &mut Frame, area: Rect, app: &App, sel: usize, theme: &Theme, clock: Clock) {
    let block = Block::default().borders(Borders::TOP);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let targets: Vec<String> = app
        .data
        .components
        .iter()
        .map(|c| c.path.display().to_string())
        .collect();
    let rows = match &app.kept {
        None => {
            let text = Line::styled(" looking beside the targets…", theme.dim());
            f.render_widget(Paragraph::new(text), inner);
            return;
        }
        Some(rows) if rows.is_empty() => {
            let text = match &app.data.detect_error {
                Some(e) => Line::raw(format!(" No installation, so no folders beside it: {e}")),
                None => Line::raw(format!(
                    " No folders kept by restores beside {}.",
                    targets.join(", ")
                )),
            };
            f.render_widget(Paragraph::new(wrap(text, inner.width as usize)), inner);
            return;
        }
        Some(rows) => rows,
    };
    let intro = wrap(
        Line::styled(
            " A restore moves each folder it replaces aside. Remove one once the restored installation is fine: d asks first.",
            theme.dim(),
        ),
        inner.width as usize,
    );
    let selected = rows.get(sel.min(rows.len() - 1));
    let details: Vec<Line> = selected
        .map(|r| details_of(r, theme))
        .unwrap_or_default()
        .into_iter()
        .flat_map(|l| wrap(l, inner.width as usize))
        .collect();
    let [intro_area, table_area, details_area] = Layout::vertical([
        Constraint::Length(intro.len() as u16 + 1),
        Constraint::Min(3),
        Constraint::Length(details.len() as u16 + 1),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(intro), intro_area);
    let name_width = rows
        .iter()
        .map(|r| r.component.chars().count())
        .max()
        .unwrap_or(0)
        .max(9) as u16
        + 2;
    let cols = [
        Col::fixed("  component", name_width, 0),
        Col::fixed("restored", 18, 0),
        Col::fixed("size", 10, 1),
        Col::fixed("files", 8, 3),
        Col::fill("moved aside", 11, 2),
    ];
    let (kept_cols, widths) = fit(&cols, table_area.width);
    let visible = table_area.height.saturating_sub(1) as usize;
    let skip = sel.saturating_sub(visible.saturating_sub(1));
    let lines: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(skip)
        .take(visible)
        .map(|(i, r)| {
            let (files, size) = match &r.size {
                None => ("…".to_string(), "measuring".to_string()),
                Some(Ok((files, bytes))) => (files.to_string(), units::bytes(*bytes)),
                Some(Err(_)) => ("?".into(), "unreadable".into()),
            };
            let cells = [
                format!("{}{}", if i == sel { "▶ " } else { "  " }, r.component),
                r.restored(),
                size,
                files,
                r.modified
                    .map_or("?".into(), |t| units::age(clock.wall - t)),
            ];
            let style = if i == sel {
                theme.selected()
            } else {
                theme.value()
            };
            Row::new(columns::cells(&cols, &kept_cols, table_area.width, &cells)).style(style)
        })
        .collect();
    let header = Row::new(kept_cols.iter().map(|&c| cols[c].header)).style(theme.label());
    f.render_widget(
        Table::new(lines, widths).header(header).column_spacing(1),
        table_area,
    );
    f.render_widget(
        Paragraph::new(details).block(Block::default().borders(Borders::TOP)),
        details_area,
    );
}

/// The selected folder: where it is, what it held, why it could not be measured.
fn details_of<'a>(r: &KeptRow, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = vec![
        Line::styled(format!(" {}", r.path.display()), theme.title()),
        Line::raw(format!(
            "  held {} before a restore replaced it",
            r.target.display()
        )),
    ];
    if let Some(Err(e)) = &r.size {
        lines.push(Line::styled(
            format!("  cannot measure it: {e}"),
            theme.warn(),
        ));
    }
    lines
}

/// Home's line on the kept folders: how many, how much, and the key.
pub fn kept_line<'a>(rows: &[KeptRow], theme: &Theme) -> Line<'a> {
    let bytes: u64 = rows.iter().filter_map(KeptRow::bytes).sum();
    let measuring = rows.iter().any(|r| r.size.is_none());
    let size = match (measuring, bytes) {
        (true, 0) => "measuring…".to_string(),
        (true, b) => format!("{} and more", units::bytes(b)),
        (false, b) => units::bytes(b),
    };
    Line::from(vec![
        Span::styled(format!(" {:<13}", "Kept folders"), theme.label()),
        Span::styled(
            format!("{} from restores, {size} (", rows.len()),
            theme.value(),
        ),
        Span::styled("k", theme.key()),
        Span::styled(")", theme.value()),
    ])
}
