//! Nobody is surprised by a silent failure: around each monitored run (backup,
//! restore, prune, verify, drill, recover) both faces call [`watched`], which
//! calls [`Run::begin`] and [`Run::finish`].
//!
//! What is sent, given `[notify] on`:
//! - `ping_url` (healthchecks convention): `POST URL/start` at the start only when
//!   `on` has "start"; at the end *always* `POST URL` (success) or `POST URL/fail`
//!   (failure or cancelled), body: the last 100 log lines. The suffix goes at the
//!   end of the URL's path, before its query (`…/slug/fail?create=1`). The end
//!   ping does not depend on `on` because a ping service raises its alarm when
//!   pings stop: sending only failures would make every good night look like a
//!   missed run.
//! - `webhook`: `POST` of a JSON object for each event named in `on`.
//! - `email`: one mail through `sendmail` for each event named in `on`.
//! - Always, whatever `on` says: `<state dir>/last-run.json` and, when set,
//!   `metrics_file`.
//!
//! A cancelled run counts as a failure for `on`, with status "cancelled".
//! Every text sent or written (error, log lines, warnings, the repository label)
//! passes through [`scrub`]: no credential or token the run knows leaves in it.
//! A notification that cannot be delivered is a warning on stderr; it never
//! changes the run's outcome or exit code.

pub mod email;
pub mod http;
pub mod log;
pub mod metrics;
pub mod scrub;
pub mod status;

use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::secrets::Secrets;
use serde_json::json;

use crate::config::{Config, Kind, NotifyConfig, NotifyEvent};
use crate::ops::exit::Exit;
use crate::repo::manifest::Manifest;
use crate::repo::store::Store;
use crate::secrets::Location;
pub use scrub::{scrub, secrets_of};
pub use status::{read_last_run, LastRun, LastRuns, Status};

// The one way a run is monitored, for the CLI and the wizard alike: the monitors
// hear it began, then how it ended, with the exit code the CLI gives. Nothing
// here changes the run's result. A delivery's warning goes to the face's `warn`
// (a line on stderr for the CLI, the job's screen for the wizard).

/// What the monitors need to know of a failed run.
pub trait Failing {
    fn exit(&self) -> Exit;
    fn message(&self) -> &str;
}

/// What a monitored run is: its operation, the generation it names (when one),
/// and the key of the installation it runs on (when one was found).
pub struct What<'a> {
    pub operation: &'a str,
    pub id: Option<String>,
    pub installation: Option<String>,
}

/// Runs `work` as a monitored run `what`.
pub fn watched<T, F: Failing>(
    config: &Config,
    store: &Store,
    what: What,
    warn: &mut dyn FnMut(String),
    work: impl FnOnce() -> std::result::Result<T, F>,
) -> std::result::Result<T, F> {
    let (run, held) = quietly(|| Run::begin(config, &what, store));
    held.into_iter().for_each(&mut *warn);
    let result = work();
    let failure = result.as_ref().err();
    let end = Ending {
        exit: failure.map_or(Exit::Ok, Failing::exit),
        error: failure.map(Failing::message),
    };
    let ((), held) = quietly(|| run.finish(store, end));
    held.into_iter().for_each(warn);
    result
}

/// One monitored run, from its start to its end.
pub struct Run {
    config: NotifyConfig,
    operation: String,
    id: Option<String>,
    /// The installation's key: its last runs are recorded under it.
    key: Option<String>,
    host: String,
    installation: String,
    /// The repository as it may be shown (credentials redacted).
    repository: String,
    /// What must not leave in any text this run sends or writes.
    secrets: Secrets,
    started_at: DateTime<Utc>,
    started: Instant,
}

/// How a run ended: its exit (the same in the wizard and the CLI) and, for a
/// failure, what went wrong.
pub struct Ending<'a> {
    pub exit: crate::ops::exit::Exit,
    pub error: Option<&'a str>,
}

impl Run {
    /// Starts watching the run `what` and sends its "start" notifications.
    pub fn begin(config: &Config, what: &What, store: &Store) -> Self {
        log::reset();
        let location = store.location();
        let secrets = secrets_of(config).with(&location);
        let run = Run {
            config: config.notify.clone(),
            operation: what.operation.to_string(),
            id: what.id.clone(),
            key: what.installation.clone(),
            host: crate::sys::hostname(),
            installation: installation_kind(config),
            repository: secrets.scrub(&location.to_string()),
            secrets,
            started_at: Utc::now(),
            started: Instant::now(),
        };
        if run.wants(NotifyEvent::Start) {
            if let Some(url) = &run.config.ping_url {
                run.deliver("ping", url, || {
                    let target = http::with_suffix(url.expose(), "start");
                    http::post(&target, "text/plain; charset=utf-8", "")
                });
            }
            run.send_webhook(NotifyEvent::Start, None);
            run.send_email(NotifyEvent::Start, None);
        }
        run
    }

