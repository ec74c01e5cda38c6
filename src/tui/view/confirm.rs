//! The typed confirmation of a restore or a delete.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::widgets::{above, button, scrolled};
use crate::tui::confirm::Confirm;
use crate::tui::state::Focus;
use crate::tui::theme::Theme;

/// `verb` names the action and its button; `typed` what is typed to confirm.
pub fn confirm(
    f: &mut Frame,
    area: Rect,
    c: &Confirm,
    verb: &str,
    typed: &str,
    theme: &Theme,
) -> bool {
    let mut lines = vec![
        Line::styled(
            format!(" {verb} {} {}", typed.split(' ').next().unwrap_or(""), c.id),
            theme.danger(),
        ),
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
    let block = Block::default().borders(Borders::TOP);
    let inner = block.inner(area);
    f.render_widget(block, area);
    // The field and the buttons stay in view; the facts above them scroll.
    let [facts, field] = above(inner, &lines, 5);
    let overflow = scrolled(f, facts, lines, &c.scroll);
    let mut lines = vec![Line::raw("")];
    lines.push(Line::raw(format!(" Type the {typed} to confirm: {}", c.id)));
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
    f.render_widget(Paragraph::new(lines), field);
    overflow
}
