//! Pings and webhooks over HTTP(S): one POST each, 10 s at most, errors as text
//! that never shows the URL's path (ping URLs carry their secret there).

use std::time::Duration;

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// POSTs `body` to `url`; an HTTP status of 400 or more counts as a failure.
pub fn post(url: &str, content_type: &str, body: &str) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(true)
        .user_agent(concat!("structr-backup/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    match agent
        .post(url)
        .header("Content-Type", content_type)
        .send(body)
    {
        Ok(_) => Ok(()),
        // The error text may quote the URL: show it redacted.
        Err(e) => Err(e.to_string().replace(url, &redact(url))),
    }
}

/// Where a notification went, for a warning: see [`redact`].
pub fn shown(url: &crate::secrets::Location) -> String {
    redact(url.expose())
}

/// `scheme://host[:port]/…`: where a message went, without the path, query or
/// user info that may hold a token.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("?", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    format!("{scheme}://{host}/…")
}

/// `url` with `/suffix` at the end of its path, before any query or fragment
/// (healthchecks' `/start` and `/fail`: `…/slug?create=1` becomes
/// `…/slug/fail?create=1`; appended to the whole URL, the suffix would land in
/// the query, and the service would count a failure as a success). An empty
/// suffix gives the URL itself, without a slash at the end of its path.
pub fn with_suffix(url: &str, suffix: &str) -> String {
    let path_from = url.find("://").map_or(0, |i| i + 3);
    let end = url[path_from..]
        .find(['?', '#'])
        .map_or(url.len(), |i| path_from + i);
    let (path, rest) = url.split_at(end);
    let path = path.trim_end_matches('/');
    match suffix.is_empty() {
        true => format!("{path}{rest}"),
        false => format!("{path}/{suffix}{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_keeps_scheme_and_host_only() {
        assert_eq!(
            redact("https://hc.example/ping/0f1e-secret"),
            "https://hc.example/…"
        );
        assert_eq!(
            redact("http://user:pw@127.0.0.1:9000/hook?token=x"),
            "http://127.0.0.1:9000/…"
        );
        assert_eq!(redact("https://hc.example"), "https://hc.example/…");
    }
}
