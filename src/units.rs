//! Human units for sizes and durations, one way everywhere; and the one way a
//! timeout becomes a deadline.

use std::time::{Duration, Instant};

/// When a wait of `timeout` starting now ends. Never panics: a timeout the clock
/// cannot add (the config refuses any above an hour, but a caller may pass
/// anything) means a deadline a century ahead, which is "no deadline".
pub fn deadline(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 366 * 86_400)))
        .unwrap_or(now)
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

pub fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1} s")
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else {
        let m = d.as_secs() / 60;
        format!("{m} min {} s", d.as_secs() % 60)
    }
}

/// "3 h ago", "2 d ago" for ages in lists.
pub fn age(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..=119 => format!("{s} s ago"),
        120..=7199 => format!("{} min ago", s / 60),
        7200..=172_799 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_from_any_timeout_never_panics() {
        let before = Instant::now();
        assert!(deadline(Duration::from_secs(5)) >= before + Duration::from_secs(5));
        let far = deadline(Duration::from_secs(u64::MAX));
        assert!(
            far > before + Duration::from_secs(86_400 * 365 * 50),
            "{far:?}"
        );
        let _ = deadline(Duration::MAX);
    }

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(duration(Duration::from_millis(2500)), "2.5 s");
        assert_eq!(duration(Duration::from_secs(185)), "3 min 5 s");
        assert_eq!(age(chrono::Duration::hours(50)), "2 d ago");
    }
}
