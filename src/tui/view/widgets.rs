//! Small pieces every screen draws with: the footer of keys, labelled fields,
//! dialogs, buttons, and text that must fit a width.

use super::*;

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

/// The screen's keys, as many whole ones as fit, in the table's order.
pub fn footer(f: &mut Frame, area: Rect, kind: ScreenKind, theme: &Theme) {
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for k in keys(kind) {
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
