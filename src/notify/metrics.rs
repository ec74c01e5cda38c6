//! The Prometheus text file (for node-exporter's textfile collector), rewritten
//! atomically after each monitored run. Series this run does not touch keep their
//! values, read back from the previous file: the last success stays known through
//! any number of failures, and other repositories' series stay as they were.
//!
//! Per-run series are labelled `operation` and `repository`; repository facts only
//! `repository`. Further labels (an off-site `target`) fit in the same scheme.

use std::collections::BTreeMap;
use std::path::Path;

use super::status::Status;

const PREFIX: &str = "structr_backup_";

/// Every gauge we write, in file order, with its help text.
const METRICS: &[(&str, &str)] = &[
    (
        "last_run_timestamp_seconds",
        "When the last run of the operation ended (Unix time).",
    ),
    (
        "last_success_timestamp_seconds",
        "When the last successful run of the operation ended (Unix time).",
    ),
    (
        "last_failure_timestamp_seconds",
        "When the last failed or cancelled run of the operation ended (Unix time).",
    ),
    (
        "last_exit_code",
        "Exit code of the last run of the operation (0 = success).",
    ),
    (
        "last_duration_seconds",
        "How long the last run of the operation took.",
    ),
    (
        "last_downtime_seconds",
        "How long the last run of the operation kept services stopped.",
    ),
    (
        "last_backup_bytes",
        "Bytes of data in the generation the last successful backup wrote.",
    ),
    (
        "last_backup_archive_bytes",
        "Bytes of archives the last successful backup wrote.",
    ),
    (
        "generations",
        "Generations in the repository after the last run.",
    ),
    (
        "repository_bytes",
        "Bytes of archives of all generations in the repository after the last run.",
    ),
];

/// What one run contributes.
pub struct Update<'a> {
    /// The repository as it may be shown: credentials redacted (the file is
    /// world-readable, as node-exporter needs).
    pub repository: &'a str,
    pub operation: &'a str,
    pub status: Status,
    pub exit_code: i32,
    pub finished_unix: i64,
    pub duration_secs: f64,
    pub downtime_secs: f64,
    /// Data bytes and archive bytes of the generation a successful backup wrote.
    pub backup: Option<(u64, u64)>,
    /// Generation count and archive bytes of the repository, when it could be listed.
    pub repository_stats: Option<(u64, u64)>,
}

/// name (without prefix) → rendered labels → value.
type Series = BTreeMap<String, BTreeMap<String, f64>>;

/// Reads the previous file, applies `u`, and replaces the file.
pub fn write(path: &Path, u: &Update) -> Result<(), String> {
    let mut series = std::fs::read_to_string(path)
        .map(|t| parse(&t))
        .unwrap_or_default();
    apply(&mut series, u);
    super::status::write_atomic(path, render(&series).as_bytes(), 0o644)
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn apply(series: &mut Series, u: &Update) {
    let run = labels(&[("operation", u.operation), ("repository", u.repository)]);
    let only_repo = labels(&[("repository", u.repository)]);
    let mut set = |name: &str, l: &str, v: f64| {
        series
            .entry(name.to_string())
            .or_default()
            .insert(l.to_string(), v);
    };
    let now = u.finished_unix as f64;
    set("last_run_timestamp_seconds", &run, now);
    match u.status {
        Status::Success => set("last_success_timestamp_seconds", &run, now),
        Status::Failure | Status::Cancelled => set("last_failure_timestamp_seconds", &run, now),
    }
    set("last_exit_code", &run, f64::from(u.exit_code));
    set("last_duration_seconds", &run, u.duration_secs);
    set("last_downtime_seconds", &run, u.downtime_secs);
    if let Some((bytes, archive)) = u.backup {
        set("last_backup_bytes", &only_repo, bytes as f64);
        set("last_backup_archive_bytes", &only_repo, archive as f64);
    }
    if let Some((count, bytes)) = u.repository_stats {
        set("generations", &only_repo, count as f64);
        set("repository_bytes", &only_repo, bytes as f64);
    }
}

/// Our own series from a file we wrote (other lines are dropped: the file is ours).
fn parse(text: &str) -> Series {
    let mut series = Series::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((head, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, l) = match head.find('{') {
            Some(i) => (&head[..i], &head[i..]),
            None => (head, ""),
        };
        if let Some(name) = name.strip_prefix(PREFIX) {
            series
                .entry(name.to_string())
                .or_default()
                .insert(l.to_string(), value);
        }
    }
    series
}

fn render(series: &Series) -> String {
    let mut out = String::new();
    let known = METRICS.iter().map(|(n, h)| (*n, *h));
    // Names a newer version wrote are kept too, after ours.
    let others = series
        .keys()
        .filter(|k| METRICS.iter().all(|(n, _)| n != k))
        .map(|k| (k.as_str(), "Written by another version of structr-backup."));
    for (name, help) in known.chain(others) {
        let Some(values) = series.get(name).filter(|v| !v.is_empty()) else {
            continue;
        };
        out.push_str(&format!("# HELP {PREFIX}{name} {help}\n"));
        out.push_str(&format!("# TYPE {PREFIX}{name} gauge\n"));
        for (l, v) in values {
            out.push_str(&format!("{PREFIX}{name}{l} {v}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(status: Status, at: i64) -> Update<'static> {
        Update {
            repository: "/srv/b\"ack",
            operation: "backup",
            status,
            exit_code: if status == Status::Success { 0 } else { 1 },
            finished_unix: at,
            duration_secs: 2.5,
            downtime_secs: 1.0,
            backup: (status == Status::Success).then_some((100, 40)),
            repository_stats: Some((3, 120)),
        }
    }

    #[test]
    fn a_failure_keeps_the_last_success_and_the_file_reads_back() {
        let mut s = Series::new();
        apply(&mut s, &update(Status::Success, 1000));
        let mut s = parse(&render(&s));
        apply(&mut s, &update(Status::Failure, 2000));
        let text = render(&s);
        let l = r#"{operation="backup",repository="/srv/b\"ack"}"#;
        assert!(
            text.contains(&format!(
                "structr_backup_last_success_timestamp_seconds{l} 1000\n"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "structr_backup_last_failure_timestamp_seconds{l} 2000\n"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("structr_backup_last_exit_code{l} 1\n")),
            "{text}"
        );
        assert!(
            text.contains("structr_backup_last_backup_bytes{repository=\"/srv/b\\\"ack\"} 100\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE structr_backup_generations gauge\n"),
            "{text}"
        );
        assert_eq!(parse(&text), s);
    }
}
