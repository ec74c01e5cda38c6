//! Values that carry a secret, typed so that showing them cannot leak it.
//!
//! A [`Location`] is where a repository, an off-site target or a notification
//! goes: a folder, a restic backend string (`rest:http://user:PASS@host/repo`),
//! an rclone remote (`rclone::sftp,pass=X:path`), a ping URL whose path is its
//! token. Its `Display` and `Debug` show it redacted; only [`Location::expose`]
//! hands out the real value, and it is meant for a child's environment or an HTTP
//! request, never for a message. A [`Secret`] is a password: it never shows at all.
//!
//! Depends on nothing of ours: every layer may use it.

use std::fmt;

/// What stands where a secret was.
pub const REDACTED: &str = "***";

/// A place that may carry credentials or a token (repository, remote, URL).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Location(String);

impl Location {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value, credentials and all: for a child's environment or the one
    /// request that needs it. Never for a message, a log line or a file we write.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value as it may be shown anywhere: see [`redact`].
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }

    /// Whether the redacted form differs from the value (it carries a secret).
    pub fn carries_secret(&self) -> bool {
        self.redacted() != self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` (a program's message, an error) with this location's secrets taken
    /// out: the whole value as its redacted form, then each secret part alone,
    /// wherever the program quoted it.
    pub fn scrub(&self, text: &str) -> String {
        Secrets::default().with(self).scrub(text)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({:?})", self.redacted())
    }
}

/// Serialized as shown: redacted (JSON output, manifests and status files are read by others).
impl serde::Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

impl From<&str> for Location {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Location {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// A password or token: shown as `***` by `Display` and `Debug` alike.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one header, file or environment entry that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Credentials shorter than this are left alone when they stand on their own
/// (the whole value is still redacted wherever it appears): replacing every
/// "pw" in a message would make it unreadable and hide next to nothing.
const MIN_FRAGMENT: usize = 6;

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
    /// Adds a secret-bearing location.
    pub fn with(mut self, location: &Location) -> Self {
        self.add(location.expose());
        self
    }

    /// Adds a secret-bearing value given as written.
    pub fn add(&mut self, value: &str) {
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

/// A command line as it may be shown and recorded (a snapshot tool's argv may
/// carry a token): the value of a `--token X` / `--password=X` style flag, of a
/// secret-looking `key=value`, and any long opaque word (an API key) become `***`.
/// Returns the shown line and the hidden values, to scrub from what the
/// program printed.
pub fn redact_argv(argv: &[String]) -> (String, Vec<String>) {
    let mut shown = Vec::with_capacity(argv.len());
    let mut hidden = Vec::new();
    let mut after_secret_flag = false;
    for (i, arg) in argv.iter().enumerate() {
        let flag = arg.trim_start_matches('-');
        let is_flag = arg.starts_with('-') && !flag.is_empty();
        let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
        let word = if i == 0 {
            arg.clone()
        } else if after_secret_flag {
            hidden.push(arg.clone());
            REDACTED.to_string()
        } else if !value.is_empty() && secret_flag(name) {
            hidden.push(value.to_string());
            format!("{}={REDACTED}", &arg[..arg.len() - value.len() - 1])
        } else if !is_flag && looks_like_a_key(arg) {
            hidden.push(arg.clone());
            REDACTED.to_string()
        } else {
            redact_options(arg)
        };
        after_secret_flag = is_flag && value.is_empty() && secret_flag(name);
        shown.push(word);
    }
    hidden.retain(|h| !h.is_empty());
    (shell_words::join(shown), hidden)
}

/// A flag or option name that names a secret (`--token`, `--api-key`, `password`).
fn secret_flag(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace('-', "_");
    is_secret_key(&n) || n.contains("token") || n.contains("password") || n.contains("secret")
}

/// A long word of letters, digits and `-_` with no path in it: how API keys and
/// tokens look (a generation id, 16 characters, is shorter).
fn looks_like_a_key(arg: &str) -> bool {
    arg.len() >= 24
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '='))
        && arg.chars().any(|c| c.is_ascii_digit())
        && arg.chars().any(|c| c.is_ascii_alphabetic())
}

/// Option names in rclone connection strings and URL queries whose value is a secret.
const SECRET_KEYS: &[&str] = &[
    "pass",
    "password",
    "secret",
    "token",
    "key",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "client_secret",
    "sas_url",
    "account_key",
    "auth",
    "apikey",
    "api_key",
    "sig",
    "signature",
];

/// `value` with every secret part replaced by `***`:
/// - the password of a URL's user info (`http://user:***@host/…`);
/// - an HTTP(S) URL's path, query and fragment when it has any (`https://host/***`:
///   ping and webhook URLs carry their token there). A restic `rest:` URL keeps
///   its path (the repository's name), only its password goes;
/// - the value of a secret-looking option (`pass=`, `key=`, `token=` …) in an
///   rclone connection string (`:sftp,pass=X:`) or a query string.
///
/// Folders and remotes without such parts come back unchanged.
pub fn redact(value: &str) -> String {
    let (prefix, rest) = split_backend(value);
    let url_like = rest.contains("://");
    let mut out = String::with_capacity(value.len());
    out.push_str(prefix);
    if url_like {
        let keep_path = !prefix.is_empty();
        out.push_str(&redact_url(rest, keep_path));
    } else {
        out.push_str(&redact_options(rest));
    }
    out
}

/// Splits a restic/rclone backend prefix (`rest:`, `s3:`, `rclone:` …) off a URL.
fn split_backend(value: &str) -> (&str, &str) {
    for p in [
        "rest:", "s3:", "swift:", "b2:", "azure:", "gs:", "sftp:", "rclone:", "local:",
    ] {
        if let Some(rest) = value.strip_prefix(p) {
            return (&value[..p.len()], rest);
        }
    }
    ("", value)
}

fn redact_url(url: &str, keep_path: bool) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return redact_options(url);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:{REDACTED}@{host}"),
            // A user name alone may be a token (`https://TOKEN@host`).
            None => format!("{REDACTED}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = if keep_path {
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{}", redact_options(query))
        }
    } else if tail.is_empty() || tail == "/" {
        tail.to_string()
    } else {
        format!("/{REDACTED}")
    };
    format!("{scheme}://{authority}{tail}")
}

