//! What serde cannot check: required keys, commands that split, absolute paths,
//! and `[snapshot]`, `[[offsite]]` and `[notify]` values. Every refusal names the
//! file, the line and the key.

use std::path::Path;

use super::bounds::validate_numbers;
use super::error::ConfigError;
use super::key_line::line_of_key;
use super::places::{is_backend_location, validate_places};
use super::sections::{Config, Kind, NotifyConfig, RepoKind, SnapshotConfig};
use super::size;
use crate::secrets::Location;
use crate::sys::lexical;

/// Checks what serde cannot: ranges and combinations. Errors point at the key's line.
pub(super) fn validate(config: &Config, text: &str, path: &Path) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_of_key(text, key),
        message: format!("{key}: {message}"),
    };
    validate_numbers(config, text, path)?;
    let inst = &config.installation;
    if inst.kind == Kind::Custom {
        for (key, value) in [
            ("neo4j_data", inst.neo4j_data.is_some()),
            ("structr_dir", inst.structr_dir.is_some()),
            ("neo4j", inst.neo4j.is_some()),
            ("structr", inst.structr.is_some()),
        ] {
            if !value {
                return Err(fail(
                    "kind",
                    format!("kind = \"custom\" needs `{key}` in [installation] (see the README, section Config)"),
                ));
            }
        }
    }
    for (name, cmds) in [("neo4j", &inst.neo4j), ("structr", &inst.structr)] {
        if let Some(cmds) = cmds {
            for (what, line) in [
                ("start", &cmds.start),
                ("stop", &cmds.stop),
                ("status", &cmds.status),
            ] {
                match shell_words::split(line) {
                    Ok(argv) if !argv.is_empty() => {}
                    Ok(_) => return Err(fail(name, format!("the {what} command is empty"))),
                    Err(e) => {
                        return Err(fail(
                            name,
                            format!("the {what} command cannot be split: {e}"),
                        ))
                    }
                }
            }
        }
    }
    validate_snapshot(&config.snapshot, text, path)?;
    validate_paths(config, text, path)?;
    validate_offsite(config, text, path)?;
    validate_notify(&config.notify, text, path)?;
    validate_places(config, text, path)?;
    if let Some(dir) = config.state.dir.as_ref().filter(|d| !d.is_absolute()) {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            line: line_of_key(text, "dir"),
            message: format!("[state] dir: {} must be an absolute path", dir.display()),
        });
    }
    Ok(())
}

/// Paths must say one thing: absolute, because a timer or cron job runs in a working
/// folder nobody chose, and that must not change what is backed up or replaced; and
/// the two targets apart, because a restore replaces each one whole.
fn validate_paths(config: &Config, text: &str, path: &Path) -> Result<(), ConfigError> {
    let fail = |key: &str, shown: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_of_key(text, key),
        message: format!("{shown}: {message}"),
    };
    let inst = &config.installation;
    let restic_location = config.repository.kind == RepoKind::Restic
        && config
            .repository
            .path
            .as_deref()
            .is_some_and(|p| is_backend_location(&p.to_string_lossy()));
    let repo_path = match restic_location {
        true => &None,
        false => &config.repository.path,
    };
    for (key, shown, value) in [
        ("path", "[repository] path", repo_path),
        (
            "password_file",
            "password_file",
            &config.repository.password_file,
        ),
        ("neo4j_data", "neo4j_data", &inst.neo4j_data),
        ("structr_dir", "structr_dir", &inst.structr_dir),
        ("compose_file", "compose_file", &inst.compose_file),
    ] {
        if let Some(p) = value.as_deref().filter(|p| !p.is_absolute()) {
            return Err(fail(
                key,
                shown,
                format!(
                    "{:?} is a relative path, so its meaning would depend on the folder the \
                     command runs in; write the absolute path (starting with /)",
                    p.display().to_string()
                ),
            ));
        }
    }
    if let (Some(data), Some(structr)) = (&inst.neo4j_data, &inst.structr_dir) {
        let (d, s) = (lexical(data), lexical(structr));
        let relation = if d == s {
            "is the same folder as"
        } else if d.starts_with(&s) {
            "is inside"
        } else if s.starts_with(&d) {
            "contains"
        } else {
            return Ok(());
        };
        return Err(fail(
            "neo4j_data",
            "neo4j_data",
            format!(
                "{} {relation} structr_dir {}; a backup archives each whole and a restore \
                 replaces each whole, so they must be two folders apart: point neo4j_data \
                 and structr_dir at folders where neither contains the other",
                data.display(),
                structr.display()
            ),
        ));
    }
    Ok(())
}

