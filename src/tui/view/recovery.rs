//! The disaster recovery's screens: the source chooser, the generations found
//! there, the plan, and the checklist after the restore.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::clock::Clock;
use super::widgets::{above, cut, fit_path, local, scrolled, tail, wrap};
use crate::repo::manifest::Manifest;
use crate::text::printable;
use crate::tui::recovery::{Checklist, Opened, Plan, Recovery, Stage, Tone};
use crate::tui::scroll::Scroll;
use crate::tui::theme::Theme;
use crate::units;

pub fn title(r: &Recovery) -> &'static str {
    match r.stage {
        Stage::Source { .. } => "Disaster recovery: where is the copy?",
        Stage::Pick { .. } => "Disaster recovery: choose a generation",
        Stage::Plan { .. } => "Disaster recovery: the plan",
        Stage::Checklist { .. } => "Disaster recovery: checklist",
    }
}

/// Draws the stage; returns whether its text overflows (for the footer).
pub fn recovery(f: &mut Frame, area: Rect, r: &Recovery, theme: &Theme, _clock: Clock) -> bool {
    let block = Block::default().borders(Borders::TOP);
    let inner = block.inner(area);
    f.render_widget(block, area);
    match &r.stage {
        Stage::Source {
            sel,
            field,
            opening,
            error,
            ..
        } => {
            let mut lines = Vec::new();
            if let Some(why) = &r.offer.why {
                lines.push(Line::styled(
                    format!(" This installation looks lost: {why}."),
                    theme.warn(),
                ));
                lines.push(Line::raw(""));
            }
            lines.push(Line::styled(
                " Restore from a copy kept elsewhere. Where is it?",
                theme.title(),
            ));
            for (i, c) in r.choices().iter().enumerate() {
                let (mark, style) = if i == *sel {
                    ("▶", theme.selected())
                } else {
                    (" ", theme.value())
                };
                lines.push(Line::from(vec![
                    Span::raw(" "),
                    Span::styled(format!("{mark} {}", c.label()), style),
                ]));
            }
            lines.push(Line::raw(""));
            if let Some((field, text)) = field {
                if let crate::tui::recovery::Field::ResticPassword { repo } = field {
                    lines.push(Line::raw(format!(" Repository     {repo}")));
                }
                let room = (inner.width as usize).saturating_sub(19);
                lines.push(Line::from(vec![
                    Span::styled(format!(" {:<14} ", field.prompt()), theme.label()),
                    Span::styled(format!("{}_", tail(text, room)), theme.title()),
                ]));
                lines.push(Line::styled(
                    match field {
                        crate::tui::recovery::Field::Folder => {
                            " the repository folder itself (it holds the generation folders)"
                        }
                        crate::tui::recovery::Field::ResticRepo => {
                            " a folder or sftp:…, s3:…, rest:…, b2:…, rclone:…"
                        }
                        crate::tui::recovery::Field::ResticPassword { .. } => {
                            " the file holding the repository's password"
                        }
                    },
                    theme.dim(),
                ));
            }
            if let Some(what) = opening {
                lines.push(Line::styled(
                    format!(" opening {what} and listing its generations…"),
                    theme.dim(),
                ));
            }
            if let Some(e) = error {
                lines.push(Line::styled(format!(" Cannot use it: {e}"), theme.danger()));
                lines.push(Line::raw(" Choose again, or correct the path and retry."));
            }
            let lines: Vec<Line> = lines
                .into_iter()
                .flat_map(|l| wrap(l, inner.width as usize))
                .collect();
            f.render_widget(Paragraph::new(lines), inner);
            false
        }
        Stage::Pick { sel } => {
            let Some(o) = &r.opened else { return false };
            pick(f, inner, o, *sel, theme);
            false
        }
        Stage::Plan { id, plan, scroll } => {
            plan_view(f, inner, r, id, plan.as_ref(), scroll, theme)
        }
        Stage::Checklist {
            summary,
            checks,
            scroll,
        } => checklist(f, inner, summary, checks.as_ref(), scroll, theme),
    }
}

