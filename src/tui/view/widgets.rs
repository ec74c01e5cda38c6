//! Small pieces every screen draws with: the footer of keys, labelled fields,
//! dialogs, buttons, and text that must fit a width.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Clear, Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState, Wrap,
};
use ratatui::Frame;

use crate::tui::keys::{keys, SCROLL};
use crate::tui::scroll::Scroll;
use crate::tui::state::ScreenKind;
use crate::tui::theme::Theme;

/// The smallest terminal the wizard draws in.
pub const MIN_WIDTH: u16 = 64;
pub const MIN_HEIGHT: u16 = 20;

pub fn too_small(f: &mut Frame, area: Rect, theme: &Theme) {
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

/// The screen's keys, as many whole ones as fit, in the table's order; the
/// scrolling keys only when the screen has more than it shows, none of `idle`.
pub fn footer(
    f: &mut Frame,
    area: Rect,
    kind: ScreenKind,
    overflow: bool,
    idle: &[&str],
    theme: &Theme,
) {
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    let shown = keys(kind)
        .iter()
        .filter(|k| overflow || **k != SCROLL)
        .filter(|k| !idle.contains(&k.0));
    for k in shown {
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

pub fn field<'a>(name: &'a str, value: String, theme: &Theme) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!(" {name:<13}"), theme.label()),
        Span::styled(value, theme.value()),
    ])
}

pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The start of `s` in at most `max` characters, with an ellipsis when cut: the
/// one way a label too long for its place is shortened.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let kept: String = s.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// The end of `s` in at most `max` characters, with an ellipsis when cut.
pub fn tail(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let kept: String = s.chars().skip(n - max.saturating_sub(1)).collect();
    format!("…{kept}")
}

pub fn dialog(f: &mut Frame, area: Rect, text: &str, theme: &Theme) {
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

/// `dialog` with styled lines (a menu with its highlighted entry).
pub fn dialog_lines(f: &mut Frame, area: Rect, lines: Vec<Line>, theme: &Theme) {
    let w = 50.min(area.width);
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.warn()),
        ),
        r,
    );
}

pub fn button<'a>(label: &'a str, focused: bool, enabled: bool, theme: &Theme) -> Span<'a> {
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

pub fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// Where a path may be broken when it is longer than a line.
const SEPARATORS: [char; 2] = ['/', '\\'];

/// `line` broken into lines of at most `width` characters, at spaces where it can,
/// else after a path separator (never inside a name that fits a line);
/// continuation lines keep the first line's indentation. Every view that shows
/// text wraps with this.
pub fn wrap(line: Line<'_>, width: usize) -> Vec<Line<'static>> {
    let chars: Vec<(char, Style)> = line
        .spans
        .iter()
        .flat_map(|s| {
            let style = line.style.patch(s.style);
            s.content.chars().map(move |c| (c, style))
        })
        .collect();
    let width = width.max(1);
    if chars.len() <= width {
        return vec![styled(&chars)];
    }
    let indent = chars
        .iter()
        .take_while(|(c, _)| *c == ' ')
        .count()
        .min(width / 2);
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let pad = if out.is_empty() { 0 } else { indent };
        let room = width - pad;
        let rest = &chars[i..];
        let (take, skip) = if rest.len() <= room {
            (rest.len(), rest.len())
        } else {
            match rest[..=room].iter().rposition(|(c, _)| *c == ' ') {
                Some(at) if at > 0 => (at, at + 1),
                // A word longer than the line (a path): broken after a separator,
                // so every name in it stays whole and can be copied.
                _ => match rest[..room]
                    .iter()
                    .rposition(|(c, _)| SEPARATORS.contains(c))
                {
                    Some(at) => (at + 1, at + 1),
                    None => (room, room),
                },
            }
        };
        let mut piece: Vec<(char, Style)> = vec![(' ', Style::default()); pad];
        piece.extend_from_slice(&rest[..take]);
        out.push(styled(&piece));
        i += skip;
        // Spaces at a break are not carried to the next line.
        while i < chars.len() && chars[i].0 == ' ' {
            i += 1;
        }
    }
    out
}

