//! The keys of the screen below, and what the wizard does.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};
use ratatui::Frame;

use super::widgets::scrolled;
use crate::tui::app::{App, Screen};
use crate::tui::keys::keys;
use crate::tui::scroll::Scroll;
use crate::tui::state::ScreenKind;
use crate::tui::theme::Theme;

pub fn help(f: &mut Frame, area: Rect, app: &App, scroll: &Scroll, theme: &Theme) -> bool {
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
        ("PgUp/Dn", "scroll text taller than the screen (and ↑↓)"),
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
    let block = Block::default().borders(Borders::TOP);
    let inner = block.inner(area);
    f.render_widget(block, area);
    scrolled(f, inner, lines, scroll)
}
