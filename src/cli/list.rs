//! `list`.

use super::env::{Env, Result};
use super::json::{verified_word, Brief};
use crate::ops::OpError;
use crate::units;
use crate::{errln, outln};

pub(super) fn list(env: &Env) -> Result<()> {
    env.existing_repo()?;
    let (manifests, broken) = env.reading().list().map_err(OpError::from)?;
    for b in &broken {
        errln!("warning: {b}");
    }
    if env.cli.json {
        let rows: Vec<Brief> = manifests.iter().map(Brief::of).collect();
        return env.print_json(&rows);
    }
    if manifests.is_empty() {
        outln!("no generations in {}", env.reading().location());
        return Ok(());
    }
    outln!(
        "{:<20} {:<19} {:>10}  {:<6} {:<10} {:<17} LABEL",
        "ID",
        "CREATED",
        "SIZE",
        "PINNED",
        "VERIFIED",
        "RESTORE-TESTED"
    );
    for m in &manifests {
        let tested = match &m.last_drill {
            None => "never".to_string(),
            Some(d) => format!(
                "{} {}",
                if d.ok { "ok" } else { "FAILED" },
                units::age(chrono::Utc::now() - d.at)
            ),
        };
        outln!(
            "{:<20} {:<19} {:>10}  {:<6} {:<10} {:<17} {}",
            m.id,
            m.created_at
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S"),
            units::bytes(m.total_archive_size()),
            if m.pinned { "yes" } else { "" },
            verified_word(m),
            tested,
            match m.is_external_snapshot() {
                true => format!("(snapshot) {}", m.label_words()),
                false => m.label_words(),
            }
        );
    }
    Ok(())
}