/// The versions a manifest recorded, in short ("neo4j 5.26.0, structr 6.0.1").
fn versions(m: &Manifest) -> String {
    let v: Vec<String> = m.versions.iter().map(|(k, v)| format!("{k} {v}")).collect();
    if v.is_empty() {
        "versions not recorded".into()
    } else {
        v.join(", ")
    }
}

fn pick(f: &mut Frame, area: Rect, o: &Opened, sel: usize, theme: &Theme) {
    // Below 80 columns the host column goes (the details below name it).
    let narrow = area.width < 80;
    let host_col = |host: &str| match narrow {
        true => String::new(),
        false => format!("{:<12} ", printable(&fit_path(host, 12), 12)),
    };
    let width = area.width as usize;
    let mut head: Vec<Line> = wrap(
        Line::from(vec![
            Span::styled(" From ", theme.label()),
            Span::styled(o.location.clone(), theme.value()),
            Span::styled(
                format!(", {} generation(s), newest first", o.generations.len()),
                theme.dim(),
            ),
        ]),
        width,
    );
    if !o.unreadable.is_empty() {
        head.push(Line::styled(
            format!(
                " {} could not be read: {}",
                o.unreadable.len(),
                o.unreadable[0]
            ),
            theme.warn(),
        ));
    }
    head.push(Line::styled(
        cut(
            &format!(
                "   {:<16}  {}{:<16}  {:>9}  {:<8}",
                "ID",
                host_col("HOST"),
                "CREATED",
                "SIZE",
                "VERIFIED"
            ),
            width,
        ),
        theme.label(),
    ));
    let detail = o.generations.get(sel).map(|m| {
        let label = if m.label.is_empty() {
            String::new()
        } else {
            format!(", label \"{}\"", printable(&m.label, 60))
        };
        Line::raw(format!(
            " {}: from {}, {} installation, {}{label}",
            m.id,
            m.host,
            m.installation,
            versions(m)
        ))
    });
    let rows = area.height.saturating_sub(head.len() as u16 + 2) as usize;
    let first = sel.saturating_sub(rows.saturating_sub(1));
    let mut lines = head;
    for (i, m) in o.generations.iter().enumerate().skip(first).take(rows) {
        let size: u64 = m.components.iter().map(|c| c.bytes).sum();
        let text = format!(
            "{} {:<16}  {}{:<16}  {:>9}  {:<8}  {}",
            if i == sel { "▶" } else { " " },
            m.id,
            host_col(&m.host),
            local(m.created_at),
            units::bytes(size),
            // The record a verification left, as `list` and the restore picker show it.
            super::generations::verified(m),
            versions(m)
        );
        let failed = m.last_verified.as_ref().is_some_and(|v| !v.ok);
        let style = match (i == sel, failed) {
            (true, _) => theme.selected(),
            (false, true) => theme.danger(),
            (false, false) => theme.value(),
        };
        let text = cut(&text, width.saturating_sub(1));
        lines.push(Line::from(vec![Span::raw(" "), Span::styled(text, style)]));
    }
    lines.push(Line::raw(""));
    lines.extend(
        detail
            .into_iter()
            .flat_map(|l| wrap(l, area.width as usize)),
    );
    f.render_widget(Paragraph::new(lines), area);
}