/// Replaces the values of secret-looking `key=value` options, separated by `,`,
/// `&` or `:` (rclone connection strings, query strings).
fn redact_options(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find([',', '&', ':']).unwrap_or(rest.len());
        let (part, tail) = rest.split_at(end);
        match part.split_once('=') {
            Some((k, _)) if is_secret_key(k) => {
                out.push_str(k);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(part),
        }
        let mut chars = tail.chars();
        if let Some(sep) = chars.next() {
            out.push(sep);
        }
        rest = chars.as_str();
    }
    out
}

fn is_secret_key(key: &str) -> bool {
    let key = key
        .trim()
        .trim_start_matches(['-', '_'])
        .to_ascii_lowercase();
    SECRET_KEYS
        .iter()
        .any(|s| key == *s || key.ends_with(&format!("_{s}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_urls_lose_their_password_and_keep_the_rest() {
        let l = Location::new("rest:http://backup:RESTPASS@127.0.0.1:18091/repo");
        assert_eq!(l.to_string(), "rest:http://backup:***@127.0.0.1:18091/repo");
        assert!(!format!("{l:?}").contains("RESTPASS"));
        assert_eq!(
            l.expose(),
            "rest:http://backup:RESTPASS@127.0.0.1:18091/repo"
        );
        assert!(l.carries_secret());
    }

    #[test]
    fn ping_urls_lose_their_path_and_query() {
        assert_eq!(
            redact("https://hc.example/ping/0f1e-secret?create=1"),
            "https://hc.example/***"
        );
        assert_eq!(
            redact("http://user:pw@127.0.0.1:9000/hook?token=x"),
            "http://user:***@127.0.0.1:9000/***"
        );
        assert_eq!(redact("https://TOKEN@hc.example"), "https://***@hc.example");
        assert_eq!(redact("https://hc.example"), "https://hc.example");
    }

    #[test]
    fn rclone_connection_strings_lose_secret_options() {
        assert_eq!(
            redact("rclone::sftp,host=h,user=u,pass=SEKRIT:backups"),
            "rclone::sftp,host=h,user=u,pass=***:backups"
        );
        assert_eq!(redact("rclone:office:structr"), "rclone:office:structr");
        assert_eq!(
            redact("rest:https://h/repo?x=1&token=T"),
            "rest:https://h/repo?x=1&token=***"
        );
    }

    #[test]
    fn plain_folders_and_backends_without_secrets_stay() {
        for v in [
            "/var/backups/structr",
            "sftp:backup@host:/srv/restic",
            "s3:http://127.0.0.1:3900/bucket",
            "local:/srv/x",
        ] {
            assert_eq!(redact(v), v);
            assert!(!Location::new(v).carries_secret());
        }
    }

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
    fn a_location_scrubs_itself_and_its_password_from_free_text() {
        let l = Location::new("rest:https://u:PASSWORD9@h/r");
        assert_eq!(
            l.scrub("at rest:https://u:PASSWORD9@h/r"),
            "at rest:https://u:***@h/r"
        );
        assert_eq!(l.scrub("pw PASSWORD9"), "pw ***");
        let plain = Location::new("/var/backups/structr");
        assert_eq!(
            plain.scrub("no folder /var/backups/structr"),
            "no folder /var/backups/structr"
        );
    }

    #[test]
    fn command_lines_lose_their_tokens() {
        let argv: Vec<String> = [
            "snap-tool",
            "--token",
            "T0K3N",
            "--api-key=K3Y",
            "create",
            "sb-{name}",
            "pass=PW1",
            "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (shown, hidden) = redact_argv(&argv);
        assert_eq!(
            shown,
            "snap-tool --token '***' '--api-key=***' create sb-{name} 'pass=***' '***'"
        );
        assert_eq!(
            hidden,
            ["T0K3N", "K3Y", "PW1", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"]
        );
        let (plain, none) =
            redact_argv(&["vm-snap".into(), "create".into(), "20261124T031500Z".into()]);
        assert_eq!(plain, "vm-snap create 20261124T031500Z");
        assert!(none.is_empty());
    }

    #[test]
    fn secrets_never_show() {
        let s = Secret::new("hunter2");
        assert_eq!(s.to_string(), "***");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }
}
