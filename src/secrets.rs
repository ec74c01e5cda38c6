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
        if !self.carries_secret() {
            return text.to_string();
        }
        let mut out = text.replace(&self.0, &self.redacted());
        for part in secret_parts(&self.0) {
            out = out.replace(&part, REDACTED);
        }
        out
    }
}

/// `text` with the secrets of every one of `locations` taken out.
pub fn scrub_all<'a>(text: &str, locations: impl IntoIterator<Item = &'a Location>) -> String {
    locations
        .into_iter()
        .fold(text.to_string(), |t, l| l.scrub(&t))
}

/// The parts of `value` that [`redact`] hides, each long enough to search for.
fn secret_parts(value: &str) -> Vec<String> {
    let (prefix, rest) = split_backend(value);
    let mut parts = Vec::new();
    let options = |text: &str| -> Vec<String> {
        text.split([',', '&', ':'])
            .filter_map(|opt| opt.split_once('='))
            .filter(|(k, _)| is_secret_key(k))
            .map(|(_, v)| v.to_string())
            .collect()
    };
    match rest.split_once("://") {
        Some((_, after)) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            let (authority, tail) = after.split_at(end);
            if let Some((userinfo, _)) = authority.rsplit_once('@') {
                parts.push(
                    userinfo
                        .split_once(':')
                        .map_or(userinfo, |(_, p)| p)
                        .to_string(),
                );
            }
            if prefix.is_empty() {
                // Every piece of a ping or webhook URL's path and query may be its token.
                // Short pieces (`ping`, `create`) would blank out ordinary words.
                parts.extend(
                    tail.split(['/', '?', '&', '=', '#'])
                        .filter(|p| p.len() >= 8)
                        .map(str::to_string),
                );
            } else if let Some((_, query)) = tail.split_once('?') {
                parts.extend(options(query));
            }
        }
        None => parts.extend(options(rest)),
    }
    parts.retain(|p| p.len() >= 4);
    parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
    parts
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
    fn scrub_takes_secrets_out_of_free_text() {
        let l = Location::new("rest:http://backup:RESTPASS@127.0.0.1:18091/repo");
        assert_eq!(
            l.scrub("Fatal: unable to open rest:http://backup:RESTPASS@127.0.0.1:18091/repo: 401; pw RESTPASS"),
            "Fatal: unable to open rest:http://backup:***@127.0.0.1:18091/repo: 401; pw ***"
        );
        let ping = Location::new("https://hc.example/ping/0f1e2d3c-secret?create=1");
        assert_eq!(
            ping.scrub("POST https://hc.example/ping/0f1e2d3c-secret/fail?create=1 failed"),
            "POST https://hc.example/ping/***/fail?create=1 failed"
        );
        let plain = Location::new("/var/backups/structr");
        assert_eq!(
            plain.scrub("no folder /var/backups/structr"),
            "no folder /var/backups/structr"
        );
        assert_eq!(
            scrub_all(
                "a SEKRIT1 b",
                [&Location::new("rclone::sftp,pass=SEKRIT1:x")]
            ),
            "a *** b"
        );
    }

    #[test]
    fn secrets_never_show() {
        let s = Secret::new("hunter2");
        assert_eq!(s.to_string(), "***");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }
}