/// `[snapshot]`: commands that split, one way of snapshotting, a size LVM takes.
fn validate_snapshot(s: &SnapshotConfig, text: &str, path: &Path) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_of_key(text, key),
        message: format!("[snapshot] {key}: {message}"),
    };
    for (key, value) in [
        ("command", &s.command),
        ("delete_command", &s.delete_command),
    ] {
        if let Some(line) = value {
            match shell_words::split(line) {
                Ok(argv) if !argv.is_empty() => {}
                Ok(_) => return Err(fail(key, "is empty".into())),
                Err(e) => return Err(fail(key, format!("cannot be split: {e}"))),
            }
        }
    }
    if s.lvm && s.command.is_some() {
        return Err(fail(
            "lvm",
            "choose one: `lvm = true` (built-in LVM snapshots) or `command` (your snapshot tool)"
                .into(),
        ));
    }
    if let Err(e) = size::SnapshotSize::parse(&s.lvm_snapshot_size) {
        return Err(fail("lvm_snapshot_size", e));
    }
    if s.default && !s.configured() {
        return Err(fail(
            "default",
            "needs `command` or `lvm = true` in [snapshot]".into(),
        ));
    }
    Ok(())
}

/// `[[offsite]]`: unique plain names (they are typed in `--from NAME`), and
/// locations that mean one thing whatever folder a timer runs in.
fn validate_offsite(config: &Config, text: &str, path: &Path) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_of_key(text, key),
        message: format!("[[offsite]] {message}"),
    };
    let mut seen = std::collections::BTreeSet::new();
    for o in &config.offsite {
        let plain = !o.name.is_empty()
            && o.name.len() <= 40
            && o.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if !plain {
            return Err(fail(
                "name",
                format!(
                    "name {:?}: use letters, digits, - and _ (at most 40)",
                    o.name
                ),
            ));
        }
        if !seen.insert(o.name.as_str()) {
            return Err(fail("name", format!("name {:?} is used twice", o.name)));
        }
        let remote = match config.repository.kind {
            RepoKind::Restic => is_backend_location(&o.path),
            RepoKind::Archive => o.path.starts_with("rclone:"),
        };
        if !remote && !Path::new(&o.path).is_absolute() {
            return Err(fail(
                "path",
                format!(
                    "{}: path {:?} must be an absolute folder{}",
                    o.name,
                    o.path,
                    match config.repository.kind {
                        RepoKind::Restic =>
                            " or a restic repository (sftp:…, rest:…, s3:…, rclone:…)",
                        RepoKind::Archive => " or rclone:REMOTE:PATH",
                    }
                ),
            ));
        }
        if let Some(p) = o.password_file.as_deref().filter(|p| !p.is_absolute()) {
            return Err(fail(
                "password_file",
                format!("{}: password_file {:?} must be absolute", o.name, p),
            ));
        }
    }
    Ok(())
}