fn plan_view(
    f: &mut Frame,
    area: Rect,
    r: &Recovery,
    id: &str,
    plan: Option<&Result<Plan, String>>,
    scroll: &Scroll,
    theme: &Theme,
) -> bool {
    let m = r
        .opened
        .as_ref()
        .and_then(|o| o.generations.iter().find(|m| m.id == id));
    let mut lines = vec![Line::styled(
        format!(
            " Restore {id}{} from {}:",
            m.map_or(String::new(), |m| format!(
                " (host {}, {})",
                m.host,
                local(m.created_at)
            )),
            r.opened
                .as_ref()
                .map_or("the copy", |o| o.location.as_str())
        ),
        theme.title(),
    )];
    let mut end = vec![Line::raw("")];
    match plan {
        None => lines.push(Line::styled(
            " working out what the restore does here…",
            theme.dim(),
        )),
        Some(Err(e)) => {
            lines.push(Line::styled(format!(" Cannot plan: {e}"), theme.danger()));
            end.push(Line::raw(" Esc: choose another generation or source."));
        }
        Some(Ok(p)) => {
            for (tone, l) in &p.lines {
                let style = match tone {
                    Tone::Plain => theme.value(),
                    Tone::Warn => theme.warn(),
                    Tone::Refused => theme.danger(),
                };
                lines.push(Line::styled(format!(" {l}"), style));
            }
            end.push(if p.refused {
                Line::styled(
                    " The restore is refused for the reason above; nothing was changed.",
                    theme.danger(),
                )
            } else {
                Line::from(vec![
                    Span::raw(" Press "),
                    Span::styled("Enter", theme.key()),
                    Span::raw(" to confirm with the generation id, "),
                    Span::styled("Esc", theme.key()),
                    Span::raw(" to go back."),
                ])
            });
        }
    }
    let end: Vec<Line> = end
        .into_iter()
        .flat_map(|l| wrap(l, area.width as usize))
        .collect();
    let [top, bottom] = above(area, &lines, end.len() as u16);
    let overflow = scrolled(f, top, lines, scroll);
    f.render_widget(Paragraph::new(end), bottom);
    overflow
}

fn checklist(
    f: &mut Frame,
    area: Rect,
    summary: &str,
    checks: Option<&Checklist>,
    scroll: &Scroll,
    theme: &Theme,
) -> bool {
    let mut lines = vec![Line::styled(format!(" ✓ {summary}"), theme.ok())];
    lines.push(Line::raw(""));
    let Some(c) = checks else {
        lines.push(Line::styled(
            " checking the services and Structr's HTTP port…",
            theme.dim(),
        ));
        return scrolled(f, area, lines, scroll);
    };
    lines.push(Line::styled(" Now", theme.title()));
    for e in &c.start_errors {
        lines.push(Line::styled(
            format!(" ✗ could not start {e}"),
            theme.danger(),
        ));
    }
    for s in &c.services {
        let (text, style) = match (&s.running, &s.health) {
            (Some(true), Ok(())) => (format!("✓ {} running, healthy", s.name), theme.ok()),
            (Some(true), Err(e)) => (
                format!("✗ {} running but not healthy: {e}", s.name),
                theme.danger(),
            ),
            (Some(false), _) => (format!("✗ {} STOPPED", s.name), theme.danger()),
            (None, Err(e)) => (format!("? {}: {e}", s.name), theme.warn()),
            (None, Ok(())) => (format!("? {}", s.name), theme.warn()),
        };
        lines.push(Line::styled(format!(" {text}"), style));
    }
    match &c.http {
        Some((at, Ok(()))) => lines.push(Line::styled(
            format!(" ✓ Structr answers at {at}"),
            theme.ok(),
        )),
        Some((at, Err(e))) => lines.push(Line::styled(
            format!(" ✗ Structr does not answer at {at}: {e}"),
            theme.danger(),
        )),
        None => {}
    }
    let stopped = c.stopped();
    if !stopped.is_empty() {
        lines.push(Line::from(vec![
            Span::raw(" Press "),
            Span::styled("S", theme.key()),
            Span::raw(format!(" to start {}.", stopped.join(", "))),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(" Still to do by hand", theme.title()));
    let mut todo = vec![
        "Point DNS for the site at this machine (and lower the TTL first next time).".to_string(),
        "TLS certificates are kept outside the Structr folder (a reverse proxy, /etc/letsencrypt): copy them here or issue new ones.".into(),
        "Enable the nightly backup on this machine: `structr-backup schedule --enable` (or s on Home); its first backup starts the history here.".into(),
    ];
    if !c.kept.is_empty() {
        let kept: Vec<String> = c.kept.iter().map(|k| k.display().to_string()).collect();
        todo.push(format!(
            "When satisfied, delete the previous folders kept beside the targets (k on Home): {}",
            kept.join(", ")
        ));
    }
    for t in todo {
        lines.push(Line::raw(format!(" ☐ {t}")));
    }
    scrolled(f, area, lines, scroll)
}