    /// Records how the run ended (status file, metrics) and sends its notifications.
    pub fn finish(self, store: &Store, end: Ending) {
        let status = match end.exit {
            crate::ops::exit::Exit::Ok => Status::Success,
            crate::ops::exit::Exit::Cancelled => Status::Cancelled,
            _ => Status::Failure,
        };
        let exit_code = i32::from(end.exit.code());
        let error = end.error.map(|e| self.secrets.scrub(e));
        if let Some(e) = &error {
            log::line(&format!("error: {e}"));
        }
        let listed = store.list().ok().map(|(manifests, _)| manifests);
        // A backup that wrote its generation and then failed (a service that did
        // not come back) still reports what it wrote.
        let written = match (self.operation.as_str(), &listed) {
            ("backup", Some(ms)) => self.written_by_this_run(ms),
            _ => None,
        };
        let finished_at = Utc::now();
        let result = Result {
            status,
            exit_code,
            error,
            id: written.map(|m| m.id.clone()).or_else(|| self.id.clone()),
            duration_secs: self.started.elapsed().as_secs_f64(),
            downtime_secs: written
                .map(|m| m.timings.downtime_secs)
                .unwrap_or_else(|| log::downtime().as_secs_f64()),
            bytes: written.map(Manifest::total_bytes),
        };
        let last = LastRun {
            operation: self.operation.clone(),
            id: result.id.clone(),
            status,
            exit_code,
            started_at: self.started_at,
            finished_at,
            duration_secs: result.duration_secs,
            downtime_secs: result.downtime_secs,
            error: result.error.clone(),
            installation: self.key.clone(),
        };
        if let Err(e) = status::write_last_run(&last) {
            self.warn(&format!("the run status could not be recorded: {e}"));
        }
        if let Some(path) = &self.config.metrics_file {
            let update = metrics::Update {
                repository: &self.repository,
                operation: &self.operation,
                status,
                exit_code,
                finished_unix: finished_at.timestamp(),
                duration_secs: result.duration_secs,
                downtime_secs: result.downtime_secs,
                backup: written.map(|m| (m.total_bytes(), m.total_archive_size())),
                repository_stats: listed.as_ref().map(|ms| {
                    (
                        ms.len() as u64,
                        ms.iter().map(Manifest::total_archive_size).sum(),
                    )
                }),
            };
            if let Err(e) = metrics::write(path, &update) {
                self.warn(&format!("the metrics file could not be written: {e}"));
            }
        }
        let event = match status {
            Status::Success => NotifyEvent::Success,
            _ => NotifyEvent::Failure,
        };
        if let Some(url) = &self.config.ping_url {
            let suffix = match status {
                Status::Success => "",
                _ => "fail",
            };
            let body = self.secrets.scrub(&log::last_lines());
            self.deliver("ping", url, || {
                let target = http::with_suffix(url.expose(), suffix);
                http::post(&target, "text/plain; charset=utf-8", &body)
            });
        }
        if self.wants(event) {
            self.send_webhook(event, Some(&result));
            self.send_email(event, Some(&result));
        }
    }

    fn wants(&self, event: NotifyEvent) -> bool {
        self.config.on.contains(&event)
    }

