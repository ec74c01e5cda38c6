//! Every number of the configuration with the range it must lie in, and the
//! check that refuses a value outside it.

use std::path::Path;

use super::error::ConfigError;
use super::key_line::line_in_section;
use super::sections::Config;
use super::{size, within};

/// The longest any timeout may be. A wait of more than an hour is a hang, not a
/// slow service; and a huge value would overflow the clock once it is turned
/// into a deadline, in the middle of a window with both services stopped.
pub const MAX_TIMEOUT_SECS: u64 = 3600;
/// The most generations one retention rule may keep (ten thousand is decades).
pub const MAX_KEEP: u32 = 10_000;
/// The most compression workers (0 means one per core).
pub const MAX_THREADS: u32 = 1024;
/// The longest `keep_within`, in hours (100 years of 366 days).
const MAX_WITHIN_HOURS: u64 = 100 * 366 * 24;
/// The largest fixed LVM snapshot size (1 PiB).
const MAX_LVM_SNAPSHOT_BYTES: u64 = 1 << 50;

/// One number of the config and the range it must lie in.
pub(super) struct Bound {
    pub(super) section: &'static str,
    pub(super) key: &'static str,
    pub(super) value: i128,
    pub(super) range: std::ops::RangeInclusive<i128>,
    /// What the numbers count, and a hint, for the message.
    pub(super) unit: &'static str,
}

/// Every number of the config with its range: what a run would do with a value
/// outside it is nothing anyone wants (a timeout of 584 billion years, a retention
/// rule that keeps everything forever), so it is refused when the file is read.
pub(super) fn bounds(config: &Config) -> Vec<Bound> {
    let b = |section, key, value: i128, range, unit| Bound {
        section,
        key,
        value,
        range,
        unit,
    };
    let timeout = "seconds; an hour at most";
    let (i, r) = (&config.installation, &config.retention);
    let keep = 0..=i128::from(MAX_KEEP);
    let keep_unit = "generations";
    vec![
        b(
            "repository",
            "compression_level",
            config.repository.compression_level.into(),
            1..=19,
            "1 is fastest, 19 smallest, 3 a good default",
        ),
        b(
            "repository",
            "threads",
            config.repository.threads.into(),
            0..=i128::from(MAX_THREADS),
            "compression workers; 0 means one per core",
        ),
        b(
            "installation",
            "stop_timeout_secs",
            i.stop_timeout_secs.into(),
            1..=i128::from(MAX_TIMEOUT_SECS),
            timeout,
        ),
        b(
            "installation",
            "start_timeout_secs",
            i.start_timeout_secs.into(),
            1..=i128::from(MAX_TIMEOUT_SECS),
            timeout,
        ),
        b(
            "application",
            "max_size_mb",
            config.application.max_size_mb.into(),
            1..=1_048_576,
            "MiB the export's download, and apart its unpacked files, may hold",
        ),
        b(
            "application",
            "idle_timeout_secs",
            config.application.idle_timeout_secs.into(),
            1..=i128::from(MAX_TIMEOUT_SECS),
            timeout,
        ),
        b(
            "application",
            "timeout_secs",
            config.application.timeout_secs.into(),
            1..=i128::from(MAX_TIMEOUT_SECS),
            timeout,
        ),
        b(
            "snapshot",
            "timeout_secs",
            config.snapshot.timeout_secs.into(),
            1..=i128::from(MAX_TIMEOUT_SECS),
            timeout,
        ),
        b(
            "maintenance",
            "retry_after_secs",
            config.maintenance.retry_after_secs.into(),
            1..=86_400,
            "seconds; a day at most",
        ),
        b(
            "maintenance",
            "port",
            config.maintenance.port.unwrap_or(8082).into(),
            1..=65_535,
            "Structr's HTTP port",
        ),
        b(
            "drill",
            "timeout_secs",
            config.drill.timeout_secs.into(),
            1..=i128::from(MAX_TIMEOUT_SECS),
            timeout,
        ),
        b(
            "retention",
            "keep_last",
            r.keep_last.into(),
            keep.clone(),
            keep_unit,
        ),
        b(
            "retention",
            "keep_hourly",
            r.keep_hourly.into(),
            keep.clone(),
            keep_unit,
        ),
        b(
            "retention",
            "keep_daily",
            r.keep_daily.into(),
            keep.clone(),
            keep_unit,
        ),
        b(
            "retention",
            "keep_weekly",
            r.keep_weekly.into(),
            keep.clone(),
            keep_unit,
        ),
        b(
            "retention",
            "keep_monthly",
            r.keep_monthly.into(),
            keep.clone(),
            keep_unit,
        ),
        b(
            "retention",
            "keep_yearly",
            r.keep_yearly.into(),
            keep,
            keep_unit,
        ),
    ]
}

