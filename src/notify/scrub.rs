//! The last guard before text leaves the machine: every text a notification
//! carries (an error, log lines, a warning) passes through [`scrub`], which
//! redacts every secret-bearing value the run knows, whatever message quoted it.
//!
//! Messages ought to show locations redacted already (`secrets::Location`); this
//! catches the ones that do not: a child's error output that echoes a URL, a
//! path built from a raw string, a password quoted on its own.
//!
//! Whole values are replaced wherever they appear. Of their secret parts, only
//! credentials (a URL's password or user token, a `pass=`/`key=` option's value)
//! are replaced on their own too: a URL's path is hidden as part of its URL, but
//! a webhook path such as `/structr-backup` alone is also the program's name.

use crate::config::Config;
use crate::secrets::{redact, REDACTED};

/// Credentials shorter than this are left alone when they stand on their own
/// (the whole value is still redacted wherever it appears): replacing every
/// "pw" in a message would make it unreadable and hide next to nothing.
const MIN_FRAGMENT: usize = 6;

/// `text` with every secret of `config` (repository and off-site locations, ping
/// and webhook URLs) redacted.
pub fn scrub(text: &str, config: &Config) -> String {
    Secrets::of(config).scrub(text)
}

/// The secret-bearing values of one run.
#[derive(Clone, Default)]
pub struct Secrets {
    /// (the value as written, as it may be shown), longest first so that a value
    /// containing another is replaced whole.
    whole: Vec<(String, String)>,
    /// The secret parts themselves (a password, a token), longest first.
    parts: Vec<String>,
}

impl Secrets {
    /// The values `config` names; [`Secrets::with`] adds the run's own locations.
    pub fn of(config: &Config) -> Self {
        let mut s = Secrets::default();
        for (_, location) in config.secret_locations() {
            s.add(location.expose());
        }
        // The ping URL is also sent with its suffixes, which a message may quote.
        if let Some(url) = &config.notify.ping_url {
            for suffix in ["start", "fail"] {
                s.add(&super::with_suffix(url.expose(), suffix));
            }
        }
        s
    }

    /// Adds a value the config may not name (a `--repo` or `--from` location).
    pub fn with(mut self, value: &str) -> Self {
        self.add(value);
        self
    }

    fn add(&mut self, value: &str) {
        let shown = redact(value);
        if shown == value {
            return;
        }
        self.whole.push((value.to_string(), shown.clone()));
        self.parts.extend(
            secret_parts(value, &shown)
                .into_iter()
                .filter(|p| p.chars().count() >= MIN_FRAGMENT),
        );
        self.whole.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        self.parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
        self.parts.dedup();
    }

    /// `text` with each value replaced by its redacted form, then any secret part
    /// still there (quoted on its own, or inside a differently written URL) by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (value, shown) in &self.whole {
            out = out.replace(value.as_str(), shown);
        }
        for part in &self.parts {
            out = out.replace(part.as_str(), REDACTED);
        }
        out
    }
}

/// The credentials among the pieces of `value` that its redacted form `shown`
/// hides: `shown` is `value` with some pieces replaced by `***`, so the literal
/// text between the `***`s, matched in order against `value`, leaves exactly
/// those pieces. A piece counts as a credential when it follows `user:`, `key=`
/// or the scheme (`https://TOKEN@host`); a hidden path follows a `/`.
fn secret_parts(value: &str, shown: &str) -> Vec<String> {
    let literals: Vec<&str> = shown.split(REDACTED).collect();
    let mut parts = Vec::new();
    let Some(first) = literals.first() else {
        return parts;
    };
    let Some(mut rest) = value.strip_prefix(first) else {
        return parts;
    };
    for (i, lit) in literals.iter().enumerate().skip(1) {
        let last = i == literals.len() - 1;
        let at = match last {
            // The text after the last `***` is the end of the value.
            true => rest
                .len()
                .checked_sub(lit.len())
                .filter(|&at| rest[at..] == **lit),
            false if lit.is_empty() => Some(0),
            false => rest.find(lit),
        };
        let Some(at) = at.filter(|&at| rest.is_char_boundary(at)) else {
            return parts;
        };
        let before = literals[i - 1];
        let credential = before.ends_with([':', '=']) || before.ends_with("://");
        if at > 0 && credential {
            parts.push(rest[..at].to_string());
        }
        rest = &rest[at + lit.len()..];
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_parts_are_what_the_redaction_hides() {
        let parts = |v: &str| secret_parts(v, &redact(v));
        assert_eq!(
            parts("rest:http://backup:RESTPASS@127.0.0.1:18091/repo"),
            ["RESTPASS"]
        );
        assert!(parts("https://hc.example/ping/abc-token?create=1").is_empty());
        assert_eq!(parts("https://TOKEN99@hc.example/x"), ["TOKEN99"]);
        assert_eq!(
            parts("rclone::sftp,host=h,pass=SEKRIT,key=K2:backups"),
            ["SEKRIT", "K2"]
        );
        assert!(parts("/var/backups/structr").is_empty());
    }

    #[test]
    fn scrub_redacts_whole_values_and_parts_quoted_alone() {
        let config: Config = crate::config::parse(
            "[repository]\nkind = \"restic\"\npath = \"rest:http://backup:RESTPASS@127.0.0.1:1/repo\"\n\
             [notify]\nping_url = \"http://127.0.0.1:2/ping/TOKEN123?create=1\"\n\
             webhook = \"https://hooks.example/services/HOOKSECRET\"\n",
            std::path::Path::new("c.toml"),
        )
        .unwrap();
        let text = "restic -r rest:http://backup:RESTPASS@127.0.0.1:1/repo failed; \
                    Head \"http://backup:RESTPASS@127.0.0.1:1/repo/config\"; \
                    ping http://127.0.0.1:2/ping/TOKEN123?create=1/fail; \
                    ping http://127.0.0.1:2/ping/TOKEN123/fail?create=1; \
                    the hook https://hooks.example/services/HOOKSECRET said no";
        let out = scrub(text, &config);
        for secret in ["RESTPASS", "TOKEN123", "HOOKSECRET"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(
            out.contains("rest:http://backup:***@127.0.0.1:1/repo failed"),
            "{out}"
        );
        assert!(
            out.contains("the hook https://hooks.example/*** said no"),
            "{out}"
        );
        let plain = "nothing secret in /var/backups/structr";
        assert_eq!(scrub(plain, &config), plain);
    }

    #[test]
    fn a_url_path_alone_is_left_in_ordinary_words() {
        let config: Config = crate::config::parse(
            "[notify]\nwebhook = \"https://example.org/structr-backup\"\n\
             ping_url = \"http://127.0.0.1:9000/hook\"\n",
            std::path::Path::new("c.toml"),
        )
        .unwrap();
        let text = "run `structr-backup recover`; the webhook failed";
        assert_eq!(scrub(text, &config), text);
        assert_eq!(
            scrub("POST https://example.org/structr-backup: 500", &config),
            "POST https://example.org/***: 500"
        );
    }

    #[test]
    fn a_run_location_beyond_the_config_is_scrubbed_too() {
        let s = Secrets::of(&Config::default()).with("rest:https://u:PASSWORD9@h/r");
        assert_eq!(
            s.scrub("at rest:https://u:PASSWORD9@h/r"),
            "at rest:https://u:***@h/r"
        );
        assert_eq!(s.scrub("pw PASSWORD9"), "pw ***");
    }
}
