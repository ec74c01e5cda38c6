//! `keep_within`: a calendar duration as restic takes it ("2d", "1w3d", "1y6m").

use std::fmt;

use serde::{Deserialize, Serialize};

/// A calendar duration as restic takes it: years, months, days, hours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Within {
    pub years: u32,
    pub months: u32,
    pub days: u32,
    pub hours: u32,
}

impl fmt::Display for Within {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, unit) in [
            (self.years, 'y'),
            (self.months, 'm'),
            (self.days, 'd'),
            (self.hours, 'h'),
        ] {
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("keep_within {input:?}: {problem}; write a number and a unit, e.g. \"2d\", \"1w3d\", \"6m\" (units: y, m, w, d, h)")]
pub struct RetentionError {
    pub input: String,
    pub problem: String,
}

/// Parses "2d", "1w3d", "1y6m", "12h"; the empty string means no keep_within.
pub fn parse_within(s: &str) -> Result<Option<Within>, RetentionError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let err = |problem: String| RetentionError {
        input: s.to_string(),
        problem,
    };
    let mut w = Within::default();
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        if number.is_empty() {
            return Err(err(format!("unit '{c}' has no number before it")));
        }
        let n: u32 = number
            .parse()
            .map_err(|_| err(format!("{number} is too large")))?;
        number.clear();
        // Saturating: a sum past u32 is refused by the config's range check,
        // never a panic here.
        match c {
            'y' => w.years = w.years.saturating_add(n),
            'm' => w.months = w.months.saturating_add(n),
            'w' => w.days = w.days.saturating_add(n.saturating_mul(7)),
            'd' => w.days = w.days.saturating_add(n),
            'h' => w.hours = w.hours.saturating_add(n),
            other => return Err(err(format!("unknown unit '{other}'"))),
        }
    }
    if !number.is_empty() {
        return Err(err(format!("{number} has no unit")));
    }
    Ok(Some(w))
}