/// Characters with their styles, as spans of equal style.
fn styled(chars: &[(char, Style)]) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut text = String::new();
    let mut style = None;
    for (c, s) in chars {
        if style.is_some_and(|st| st != *s) {
            spans.push(Span::styled(
                std::mem::take(&mut text),
                style.unwrap_or_default(),
            ));
        }
        style = Some(*s);
        text.push(*c);
    }
    if !text.is_empty() {
        spans.push(Span::styled(text, style.unwrap_or_default()));
    }
    Line::from(spans)
}

/// Splits `area` into the rows `lines` take (wrapped to its width, at most all
/// but `below` rows) and the `below` rows under them: text that fits is followed
/// at once by what comes after it; text that does not scrolls above it.
pub fn above(area: Rect, lines: &[Line<'_>], below: u16) -> [Rect; 2] {
    let need: usize = lines
        .iter()
        .map(|l| wrap(l.clone(), area.width as usize).len())
        .sum();
    let room = area.height.saturating_sub(below);
    let top = (need.min(u16::MAX as usize) as u16).min(room);
    let [a, b, _] = Layout::vertical([
        Constraint::Length(top),
        Constraint::Length(below),
        Constraint::Min(0),
    ])
    .areas(area);
    [a, b]
}

/// Draws `lines` wrapped to `area` from the scroll's offset, with a scrollbar at
/// the right edge when they do not all fit; returns whether they overflow.
pub fn scrolled(f: &mut Frame, area: Rect, lines: Vec<Line<'_>>, scroll: &Scroll) -> bool {
    let height = area.height as usize;
    let wrapped = |w: usize| -> Vec<Line<'static>> {
        lines.iter().cloned().flat_map(|l| wrap(l, w)).collect()
    };
    let mut all = wrapped(area.width as usize);
    let overflow = all.len() > height;
    if overflow {
        all = wrapped((area.width as usize).saturating_sub(1));
    }
    let first = scroll.fit(all.len(), height);
    let shown: Vec<Line> = all.into_iter().skip(first).take(height).collect();
    f.render_widget(Paragraph::new(shown), area);
    if overflow {
        let mut state = ScrollbarState::new(scroll_positions(scroll, height))
            .viewport_content_length(height)
            .position(first);
        f.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight),
            area,
            &mut state,
        );
    }
    overflow
}

/// How many positions the scrollbar has: one per possible first line.
fn scroll_positions(scroll: &Scroll, height: usize) -> usize {
    scroll.fit_max().map_or(height, |m| m + 1)
}

/// `path` in at most `max` characters: its start and end, with an ellipsis between.
pub fn fit_path(path: &str, max: usize) -> String {
    let n = path.chars().count();
    if n <= max {
        return path.to_string();
    }
    if max < 8 {
        return tail(path, max);
    }
    let head = (max - 1) / 3;
    let end = max - 1 - head;
    let start: String = path.chars().take(head).collect();
    let last: String = path.chars().skip(n - end).collect();
    format!("{start}…{last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_keeps_the_indent() {
        let l = Line::raw("  the current folder is kept as /a/very/long/path");
        assert_eq!(
            texts(&wrap(l, 20)),
            [
                "  the current folder",
                "  is kept as",
                "  /a/very/long/path"
            ]
        );
        let word = Line::raw(" abcdefghij");
        assert_eq!(texts(&wrap(word, 6)), [" abcde", " fghij"]);
        assert_eq!(texts(&wrap(Line::raw("short"), 20)), ["short"]);
    }

    #[test]
    fn a_path_longer_than_a_line_breaks_after_a_separator() {
        let l = Line::raw(" kept at /var/lib/structr-backup/kept/neo4j-data.before-restore");
        assert_eq!(
            texts(&wrap(l, 32)),
            [
                " kept at",
                " /var/lib/structr-backup/kept/",
                " neo4j-data.before-restore"
            ]
        );
        // A name longer than the line itself is the only one ever cut.
        let long = Line::raw("/a/abcdefghijklmnop");
        assert_eq!(texts(&wrap(long, 8)), ["/a/", "abcdefgh", "ijklmnop"]);
    }

    #[test]
    fn paths_keep_their_start_and_end() {
        assert_eq!(fit_path("/var/lib/neo4j/data", 40), "/var/lib/neo4j/data");
        let p = fit_path("/var/lib/docker/volumes/structr-files/_data", 24);
        assert_eq!(p.chars().count(), 24);
        assert!(p.starts_with("/var/l") && p.ends_with("files/_data"), "{p}");
    }
}
