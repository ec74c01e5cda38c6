//! The list of generations with the selected one's details.

use super::*;

pub fn verified(m: &Manifest) -> &'static str {
    match &m.last_verified {
        None => "never",
        Some(v) if !v.ok => "FAILED",
        Some(v) if v.deep => "deep ✓",
        Some(_) => "quick ✓",
    }
}

pub fn generations(
    f: &mut Frame,
    area: Rect,
    app: &App,
    sel: usize,
    theme: &Theme,
    clock: Clock,
    details: bool,
) {
    let gens = &app.data.generations;
    if gens.is_empty() {
        f.render_widget(
            Paragraph::new(
                " No generations yet. Go back (Esc) and press b to make the first backup.",
            )
            .block(Block::default().borders(Borders::TOP)),
            area,
        );
        return;
    }
    let [table_area, detail_area] = Layout::vertical([
        Constraint::Min(5),
        Constraint::Length(if details { 7 } else { 3 }),
    ])
    .areas(area);
    let rows: Vec<Row> = gens
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let style = if i == sel {
                theme.selected()
            } else {
                theme.value()
            };
            Row::new(vec![
                Cell::from(format!("{}{}", if i == sel { "▶ " } else { "  " }, m.id)),
                Cell::from(
                    m.created_at
                        .with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                ),
                Cell::from(units::age(clock.wall - m.created_at)),
                Cell::from(units::bytes(m.total_archive_size())),
                Cell::from(if m.pinned { "pin" } else { "" }),
                Cell::from(verified(m)),
                Cell::from(m.label.clone()),
            ])
            .style(style)
        })
        .collect();
    let widths = [
        Constraint::Length(18),
        Constraint::Length(16),
        Constraint::Length(11),
        Constraint::Length(9),
        Constraint::Length(3),
        Constraint::Length(8),
        Constraint::Min(6),
    ];
    let header = Row::new(vec![
        "  id", "created", "age", "size", "pin", "verified", "label",
    ])
    .style(theme.label());
    // Keep the selection visible in a long list.
    let visible = table_area.height.saturating_sub(2) as usize;
    let skip = sel.saturating_sub(visible.saturating_sub(1));
    let rows: Vec<Row> = rows.into_iter().skip(skip).collect();
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .block(Block::default().borders(Borders::TOP)),
        table_area,
    );

    let Some(m) = gens.get(sel) else { return };
    let mut lines = Vec::new();
    if details {
        lines.push(Line::styled(
            format!(
                " {} from {} ({} installation), tool {}",
                m.id, m.host, m.installation, m.tool_version
            ),
            theme.title(),
        ));
        for c in &m.components {
            lines.push(Line::raw(format!(
                "  {:<11} {} files, {} → {}  from {}",
                c.name,
                c.files,
                units::bytes(c.bytes),
                units::bytes(c.archive_size),
                c.source.display()
            )));
        }
        lines.push(Line::styled(
            format!(
                "  downtime {}",
                secs(Duration::from_secs_f64(m.timings.downtime_secs.max(0.0)))
            ),
            theme.dim(),
        ));
    } else {
        lines.push(Line::raw(format!(
            " Enter verifies {} and then asks for confirmation; nothing is stopped before that.",
            m.id
        )));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::TOP)),
        detail_area,
    );
}
