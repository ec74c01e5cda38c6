//! Reading and parsing the configuration file; a parse error names the file, the
//! line and the key.

use std::path::Path;

use super::bounds::bounds;
use super::error::ConfigError;
use super::lookup::{config_path, Source};
use super::sections::Config;
use super::validate::validate;

/// Loads the config. A missing file is not an error unless it was named
/// explicitly (a typo in `--config` must not silently mean defaults).
pub fn load(explicit: Option<&Path>) -> Result<(Config, Source), ConfigError> {
    let path = config_path(explicit);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((parse(&text, &path)?, Source::File(path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
            Ok((Config::default(), Source::Defaults { looked_at: path }))
        }
        Err(source) => Err(ConfigError::Read { path, source }),
    }
}

pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(0);
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            message: with_key(text, line, e.message()),
        }
    })?;
    validate(&config, text, path)?;
    Ok(config)
}

/// A parse error's message with the key its line assigns, and for a number that
/// does not fit its type (`keep_last = -1`), the range it must lie in: serde
/// names neither.
fn with_key(text: &str, line: usize, message: &str) -> String {
    let key = line
        .checked_sub(1)
        .and_then(|i| text.lines().nth(i))
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.starts_with('[') && !message.contains(*k));
    let Some(key) = key else {
        return message.to_string();
    };
    let range = bounds(&Config::default())
        .into_iter()
        .find(|b| key == b.key || key.ends_with(&format!(".{}", b.key)))
        .map(|b| {
            format!(
                "; use {} to {} ({})",
                b.range.start(),
                b.range.end(),
                b.unit
            )
        })
        .unwrap_or_default();
    format!("{key}: {message}{range}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Kind, NotifyEvent};

    #[test]
    fn empty_file_means_defaults() {
        let c = parse("", Path::new("c.toml")).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.retention.keep_daily, 7);
        assert_eq!(c.repository.compression_level, 3);
    }

    #[test]
    fn full_custom_config_parses() {
        let text = r#"
[repository]
path = "/srv/backups"
compression_level = 5
threads = 2

[installation]
kind = "custom"
neo4j_data = "/data/neo4j"
structr_dir = "/opt/structr"
neo4j = { start = "svc start neo4j", stop = "svc stop neo4j", status = "svc status 'neo 4j'" }
structr = { start = "a", stop = "b", status = "c" }

[retention]
keep_last = 1
keep_within = "1w3d"
"#;
        let c = parse(text, Path::new("c.toml")).unwrap();
        assert_eq!(
            c.repository.path.as_deref(),
            Some(Path::new("/srv/backups"))
        );
        assert_eq!(c.installation.kind, Kind::Custom);
        assert_eq!(c.installation.neo4j.unwrap().status, "svc status 'neo 4j'");
        assert_eq!(c.retention.keep_last, 1);
        assert_eq!(c.retention.keep_daily, 7, "unset keys keep their defaults");
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "[repository]\ncompression_level = 3\ncompresion = 4\n";
        let err = parse(text, Path::new("/etc/x.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/x.toml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("compresion"), "{err}");
    }

    #[test]
    fn wrong_type_names_line() {
        let err = parse(
            "[retention]\n\nkeep_daily = \"seven\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn notify_section_parses_and_defaults_to_failures() {
        let c = parse(
            "[notify]\non = [\"start\", \"failure\"]\nping_url = \"https://hc.example/ping/u\"\n\
             webhook = \"http://127.0.0.1:9000/hook\"\nemail = \"root\"\n\
             metrics_file = \"/var/lib/prometheus/node-exporter/structr_backup.prom\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(c.notify.on, vec![NotifyEvent::Start, NotifyEvent::Failure]);
        assert_eq!(c.notify.email.as_deref(), Some("root"));
        let d = parse("", Path::new("c.toml")).unwrap();
        assert_eq!(d.notify.on, vec![NotifyEvent::Failure]);
        assert_eq!(d.notify.sendmail, Path::new("/usr/sbin/sendmail"));
    }

    #[test]
    fn application_export_is_on_unless_turned_off() {
        assert!(parse("", Path::new("c.toml")).unwrap().application.export);
        let off = parse("[application]\nexport = false\n", Path::new("c.toml")).unwrap();
        assert!(!off.application.export);
        assert!(parse("[application]\nexport = \"no\"\n", Path::new("c.toml")).is_err());
    }

    #[test]
    fn the_example_config_parses_with_notify_keys_uncommented() {
        let text = include_str!("../../assets/config.example.toml");
        parse(text, Path::new("config.example.toml")).unwrap();
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(k)
                    if ["ping_url", "webhook", "email", "sendmail", "metrics_file"]
                        .iter()
                        .any(|key| k.starts_with(&format!("{key} ="))) =>
                {
                    format!("{k}\n")
                }
                _ => format!("{l}\n"),
            })
            .collect();
        let c = parse(&uncommented, Path::new("config.example.toml")).unwrap();
        assert!(c.notify.ping_url.is_some() && c.notify.metrics_file.is_some());
    }

    #[test]
    fn missing_explicit_file_is_an_error_but_missing_default_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        assert!(load(Some(&missing)).is_err());
    }
}
