//! The last guard before text leaves the machine: every text a notification
//! carries (an error, log lines, a warning) passes through [`scrub`], which
//! redacts every secret-bearing value the run knows, whatever message quoted it
//! (the mechanism is `secrets::Secrets`; this names what a config holds).

use crate::config::Config;
use crate::secrets::Secrets;

/// `text` with every secret of `config` (repository and off-site locations, ping
/// and webhook URLs) redacted.
pub fn scrub(text: &str, config: &Config) -> String {
    secrets_of(config).scrub(text)
}

/// The secret-bearing values `config` names; `Secrets::with` adds the run's own
/// locations (a `--repo` or `--from`).
pub fn secrets_of(config: &Config) -> Secrets {
    let mut s = Secrets::default();
    for (_, location) in config.secret_locations() {
        s.add(location.expose());
    }
    // The ping URL is also sent with its suffixes, which a message may quote.
    if let Some(url) = &config.notify.ping_url {
        for suffix in ["start", "fail"] {
            s.add(&super::http::with_suffix(url.expose(), suffix));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let s = secrets_of(&Config::default()).with(&crate::secrets::Location::new(
            "rest:https://u:PASSWORD9@h/r",
        ));
        assert_eq!(
            s.scrub("at rest:https://u:PASSWORD9@h/r"),
            "at rest:https://u:***@h/r"
        );
        assert_eq!(s.scrub("pw PASSWORD9"), "pw ***");
    }
}
