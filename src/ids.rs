//! The generation id format (a contract: tests, users and LVM snapshot names rely
//! on it): the UTC creation time, `YYYYMMDDTHHMMSSZ`, with `-2`, `-3`, … for a
//! second generation within the same second.

use chrono::{DateTime, Utc};

/// A generation id is its UTC creation time, e.g. `20261124T031500Z`; a second
/// backup within the same second gets `-2`, `-3`, ... so ids still sort by time.
pub fn id_for(time: DateTime<Utc>) -> String {
    time.format("%Y%m%dT%H%M%SZ").to_string()
}

pub fn is_generation_id(name: &str) -> bool {
    let (base, suffix) = match name.split_once('-') {
        Some((b, s)) => (b, Some(s)),
        None => (name, None),
    };
    let b = base.as_bytes();
    let shape_ok = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    shape_ok && suffix.is_none_or(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_have_one_shape() {
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 3, 15, 0).unwrap();
        assert_eq!(id_for(t), "20261124T031500Z");
        assert!(is_generation_id("20261124T031500Z"));
        assert!(is_generation_id("20261124T031500Z-2"));
        assert!(!is_generation_id("20261124T031500Z.partial"));
        assert!(!is_generation_id("20261124T031500Z-"));
        assert!(!is_generation_id(".lock"));
    }
}
