//! The warning for a config file that holds a secret and that other users can read.

use super::lookup::Source;
use super::sections::Config;

/// A warning for a config file that users other than its owner can read while it
/// holds a secret (a location with credentials, a notification URL with a token).
/// None when the file is private, holds none, or is the built-in defaults.
pub fn exposure_warning(config: &Config, source: &Source) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let Source::File(path) = source else {
        return None;
    };
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    if mode & 0o044 == 0 {
        return None;
    }
    let keys: Vec<String> = config
        .secret_locations()
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    if keys.is_empty() {
        return None;
    }
    let shown = path.display().to_string();
    Some(format!(
        "the config file {shown} can be read by other users (mode {mode:04o}) and holds \
         credentials or tokens ({}); make it readable by its owner only: \
         `chmod 600 {}`",
        keys.join(", "),
        shell_words::quote(&shown)
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{load, parse};

    #[test]
    fn notification_urls_show_redacted_and_are_named_as_secrets() {
        let c = parse(
            "[repository]\nkind = \"restic\"\npath = \"rest:http://u:RESTPASS@h/r\"\n\
             [notify]\nping_url = \"https://hc.example/ping/TOKEN?create=1\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("TOKEN"), "{shown}");
        let url = c.notify.ping_url.as_ref().unwrap();
        assert_eq!(url.to_string(), "https://hc.example/***");
        assert_eq!(url.expose(), "https://hc.example/ping/TOKEN?create=1");
        let keys: Vec<String> = c.secret_locations().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["[repository] path", "[notify] ping_url"]);
        assert!(parse("", Path::new("c.toml"))
            .unwrap()
            .secret_locations()
            .is_empty());
    }

    #[test]
    fn a_readable_config_with_a_secret_is_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let secret = "[notify]\nwebhook = \"https://hooks.example/T0K3N\"\n";
        std::fs::write(&path, secret).unwrap();
        let mode = |m| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m));
        mode(0o644).unwrap();
        let (c, source) = load(Some(&path)).unwrap();
        let w = exposure_warning(&c, &source).expect("a warning");
        assert!(
            w.contains("mode 0644") && w.contains("[notify] webhook"),
            "{w}"
        );
        assert!(
            w.contains(&format!("`chmod 600 {}`", path.display())),
            "{w}"
        );
        assert!(!w.contains("T0K3N"), "{w}");
        mode(0o640).unwrap();
        assert!(exposure_warning(&c, &source).is_some(), "group-readable");
        mode(0o600).unwrap();
        assert_eq!(exposure_warning(&c, &source), None);
        // Readable by all, but nothing secret in it.
        std::fs::write(&path, "[notify]\nwebhook = \"https://hooks.example\"\n").unwrap();
        mode(0o644).unwrap();
        let (c, source) = load(Some(&path)).unwrap();
        assert_eq!(exposure_warning(&c, &source), None);
    }
}
