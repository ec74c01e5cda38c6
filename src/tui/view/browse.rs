//! A generation's contents (path, size, mtime, sha256) and how it differs from
//! the live installation, with the `/` search and the selected entry in full.

use chrono::DateTime;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::columns::{fit, Col};
use super::widgets::{fit_path, local, wrap};
use crate::ops::compare::Change;
use crate::repo::file_index::EntryKind;
use crate::text::printable;
use crate::tui::browse::{shown, BrowseScreen, Comparison, FileRow, Listing, Times};
use crate::tui::theme::Theme;
use crate::units;

/// Wide enough for `  sha256 <64 hex digits>` on one line.
const HASH_LINE: usize = 73;

pub fn browse(f: &mut Frame, area: Rect, b: &BrowseScreen, theme: &Theme) {
    let block = Block::default().borders(Borders::TOP);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let width = inner.width as usize;
    let rows = match &b.rows {
        None => {
            let text = Line::styled(" reading the file indexes…", theme.dim());
            f.render_widget(Paragraph::new(text), inner);
            return;
        }
        Some(Err(e)) => {
            let text = Line::styled(format!(" Cannot list {}: {e}", b.id), theme.danger());
            f.render_widget(Paragraph::new(wrap(text, width)), inner);
            return;
        }
        Some(Ok(rows)) => rows,
    };
    let mut head: Vec<Line> = match b.showing {
        Listing::Contents => vec![contents_summary(b, rows, theme)],
        Listing::Differences => vec![differences_summary(b, theme)],
    };
    if b.searching || !b.filter.is_empty() {
        let cursor = if b.searching { "_" } else { "" };
        head.push(Line::from(vec![
            Span::styled(" /", theme.key()),
            Span::styled(format!("{}{cursor}", b.filter), theme.title()),
            Span::styled(format!("   {} match", b.matches.len()), theme.dim()),
        ]));
    }
    let head: Vec<Line> = head.into_iter().flat_map(|l| wrap(l, width)).collect();
    let details: Vec<Line> = match b.showing {
        Listing::Contents => b
            .matches
            .get(b.sel)
            .and_then(|&i| rows.get(i))
            .map(|r| file_details(r, width, theme))
            .unwrap_or_default(),
        Listing::Differences => b
            .matches
            .get(b.sel)
            .and_then(|&i| b.differences().get(i))
            .map(|d| {
                let was = rows
                    .iter()
                    .find(|r| r.component == d.component && r.path == d.path);
                diff_details(&d.component, &d.path, &d.change, was, theme)
            })
            .unwrap_or_default(),
    };
    let details: Vec<Line> = details.into_iter().flat_map(|l| wrap(l, width)).collect();
    let [head_area, table_area, details_area] = Layout::vertical([
        Constraint::Length(head.len() as u16),
        Constraint::Min(3),
        Constraint::Length(details.len() as u16 + 1),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(head), head_area);
    match b.showing {
        Listing::Contents => contents_table(f, table_area, b, rows, theme),
        Listing::Differences => differences_table(f, table_area, b, theme),
    }
    f.render_widget(
        Paragraph::new(details).block(Block::default().borders(Borders::TOP)),
        details_area,
    );
}

fn contents_summary<'a>(b: &BrowseScreen, rows: &[FileRow], theme: &Theme) -> Line<'a> {
    let times = match &b.times {
        Times::Reading { done, total } if *total > 0 => format!(
            "; reading mtimes from the archives, {:.0}%",
            *done as f64 * 100.0 / *total as f64
        ),
        Times::Reading { .. } => "; reading mtimes from the archives…".into(),
        Times::Read => String::new(),
        Times::Failed(e) => format!("; mtimes incomplete: {e}"),
    };
    Line::styled(
        format!(
            " {}: {} entries, {} files, {}{times}",
            b.id,
            rows.len(),
            b.files,
            units::bytes(b.bytes)
        ),
        if matches!(b.times, Times::Failed(_)) {
            theme.warn()
        } else {
            theme.value()
        },
    )
}

fn differences_summary<'a>(b: &BrowseScreen, theme: &Theme) -> Line<'a> {
    match &b.compare {
        None | Some(Comparison::Running { total: 0, .. }) => {
            Line::styled(" comparing with the live installation…", theme.dim())
        }
        Some(Comparison::Running { step, done, total }) => Line::styled(
            format!(
                " {step}: {:.0}% ({} of {})",
                *done as f64 * 100.0 / *total as f64,
                units::bytes(*done),
                units::bytes(*total)
            ),
            theme.dim(),
        ),
        Some(Comparison::Failed(e)) => {
            Line::styled(format!(" Cannot compare: {e}"), theme.danger())
        }
        Some(Comparison::Done(d)) if d.is_empty() => Line::styled(
            format!(" The live installation holds exactly what {} holds.", b.id),
            theme.ok(),
        ),
        Some(Comparison::Done(d)) => {
            let count = |pick: fn(&Change) -> bool| d.iter().filter(|x| pick(&x.change)).count();
            Line::raw(format!(
                " Live against {}: {} changed, {} missing, {} new",
                b.id,
                count(|c| matches!(c, Change::Changed(_))),
                count(|c| *c == Change::Missing),
                count(|c| *c == Change::New),
            ))
        }
    }
}

/// The rows of `b.matches` that fit `visible` rows, the selection in view.
fn window(b: &BrowseScreen, visible: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let skip = b.sel.saturating_sub(visible.saturating_sub(1));
    b.matches
        .iter()
        .copied()
        .enumerate()
        .skip(skip)
        .take(visible)
}

fn contents_table(f: &mut Frame, area: Rect, b: &BrowseScreen, rows: &[FileRow], theme: &Theme) {
    let cols = [
        Col::fill("  path", 30, 0),
        Col::fixed("size", 10, 1),
        Col::fixed("modified", 16, 2),
        Col::fixed("sha256", 12, 3),
    ];
    let (kept, widths) = fit(&cols, area.width);
    // The path column's width, once the others have theirs.
    let others: u16 = kept.iter().skip(1).map(|&c| cols[c].width + 1).sum();
    let path_room = area.width.saturating_sub(others).saturating_sub(2) as usize;
    let visible = area.height.saturating_sub(1) as usize;
    let lines: Vec<Row> = window(b, visible)
        .filter_map(|(pos, i)| rows.get(i).map(|r| (pos, r)))
        .map(|(pos, r)| {
            let size = match r.kind {
                EntryKind::File => units::bytes(r.size),
                EntryKind::Dir => "folder".into(),
                EntryKind::Symlink => "link".into(),
                EntryKind::HardLink => "hardlink".into(),
            };
            let cells = [
                format!(
                    "{}{}",
                    if pos == b.sel { "▶ " } else { "  " },
                    fit_path(&r.shown(), path_room)
                ),
                size,
                match (r.mtime, &b.times) {
                    (Some(t), _) => mtime(t),
                    (None, Times::Reading { .. }) => "…".into(),
                    (None, _) => "?".into(),
                },
                r.sha256
                    .as_deref()
                    .map_or(String::new(), |h| h.chars().take(12).collect()),
            ];
            let style = if pos == b.sel {
                theme.selected()
            } else {
                theme.value()
            };
            Row::new(kept.iter().map(|&c| Cell::from(cells[c].clone()))).style(style)
        })
        .collect();
    let header = Row::new(kept.iter().map(|&c| cols[c].header)).style(theme.label());
    f.render_widget(Table::new(lines, widths).header(header), area);
}

fn differences_table(f: &mut Frame, area: Rect, b: &BrowseScreen, theme: &Theme) {
    let cols = [
        Col::fixed("", 10, 0),
        Col::fill("path", 36, 0),
        Col::fixed("how", 22, 1),
    ];
    let (kept, widths) = fit(&cols, area.width);
    let others: u16 = kept
        .iter()
        .filter(|&&c| c != 1)
        .map(|&c| cols[c].width + 1)
        .sum();
    let path_room = area.width.saturating_sub(others) as usize;
    let visible = area.height.saturating_sub(1) as usize;
    let diffs = b.differences();
    let lines: Vec<Row> = window(b, visible)
        .filter_map(|(pos, i)| diffs.get(i).map(|d| (pos, d)))
        .map(|(pos, d)| {
            let (mark, style) = change_mark(&d.change, theme);
            let how = match &d.change {
                Change::Changed(why) => printable(why, 200),
                _ => String::new(),
            };
            let mut cells = [
                Some(Cell::from(Span::styled(
                    format!("{}{mark}", if pos == b.sel { "▶" } else { " " }),
                    style,
                ))),
                Some(Cell::from(fit_path(
                    &shown(&d.component, &d.path),
                    path_room,
                ))),
                Some(Cell::from(how)),
            ];
            let row = Row::new(kept.iter().filter_map(|&c| cells[c].take()));
            if pos == b.sel {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    let header = Row::new(kept.iter().map(|&c| cols[c].header)).style(theme.label());
    f.render_widget(Table::new(lines, widths).header(header), area);
}

fn change_mark(c: &Change, theme: &Theme) -> (&'static str, Style) {
    match c {
        Change::New => ("+ new", theme.ok()),
        Change::Changed(_) => ("~ changed", theme.warn()),
        Change::Missing => ("- missing", theme.danger()),
    }
}

fn mtime(t: i64) -> String {
    DateTime::from_timestamp(t, 0).map_or("?".into(), local)
}

/// The selected entry in full: its path, type, mode, owner, size, mtime, sha256.
fn file_details<'a>(r: &FileRow, width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let what = match r.kind {
        EntryKind::File => format!("file, {} bytes", r.size),
        EntryKind::Dir => "folder".into(),
        EntryKind::Symlink => format!("link to {}", r.link.as_deref().unwrap_or("?")),
        EntryKind::HardLink => format!("the same file as {}", r.link.as_deref().unwrap_or("?")),
    };
    let when = r.mtime.map_or(String::new(), |t| {
        DateTime::from_timestamp(t, 0).map_or(String::new(), |t| {
            format!(
                ", modified {}",
                t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S")
            )
        })
    });
    let mut lines = vec![
        Line::styled(format!(" {}", r.shown()), theme.title()),
        Line::raw(format!(
            "  {what}, mode {:04o}, owner {}:{}{when}",
            r.mode, r.uid, r.gid
        )),
    ];
    match &r.sha256 {
        Some(h) if width >= HASH_LINE => {
            lines.push(Line::styled(format!("  sha256 {h}"), theme.dim()))
        }
        // Narrow: the hash on a line of its own, whole.
        Some(h) => {
            lines.push(Line::styled("  sha256:", theme.dim()));
            lines.push(Line::styled(h.clone(), theme.dim()));
        }
        None => {}
    }
    lines
}

/// A difference in full: the path, how it differs, what the generation holds.
fn diff_details<'a>(
    component: &str,
    path: &str,
    change: &Change,
    was: Option<&FileRow>,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let (mark, style) = change_mark(change, theme);
    let how = match change {
        Change::New => "in the live folder, not in the generation".to_string(),
        Change::Missing => "in the generation, gone from the live folder".into(),
        Change::Changed(why) => format!("differs: {}", printable(why, 200)),
    };
    let mut lines = vec![
        Line::styled(format!(" {}", shown(component, path)), theme.title()),
        Line::from(vec![
            Span::styled(format!("  {mark}: "), style),
            Span::raw(how),
        ]),
    ];
    if let Some(r) = was.filter(|r| r.kind == EntryKind::File) {
        lines.push(Line::styled(
            format!(
                "  the generation has {} bytes, sha256 {}",
                r.size,
                r.sha256.as_deref().unwrap_or("-")
            ),
            theme.dim(),
        ));
    }
    lines
}
