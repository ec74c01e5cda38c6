//! The nightly timer: its state, the last run, and changing it.

use std::time::Duration;

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use super::clock::Clock;
use super::home::run_words;
use super::widgets::{dialog, field, local, wrap};
use crate::tui::app::App;
use crate::tui::data::Timer;
use crate::tui::schedule::{ScheduleAction, ScheduleScreen};
use crate::tui::state::Focus;
use crate::tui::theme::Theme;
use crate::units;

pub fn schedule(
    f: &mut Frame,
    area: Rect,
    app: &App,
    sc: &ScheduleScreen,
    theme: &Theme,
    clock: Clock,
) {
    let mut lines = Vec::new();
    match app.schedule.as_ref().map(|s| &s.timer) {
        None => lines.push(Line::styled(" asking systemd…", theme.dim())),
        Some(Timer::NotInstalled) => {
            lines.push(Line::styled(
                " The timer structr-backup.timer is not installed.",
                theme.warn(),
            ));
            for l in [
                " Install the Debian package, or copy the two units",
                " assets/structr-backup.{service,timer} to /etc/systemd/system",
                " and run systemctl daemon-reload (README, Install).",
            ] {
                lines.push(Line::raw(l));
            }
        }
        // Why, in words (wrapped below, never cut): no raw systemctl dump.
        Some(Timer::Unavailable(e)) => {
            let why = Line::styled(format!(" {e}"), theme.warn());
            lines.extend(wrap(why, area.width.saturating_sub(1) as usize));
            lines.push(Line::raw(""));
        }
        Some(Timer::Known(s)) => {
            let (state, style) = match (s.enabled, s.active) {
                (true, true) => ("enabled, running", theme.ok()),
                (true, false) => ("enabled, but stopped", theme.warn()),
                (false, _) => ("NOT enabled: no nightly backups", theme.warn()),
            };
            lines.push(Line::from(vec![
                Span::styled(format!(" {:<13}", "Timer"), theme.label()),
                Span::styled(state, style),
            ]));
            let when = match s.time {
                Some(t) => format!("daily at {t}"),
                None => s.on_calendar.join(", "),
            };
            let delay = match s.randomized_delay.as_str() {
                "" | "0" => String::new(),
                d => format!(", up to {d} later"),
            };
            lines.push(field("Time", format!("{when}{delay}"), theme));
            lines.push(field(
                "Next run",
                s.next_run.map_or("none".into(), local),
                theme,
            ));
        }
    }
    match app.schedule.as_ref().map(|s| &s.last) {
        Some(Ok(runs)) if runs.0.is_empty() => {
            lines.push(field("Last run", "none recorded yet".into(), theme))
        }
        // The last run of each operation on this installation, newest first.
        Some(Ok(runs)) => {
            for run in &runs.0 {
                let mut words = run_words(run, clock, true);
                // Only a run that stopped the services had a downtime.
                if let Some(d) = run.downtime_secs.filter(|d| *d > 0.0) {
                    words.push_str(&format!(
                        ", downtime {}",
                        units::duration(Duration::from_secs_f64(d))
                    ));
                }
                let style = if run.succeeded() {
                    theme.value()
                } else {
                    theme.danger()
                };
                lines.push(Line::from(vec![
                    Span::styled(
                        format!(" {:<13}", format!("Last {}", run.operation())),
                        theme.label(),
                    ),
                    Span::styled(words, style),
                ]));
                if let Some(e) = &run.error {
                    lines.push(Line::styled(format!("              {e}"), theme.danger()));
                }
            }
        }
        Some(Err(e)) => lines.push(field("Last run", format!("unknown: {e}"), theme)),
        None => {}
    }
    lines.push(Line::raw(""));
    // Nothing to ask for that cannot be done: no time field without systemd.
    if let Some(Timer::Unavailable(_)) = app.schedule.as_ref().map(|s| &s.timer) {
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::TOP)),
            area,
        );
        return;
    }
    let valid = sc
        .time
        .parse::<crate::install::schedule::TimeOfDay>()
        .is_ok();
    lines.push(Line::from(vec![
        Span::styled(format!(" {:<13}", "New time"), theme.label()),
        Span::styled(format!("[{:<5}]", sc.time), theme.title()),
        Span::styled(
            if valid {
                "  HH:MM, local time"
            } else {
                "  HH:MM, e.g. 03:15"
            },
            if valid { theme.dim() } else { theme.warn() },
        ),
    ]));
    lines.push(Line::raw(""));
    if sc.busy {
        lines.push(Line::styled(" changing the schedule…", theme.dim()));
    } else {
        lines.push(Line::from(vec![
            Span::raw(" "),
            Span::styled("Enter", theme.key()),
            Span::raw(" sets the time   "),
            Span::styled("e", theme.key()),
            Span::raw(" enables at it   "),
            Span::styled("d", theme.key()),
            Span::raw(" disables"),
        ]));
    }
    lines.push(Line::styled(
        " A nightly backup stops Structr and Neo4j while it copies.",
        theme.dim(),
    ));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::TOP)),
        area,
    );
    if let Some((action, focus)) = sc.confirm {
        let (question, verb) = match action {
            ScheduleAction::Enable(t) => (
                format!(" Enable the nightly backup at {t}?\n Structr and Neo4j stop each night\n while it copies them."),
                "Enable",
            ),
            ScheduleAction::Disable => (
                " Disable the nightly backup?\n No backups are made until it is\n enabled again.".to_string(),
                "Disable",
            ),
            ScheduleAction::SetTime(t) => (
                format!(" Run the nightly backup at {t}\n from now on?"),
                "Set time",
            ),
        };
        let pad = |label: &str, on: bool| {
            if on {
                format!("[▶ {label} ◀]")
            } else {
                format!("[  {label}  ]")
            }
        };
        let text = format!(
            "{question}\n\n {}   {}\n\n Tab moves, Enter presses.",
            pad("Cancel", focus == Focus::Cancel),
            pad(verb, focus == Focus::Confirm)
        );
        dialog(f, area, &text, theme);
    }
}