/// `[notify]`: URLs a client can call, paths that mean one thing whatever folder a
/// timer runs in, and an email address that cannot smuggle extra mail headers.
fn validate_notify(n: &NotifyConfig, text: &str, path: &Path) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_of_key(text, key),
        message: format!("[notify] {key}: {message}"),
    };
    for (key, value) in [("ping_url", &n.ping_url), ("webhook", &n.webhook)] {
        if let Some(url) = value.as_ref().map(Location::expose) {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
                return Err(fail(
                    key,
                    "must be a URL starting with http:// or https:// and a host \
                     (e.g. \"https://hc-ping.com/<uuid>\")"
                        .into(),
                ));
            }
            if url.chars().any(char::is_whitespace) {
                return Err(fail(
                    key,
                    "contains white space; percent-encode it (%20)".into(),
                ));
            }
        }
    }
    for (key, value) in [
        ("metrics_file", n.metrics_file.as_deref()),
        ("sendmail", Some(n.sendmail.as_path())),
    ] {
        if let Some(p) = value.filter(|p| !p.is_absolute()) {
            return Err(fail(
                key,
                format!(
                    "{:?} is a relative path, so its meaning would depend on the folder the \
                     command runs in; write the absolute path (starting with /)",
                    p.display().to_string()
                ),
            ));
        }
    }
    if let Some(email) = &n.email {
        if email.trim().is_empty() || email.contains(['\r', '\n']) {
            return Err(fail(
                "email",
                "give one or more recipients on one line, separated by commas (e.g. \"root\" or \"ops@example.org\")"
                    .into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse;
    use crate::sys::lexical;

    #[test]
    fn custom_kind_needs_paths_and_commands() {
        let err = parse("[installation]\nkind = \"custom\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("neo4j_data"), "{err}");
    }

    fn custom(data: &str, structr: &str) -> String {
        format!(
            "[installation]\nkind = \"custom\"\nneo4j_data = \"{data}\"\nstructr_dir = \"{structr}\"\n\
             neo4j = {{ start = \"a\", stop = \"b\", status = \"c\" }}\n\
             structr = {{ start = \"a\", stop = \"b\", status = \"c\" }}\n"
        )
    }

    #[test]
    fn relative_paths_are_refused_naming_file_line_and_key() {
        for (text, key, line) in [
            ("[repository]\npath = \"backups\"\n".to_string(), "path", 2),
            (custom("data", "/opt/structr"), "neo4j_data", 3),
            (custom("/data", "./structr"), "structr_dir", 4),
            (
                "[installation]\nkind = \"compose\"\ncompose_file = \"docker-compose.yml\"\n"
                    .to_string(),
                "compose_file",
                3,
            ),
        ] {
            let err = parse(&text, Path::new("/etc/c.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("/etc/c.toml"), "{err}");
            assert!(err.contains(&format!("line {line}")), "{err}");
            assert!(err.contains(key), "{err}");
            assert!(err.contains("absolute path"), "{err}");
        }
    }

    #[test]
    fn nested_or_equal_targets_are_refused_naming_both_neighbours_are_not() {
        for (data, structr) in [
            ("/srv/structr", "/srv/structr"),
            ("/srv/structr/", "/srv/./structr"),
            ("/srv/structr/db/data", "/srv/structr"),
            ("/srv/structr", "/srv/structr/sub"),
            ("/srv/x/../structr/data", "/srv/structr/"),
            ("/srv", "/"),
        ] {
            let err = parse(&custom(data, structr), Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("line 3"), "{data} {structr}: {err}");
            assert!(
                err.contains(data) && err.contains(structr),
                "{data} {structr}: {err}"
            );
        }
        // Neighbours with similar names are apart, and fine.
        for (data, structr) in [
            ("/srv/structr-data", "/srv/structr"),
            ("/srv/structr/../neo4j", "/srv/structr"),
            ("/var/lib/neo4j/data", "/usr/lib/structr"),
        ] {
            parse(&custom(data, structr), Path::new("c.toml")).unwrap();
        }
    }

    #[test]
    fn bad_notify_settings_are_refused_naming_line_and_key() {
        for (text, key, line) in [
            ("[notify]\non = [\"sometimes\"]\n", "sometimes", 2),
            (
                "[notify]\n\nping_url = \"hc.example/ping\"\n",
                "ping_url",
                3,
            ),
            ("[notify]\nwebhook = \"ftp://x/hook\"\n", "webhook", 2),
            ("[notify]\nwebhook = \"https://\"\n", "webhook", 2),
            ("[notify]\nmetrics_file = \"x.prom\"\n", "metrics_file", 2),
            ("[notify]\nsendmail = \"sendmail\"\n", "sendmail", 2),
            ("[notify]\nemail = \"a\\nBcc: b\"\n", "email", 2),
            ("[notify]\nmail = \"root\"\n", "mail", 2),
        ] {
            let err = parse(text, Path::new("/etc/c.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("line {line}")), "{text}: {err}");
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn snapshot_settings_are_checked_naming_line_and_key() {
        let c = parse(
            "[snapshot]\ncommand = \"virsh snapshot-create-as vm 'sb {name}'\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert!(c.snapshot.configured() && !c.snapshot.default);
        for (text, key, line) in [
            ("[snapshot]\nlvm = true\ncommand = \"x\"\n", "lvm", 2),
            (
                "[snapshot]\nlvm_snapshot_size = \"lots\"\n",
                "lvm_snapshot_size",
                2,
            ),
            ("[snapshot]\ncommand = \"a 'b\"\n", "command", 2),
            ("[snapshot]\n\ndefault = true\n", "default", 3),
        ] {
            let err = parse(text, Path::new("c.toml")).unwrap_err().to_string();
            assert!(err.contains(&format!("line {line}")), "{text}: {err}");
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn lexical_resolves_dots_and_trailing_slashes() {
        assert_eq!(lexical(Path::new("/a/./b/../c/")), Path::new("/a/c"));
        assert_eq!(lexical(Path::new("/../a")), Path::new("/a"));
    }
}