    /// The generation this backup published: the newest, made after the run began.
    fn written_by_this_run<'m>(&self, manifests: &'m [Manifest]) -> Option<&'m Manifest> {
        let since = self.started_at - chrono::Duration::seconds(1);
        manifests
            .iter()
            .filter(|m| m.created_at >= since)
            .max_by_key(|m| m.created_at)
    }

    fn send_webhook(&self, event: NotifyEvent, result: Option<&Result>) {
        let Some(url) = &self.config.webhook else {
            return;
        };
        let body = json!({
            "event": event.to_string(),
            "host": self.host,
            "installation": self.installation,
            "operation": self.operation,
            "id": result.map_or(self.id.clone(), |r| r.id.clone()),
            "status": result.map_or("running".to_string(), |r| r.status.to_string()),
            "exit_code": result.map(|r| r.exit_code),
            "downtime_secs": result.map(|r| r.downtime_secs),
            "duration_secs": result.map(|r| r.duration_secs),
            "bytes": result.and_then(|r| r.bytes),
            "error": result.and_then(|r| r.error.clone()),
        });
        self.deliver("webhook", url, || {
            http::post(url.expose(), "application/json", &body.to_string())
        });
    }

    fn send_email(&self, event: NotifyEvent, result: Option<&Result>) {
        let Some(to) = &self.config.email else {
            return;
        };
        let outcome = match result.map(|r| r.status) {
            None => "started",
            Some(Status::Success) => "succeeded",
            Some(Status::Failure) => "FAILED",
            Some(Status::Cancelled) => "was cancelled",
        };
        let subject = format!(
            "structr-backup on {}: {} {outcome}",
            self.host, self.operation
        );
        let mut body = format!(
            "{} on {} ({} installation) {outcome}, started {}.\n",
            self.operation,
            self.host,
            self.installation,
            self.started_at
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S %Z")
        );
        if let Some(r) = result {
            body.push_str(&format!(
                "exit code {}, took {:.1} s, services down {:.1} s{}\n",
                r.exit_code,
                r.duration_secs,
                r.downtime_secs,
                r.id.as_ref()
                    .map(|id| format!(", generation {id}"))
                    .unwrap_or_default()
            ));
            if let Some(e) = &r.error {
                body.push_str(&format!("error: {e}\n"));
            }
        }
        body.push_str(&format!(
            "\nThe last {} log lines:\n\n{}",
            log::KEEP,
            log::last_lines()
        ));
        let body = self.secrets.scrub(&body);
        let sendmail = &self.config.sendmail;
        if let Err(e) = email::send(sendmail, to, &subject, &body) {
            self.warn(&format!(
                "the {event} mail to {to} was not sent: {e}; the run's outcome is unchanged"
            ));
        }
    }

    /// Runs one delivery; a failure is a warning naming the channel and the URL
    /// without its secret path.
    fn deliver(
        &self,
        what: &str,
        url: &Location,
        send: impl FnOnce() -> std::result::Result<(), String>,
    ) {
        if let Err(e) = send() {
            self.warn(&format!(
                "the {what} to {} failed: {e}; check the URL and that the host is reachable \
                 (the run's outcome is unchanged)",
                http::shown(url)
            ));
        }
    }

    fn warn(&self, text: &str) {
        warn(&self.secrets.scrub(text));
    }
}

/// The end of a run, as the notifications tell it.
struct Result {
    status: Status,
    exit_code: i32,
    error: Option<String>,
    id: Option<String>,
    duration_secs: f64,
    downtime_secs: f64,
    bytes: Option<u64>,
}

/// The configured kind, or the detected one when the config says "auto".
fn installation_kind(config: &Config) -> String {
    match config.installation.kind {
        Kind::Auto if config.notify.webhook.is_some() || config.notify.email.is_some() => {
            crate::install::detect::detect(config)
                .map(|i| i.kind.to_string())
                .unwrap_or_else(|_| Kind::Auto.to_string())
        }
        kind => kind.to_string(),
    }
}

thread_local! {
    /// Warnings held for the caller instead of printed (see `quietly`).
    static HELD: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with the warnings of notifications sent on this thread handed back
/// instead of printed: the wizard shows them on its screen, where a line on
/// stderr would tear the picture.
pub fn quietly<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    let before = HELD.with(|h| h.borrow_mut().replace(Vec::new()));
    let r = f();
    let held = HELD.with(|h| std::mem::replace(&mut *h.borrow_mut(), before));
    (r, held.unwrap_or_default())
}

fn warn(text: &str) {
    let held = HELD.with(|h| match h.borrow_mut().as_mut() {
        Some(v) => {
            v.push(format!("notify: {text}"));
            true
        }
        None => false,
    });
    if !held {
        crate::errln!("warning: notify: {text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_can_be_held_for_the_caller() {
        let ((), held) = quietly(|| warn("the ping to http://x failed"));
        assert_eq!(held, ["notify: the ping to http://x failed"]);
        let ((), none) = quietly(|| {});
        assert!(none.is_empty());
    }

    #[test]
    fn the_suffix_goes_at_the_end_of_the_path_before_the_query() {
        for (url, suffix, want) in [
            (
                "https://hc.example/p/u",
                "fail",
                "https://hc.example/p/u/fail",
            ),
            (
                "https://hc.example/p/u/",
                "start",
                "https://hc.example/p/u/start",
            ),
            ("https://hc.example/p/u/", "", "https://hc.example/p/u"),
            (
                "https://hc.example/ping/KEY/slug?create=1",
                "fail",
                "https://hc.example/ping/KEY/slug/fail?create=1",
            ),
            (
                "http://127.0.0.1:9/SECRET/?token=Q&x=1",
                "start",
                "http://127.0.0.1:9/SECRET/start?token=Q&x=1",
            ),
            (
                "https://hc.example/u?create=1",
                "",
                "https://hc.example/u?create=1",
            ),
            (
                "https://hc.example/u#top",
                "fail",
                "https://hc.example/u/fail#top",
            ),
            (
                "https://hc.example?x=1",
                "fail",
                "https://hc.example/fail?x=1",
            ),
        ] {
            assert_eq!(http::with_suffix(url, suffix), want, "{url} + {suffix:?}");
        }
    }
}