/// Checks every number against its range ([`bounds`]), and the sizes and spans
/// written as text (`keep_within`, `lvm_snapshot_size`). The message names the
/// key, the value, the range and (through [`ConfigError::Invalid`]) the file.
pub(super) fn validate_numbers(
    config: &Config,
    text: &str,
    path: &Path,
) -> Result<(), ConfigError> {
    let fail = |section: &str, key: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_in_section(text, section, key),
        message: format!("[{section}] {key}: {message}"),
    };
    for b in bounds(config) {
        if !b.range.contains(&b.value) {
            return Err(fail(
                b.section,
                b.key,
                format!(
                    "{} is out of range; use {} to {} ({})",
                    b.value,
                    b.range.start(),
                    b.range.end(),
                    b.unit
                ),
            ));
        }
    }
    match within::parse_within(&config.retention.keep_within) {
        Err(e) => return Err(fail("retention", "keep_within", e.to_string())),
        Ok(Some(w)) => {
            let hours = u64::from(w.years) * 366 * 24
                + u64::from(w.months) * 31 * 24
                + u64::from(w.days) * 24
                + u64::from(w.hours);
            if hours > MAX_WITHIN_HOURS {
                return Err(fail(
                    "retention",
                    "keep_within",
                    format!(
                        "{:?} is out of range; use at most 100 years (e.g. \"100y\")",
                        config.retention.keep_within
                    ),
                ));
            }
        }
        Ok(None) => {}
    }
    if let Ok(size::SnapshotSize::Bytes(n)) =
        size::SnapshotSize::parse(&config.snapshot.lvm_snapshot_size)
    {
        if n > MAX_LVM_SNAPSHOT_BYTES {
            return Err(fail(
                "snapshot",
                "lvm_snapshot_size",
                format!(
                    "{:?} is out of range; use 1 byte to 1P (1024T), or a share such as \"10%\"",
                    config.snapshot.lvm_snapshot_size
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse;

    #[test]
    fn out_of_range_level_is_refused_with_its_line() {
        let err = parse(
            "[repository]\ncompression_level = 40\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 2") && err.contains("compression_level"),
            "{err}"
        );
    }

    #[test]
    fn bad_keep_within_is_refused() {
        let err = parse("[retention]\nkeep_within = \"3x\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("keep_within") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn application_export_bounds_are_checked() {
        let d = parse("", Path::new("c.toml")).unwrap().application;
        assert_eq!(
            (d.max_size_mb, d.idle_timeout_secs, d.timeout_secs),
            (4096, 60, 600)
        );
        for bad in [
            "max_size_mb = 0",
            "max_size_mb = 18446744073709551615",
            "idle_timeout_secs = 0",
            "idle_timeout_secs = 3601",
            "timeout_secs = 18446744073709551615",
        ] {
            let text = format!("[application]\n{bad}\n");
            let err = parse(&text, Path::new("c.toml")).unwrap_err().to_string();
            let key = bad.split(' ').next().unwrap();
            assert!(
                err.contains(key) && err.contains("out of range") && err.contains("line 2"),
                "{bad}: {err}"
            );
        }
        let ok = parse(
            "[application]\nmax_size_mb = 1\nidle_timeout_secs = 3600\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(ok.application.max_size_mb, 1);
    }

    /// Parses `text` expecting a refusal naming the file, the line, the key, the
    /// value and the range.
    fn refused(text: &str, line: usize, shown: &[&str]) {
        let err = parse(text, Path::new("/etc/sb/c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/sb/c.toml"), "{text}: {err}");
        assert!(err.contains(&format!("line {line}:")), "{text}: {err}");
        for s in shown {
            assert!(err.contains(s), "{text}: {s:?} missing in {err}");
        }
    }

    #[test]
    fn every_timeout_is_between_1_second_and_an_hour() {
        let huge = u64::MAX.to_string();
        for (section, key) in [
            ("installation", "stop_timeout_secs"),
            ("installation", "start_timeout_secs"),
            ("snapshot", "timeout_secs"),
            ("drill", "timeout_secs"),
        ] {
            for bad in ["0", "3601", huge.as_str()] {
                // Both sections with a `timeout_secs` are written, so the line must
                // be the one in the right section.
                let (text, line) = match section {
                    "drill" => (
                        format!("[snapshot]\ntimeout_secs = 5\n\n[drill]\n{key} = {bad}\n"),
                        5,
                    ),
                    "snapshot" => (
                        format!("[drill]\ntimeout_secs = 5\n[snapshot]\n{key} = {bad}\n"),
                        4,
                    ),
                    _ => (format!("[{section}]\n{key} = {bad}\n"), 2),
                };
                refused(
                    &text,
                    line,
                    &[
                        &format!("[{section}] {key}"),
                        &format!("{bad} is out of range"),
                        "1 to 3600",
                    ],
                );
            }
            // Past u64: serde refuses it; the message still names key and range.
            refused(
                &format!("[{section}]\n{key} = 18446744073709551616\n"),
                2,
                &[key, "1 to 3600"],
            );
            let ok = format!("[{section}]\n{key} = 3600\n");
            parse(&ok, Path::new("c.toml")).unwrap();
        }
    }

    #[test]
    fn retention_counts_and_keep_within_are_bounded() {
        for key in [
            "keep_last",
            "keep_hourly",
            "keep_daily",
            "keep_weekly",
            "keep_monthly",
            "keep_yearly",
        ] {
            refused(
                &format!("[retention]\n\n{key} = 10001\n"),
                3,
                &[&format!("[retention] {key}"), "10001", "0 to 10000"],
            );
            refused(
                &format!("[retention]\n{key} = -1\n"),
                2,
                &[key, "-1", "0 to 10000"],
            );
            parse(
                &format!("[retention]\n{key} = 10000\n"),
                Path::new("c.toml"),
            )
            .unwrap();
        }
        refused(
            "[retention]\nkeep_within = \"101y\"\n",
            2,
            &["keep_within", "\"101y\"", "100 years"],
        );
        // A sum past u32 is a refusal, not a panic in the parser.
        refused(
            "[retention]\nkeep_within = \"4294967295w4294967295d\"\n",
            2,
            &["keep_within", "100 years"],
        );
        parse(
            "[retention]\nkeep_within = \"99y11m\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
    }

    #[test]
    fn repository_and_snapshot_numbers_are_bounded() {
        refused(
            "[repository]\ncompression_level = 0\n",
            2,
            &[
                "[repository] compression_level",
                "0 is out of range",
                "1 to 19",
            ],
        );
        refused(
            "[repository]\nthreads = 100000\n",
            2,
            &["[repository] threads", "100000", "0 to 1024"],
        );
        refused(
            "[snapshot]\nlvm = true\nlvm_snapshot_size = \"2000T\"\n",
            3,
            &["[snapshot] lvm_snapshot_size", "\"2000T\"", "1P"],
        );
        parse(
            "[repository]\nthreads = 1024\ncompression_level = 19\n[snapshot]\nlvm = true\nlvm_snapshot_size = \"1024T\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
    }
}
