//! Notifications and metrics around real runs of the binary: a loopback HTTP server
//! receives the pings and webhooks, a stand-in `sendmail` records its mail, and the
//! metrics file is read with a Prometheus text-format parser.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::{text, Options, Sandbox};
use structr_backup::notify::{read_last_run, Status};

/// `last-run.json` is one file per host (the state folder): runs of this suite
/// must not overlap, or one test would read another's status.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Clone, Debug)]
struct Request {
    method: String,
    path: String,
    body: String,
}

/// An HTTP server on 127.0.0.1 that answers 200 to everything and records requests.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).unwrap();
                let mut length = 0usize;
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap();
                        }
                    }
                }
                let mut body = vec![0u8; length];
                reader.read_exact(&mut body).unwrap();
                let mut parts = first.split_whitespace();
                record.lock().unwrap().push(Request {
                    method: parts.next().unwrap_or("").into(),
                    path: parts.next().unwrap_or("").into(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Server { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

/// A flag-service sandbox with a little data, its services running.
fn sandbox(opts: Options) -> Sandbox {
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..opts
    });
    std::fs::create_dir_all(sb.structr_dir.join("files")).unwrap();
    std::fs::write(sb.structr_dir.join("structr.conf"), "a = b\n").unwrap();
    std::fs::create_dir_all(sb.neo4j_data.join("databases/neo4j")).unwrap();
    std::fs::write(sb.neo4j_data.join("databases/neo4j/store"), vec![7u8; 4096]).unwrap();
    sb.start();
    sb
}

/// Appends a [notify] section to the sandbox's config.
fn notify(sb: &Sandbox, section: &str) {
    let mut text = std::fs::read_to_string(&sb.config).unwrap();
    text.push_str(&format!("\n[notify]\n{section}\n"));
    std::fs::write(&sb.config, text).unwrap();
}

fn toml_str(p: &Path) -> String {
    toml::Value::String(p.display().to_string()).to_string()
}

/// The metrics file's samples as (name, labels, value).
fn metrics(path: &Path) -> Vec<prometheus_parse::Sample> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines).unwrap().samples
}

fn gauge(samples: &[prometheus_parse::Sample], name: &str, operation: Option<&str>) -> f64 {
    let s = samples
        .iter()
        .find(|s| {
            s.metric == name && operation.is_none_or(|op| s.labels.get("operation") == Some(op))
        })
        .unwrap_or_else(|| panic!("no sample {name} {operation:?} in {samples:?}"));
    match s.value {
        prometheus_parse::Value::Gauge(v) => v,
        ref other => panic!("{name} is not a gauge: {other:?}"),
    }
}

fn webhook_json(r: &Request) -> serde_json::Value {
    assert_eq!(r.method, "POST");
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "bytes",
            "downtime_secs",
            "duration_secs",
            "error",
            "event",
            "exit_code",
            "host",
            "id",
            "installation",
            "operation",
            "status"
        ]
    );
    v
}

#[test]
fn a_good_backup_pings_start_then_success_posts_webhooks_and_writes_metrics() {
    let _serial = serial();
    let server = Server::start();
    let sb = sandbox(Options::default());
    let prom = sb.dir.path().join("metrics/structr_backup.prom");
    std::fs::create_dir_all(prom.parent().unwrap()).unwrap();
    notify(
        &sb,
        &format!(
            "on = [\"start\", \"success\", \"failure\"]\nping_url = \"{}\"\nwebhook = \"{}\"\nmetrics_file = {}",
            server.url("/ping/secret-uuid"),
            server.url("/hook"),
            toml_str(&prom)
        ),
    );
    let before = chrono::Utc::now();
    let (id, _) = sb.backup_ok(&[]);

    let reqs = server.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/ping/secret-uuid/start",
            "/hook",
            "/ping/secret-uuid",
            "/hook"
        ],
        "{reqs:?}"
    );
    assert!(reqs.iter().all(|r| r.method == "POST"), "{reqs:?}");
    assert!(
        reqs[2].body.contains("done: stop neo4j"),
        "{}",
        reqs[2].body
    );

    let start = webhook_json(&reqs[1]);
    assert_eq!(start["event"], "start");
    assert_eq!(start["operation"], "backup");
    assert_eq!(start["installation"], "custom");
    assert_eq!(start["status"], "running");
    let end = webhook_json(&reqs[3]);
    assert_eq!(end["event"], "success");
    assert_eq!(end["status"], "success");
    assert_eq!(end["exit_code"], 0);
    assert_eq!(end["id"], id.as_str());
    assert!(end["error"].is_null());
    let show: serde_json::Value =
        serde_json::from_slice(&sb.cli(&["show", &id, "--json"]).stdout).unwrap();
    let bytes: u64 = show["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bytes"].as_u64().unwrap())
        .sum();
    assert!(bytes >= 4096);
    assert_eq!(end["bytes"], bytes);
    assert_eq!(end["downtime_secs"], show["timings"]["downtime_secs"]);
    assert!(end["duration_secs"].as_f64().unwrap() > 0.0);

    let samples = metrics(&prom);
    let ok = gauge(
        &samples,
        "structr_backup_last_success_timestamp_seconds",
        Some("backup"),
    );
    assert!(ok >= before.timestamp() as f64, "{ok}");
    assert_eq!(
        gauge(&samples, "structr_backup_last_exit_code", Some("backup")),
        0.0
    );
    assert_eq!(
        gauge(&samples, "structr_backup_last_backup_bytes", None),
        bytes as f64
    );
    assert_eq!(gauge(&samples, "structr_backup_generations", None), 1.0);
    assert!(gauge(&samples, "structr_backup_repository_bytes", None) > 0.0);
    let repo_label = samples[0].labels.get("repository").unwrap().to_string();
    assert_eq!(repo_label, sb.repo.display().to_string());
    let file = std::fs::read_to_string(&prom).unwrap();
    assert!(
        file.contains("# TYPE structr_backup_generations gauge"),
        "{file}"
    );
    assert!(
        file.contains("# HELP structr_backup_last_duration_seconds "),
        "{file}"
    );

    let last = read_last_run().expect("last-run.json");
    assert_eq!(last.operation, "backup");
    assert_eq!(last.status, Status::Success);
    assert_eq!(last.id.as_deref(), Some(id.as_str()));
    assert_eq!(last.exit_code, 0);
    assert!(last.started_at >= before && last.finished_at >= last.started_at);
}

#[test]
fn a_failing_backup_pings_fail_with_its_log_and_keeps_the_last_success() {
    let _serial = serial();
    let server = Server::start();
    let mut sb = sandbox(Options::default());
    let prom = sb.dir.path().join("backup.prom");
    let section = format!(
        "ping_url = \"{}\"\nwebhook = \"{}\"\nmetrics_file = {}",
        server.url("/ping/u"),
        server.url("/hook"),
        toml_str(&prom)
    );
    // First a good backup (default `on`: failures only, so the ping alone hears of it).
    notify(&sb, &section);
    sb.backup_ok(&[]);
    let good = gauge(
        &metrics(&prom),
        "structr_backup_last_success_timestamp_seconds",
        Some("backup"),
    );
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/ping/u"]);

    // Then Neo4j refuses to stop.
    sb.opts.neo4j_commands = Some([
        sb.ctl("start", "neo4j"),
        "false".into(),
        sb.ctl("status", "neo4j"),
    ]);
    sb.write_config();
    notify(&sb, &section);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let reqs = server.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/ping/u", "/ping/u/fail", "/hook"], "{reqs:?}");
    let body = &reqs[1].body;
    assert!(body.contains("FAILED: stop neo4j"), "{body}");
    assert!(body.contains("error: "), "{body}");
    assert!(
        body.lines().all(|l| l.starts_with('[')),
        "timestamped lines: {body}"
    );
    let hook = webhook_json(&reqs[2]);
    assert_eq!(hook["event"], "failure");
    assert_eq!(hook["status"], "failure");
    assert_eq!(hook["exit_code"], 1);
    assert!(hook["id"].is_null() && hook["bytes"].is_null());
    assert!(hook["error"].as_str().unwrap().contains("neo4j"), "{hook}");

    let samples = metrics(&prom);
    assert_eq!(
        gauge(
            &samples,
            "structr_backup_last_success_timestamp_seconds",
            Some("backup")
        ),
        good,
        "a failure keeps the last success"
    );
    assert!(
        gauge(
            &samples,
            "structr_backup_last_failure_timestamp_seconds",
            Some("backup")
        ) > good
    );
    assert_eq!(
        gauge(&samples, "structr_backup_last_exit_code", Some("backup")),
        1.0
    );
    assert_eq!(gauge(&samples, "structr_backup_generations", None), 1.0);

    let last = read_last_run().expect("last-run.json");
    assert_eq!(
        (last.operation.as_str(), last.status, last.exit_code),
        ("backup", Status::Failure, 1)
    );
    assert!(last.error.unwrap().contains("neo4j"));
}

#[test]
fn mail_goes_through_sendmail_with_host_operation_and_outcome() {
    let _serial = serial();
    let sb = sandbox(Options::default());
    let dir = sb.dir.path();
    let script = dir.join("sendmail");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {args}\ncat > {mail}\n",
            args = dir.join("argv").display(),
            mail = dir.join("mail").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    notify(
        &sb,
        &format!(
            "on = [\"success\"]\nemail = \"root, ops@example.org\"\nsendmail = {}",
            toml_str(&script)
        ),
    );
    // A failure (verify before any backup made the repository: exit 10, no
    // repository) is not in `on`.
    let out = sb.cli(&["verify", "--all"]);
    assert_eq!(out.status.code(), Some(10), "{}", text(&out));
    assert!(!dir.join("mail").exists(), "only successes were asked for");
    assert_eq!(read_last_run().unwrap().operation, "verify");

    sb.backup_ok(&[]);
    let argv = std::fs::read_to_string(dir.join("argv")).unwrap();
    assert_eq!(argv, "-oi\n--\nroot\nops@example.org\n");
    let mail = std::fs::read_to_string(dir.join("mail")).unwrap();
    let host = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(mail.contains("To: root, ops@example.org\n"), "{mail}");
    assert!(
        mail.contains(&format!(
            "Subject: structr-backup on {host}: backup succeeded\n"
        )),
        "{mail}"
    );
    assert!(mail.contains("done: write manifest, checksums"), "{mail}");
}

#[test]
fn an_unreachable_webhook_is_a_warning_and_the_backup_still_exits_0() {
    let _serial = serial();
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sb = sandbox(Options::default());
    notify(
        &sb,
        &format!("on = [\"start\", \"success\"]\nwebhook = \"http://127.0.0.1:{closed}/secret-token/hook\""),
    );
    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "warning: notify: the webhook to http://127.0.0.1:{closed}/…"
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("secret-token"),
        "the URL's path is not logged: {stderr}"
    );
    assert_eq!(sb.generations().len(), 1);
    assert_eq!(read_last_run().unwrap().status, Status::Success);
}

#[test]
fn restore_prune_and_a_dry_run_are_reported_as_such() {
    let _serial = serial();
    let server = Server::start();
    let sb = sandbox(Options::default());
    notify(
        &sb,
        &format!("on = [\"success\"]\nwebhook = \"{}\"", server.url("/hook")),
    );
    let (id, _) = sb.backup_ok(&[]);
    let out = sb.cli(&["--yes", "restore", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let out = sb.cli(&["prune", "--dry-run", "--keep-last", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = sb.cli(&["--yes", "prune", "--keep-last", "1"]);
    assert!(out.status.success(), "{}", text(&out));

    let hooks: Vec<serde_json::Value> = server.requests().iter().map(webhook_json).collect();
    let ops: Vec<&str> = hooks
        .iter()
        .map(|h| h["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        ["backup", "restore", "prune"],
        "no run for a dry run: {hooks:?}"
    );
    assert_eq!(hooks[1]["id"], id.as_str());
    assert!(
        hooks[1]["downtime_secs"].as_f64().unwrap() > 0.0,
        "{}",
        hooks[1]
    );
    assert!(hooks[2]["id"].is_null());
    assert_eq!(read_last_run().unwrap().operation, "prune");
}

/// healthchecks' own `…/slug?create=1` form: the suffix belongs at the end of the
/// path. Appended to the whole URL it lands in the query, and the service counts
/// every start and failure as a success.
#[test]
fn a_ping_url_with_a_query_gets_its_suffix_before_the_query() {
    let _serial = serial();
    let server = Server::start();
    let mut sb = sandbox(Options::default());
    sb.opts.neo4j_commands = Some([
        sb.ctl("start", "neo4j"),
        "false".into(),
        sb.ctl("status", "neo4j"),
    ]);
    sb.write_config();
    notify(
        &sb,
        &format!(
            "on = [\"start\", \"failure\"]\nping_url = \"{}\"",
            server.url("/ping/abc?create=1")
        ),
    );
    let out = sb.cli(&["backup"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/ping/abc/start?create=1", "/ping/abc/fail?create=1"],
        "{}",
        text(&out)
    );
}

/// A file's text, or "" when it is not there.
fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Every channel at once, with tokens in the ping and webhook URLs: the ping
/// and webhook go to `server`, mail to a stand-in sendmail. Returns the metrics
/// file and the mail file.
fn notify_everywhere(sb: &Sandbox, server: &Server) -> (std::path::PathBuf, std::path::PathBuf) {
    let prom = sb.dir.path().join("backup.prom");
    let mail = sb.dir.path().join("mail");
    let sendmail = sb.dir.path().join("sendmail");
    std::fs::write(&sendmail, format!("#!/bin/sh\ncat >> {}\n", mail.display())).unwrap();
    std::fs::set_permissions(
        &sendmail,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    notify(
        sb,
        &format!(
            "on = [\"start\", \"success\", \"failure\"]\nping_url = \"{}\"\nwebhook = \"{}\"\n\
             metrics_file = {}\nemail = \"root\"\nsendmail = {}",
            server.url("/ping/PINGTOKEN?create=1"),
            server.url("/hook/HOOKTOKEN"),
            toml_str(&prom),
            toml_str(&sendmail)
        ),
    );
    (prom, mail)
}

/// A failing run with a restic REST URL with credentials, a ping URL with a token
/// and a webhook with one: no channel carries any of the three secrets.
#[test]
fn no_secret_leaves_a_failing_run_in_any_channel() {
    let _serial = serial();
    let server = Server::start();
    // Nothing listens at the repository: the run fails talking to it.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let location = format!("rest:http://backup:RESTPASS@127.0.0.1:{closed}/repo");
    let sb = sandbox(Options {
        kind: common::Kind::Restic {
            location: Some(location.clone()),
            options: vec![],
            env: vec![],
        },
        ..Options::default()
    });
    std::fs::write(sb.password_file(), "repository-password\n").unwrap();
    let (prom, mail) = notify_everywhere(&sb, &server);
    let out = sb.cli(&["backup"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let reqs = server.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/ping/PINGTOKEN/start?create=1",
            "/hook/HOOKTOKEN",
            "/ping/PINGTOKEN/fail?create=1",
            "/hook/HOOKTOKEN"
        ],
        "{}",
        text(&out)
    );
    let hook = webhook_json(&reqs[3]);
    assert_eq!(hook["status"], "failure", "{hook}");
    let error = hook["error"].as_str().unwrap_or_default();
    assert!(!error.is_empty(), "{hook}");
    let metrics_text = read(&prom);
    let label = metrics(&prom)[0]
        .labels
        .get("repository")
        .unwrap()
        .to_string();
    assert_eq!(
        label,
        format!("rest:http://backup:***@127.0.0.1:{closed}/repo")
    );
    let last_run = read(&structr_backup::notify::status::last_run_path());
    assert!(last_run.contains("\"status\": \"failure\""), "{last_run}");
    let channels = [
        ("stdout", String::from_utf8_lossy(&out.stdout).into_owned()),
        ("stderr", String::from_utf8_lossy(&out.stderr).into_owned()),
        ("ping body (start)", reqs[0].body.clone()),
        ("webhook body (start)", reqs[1].body.clone()),
        ("ping body (fail)", reqs[2].body.clone()),
        ("webhook body (failure)", reqs[3].body.clone()),
        ("metrics file", metrics_text),
        ("last-run.json", last_run),
        ("mails", read(&mail)),
    ];
    for (channel, content) in &channels {
        for secret in ["RESTPASS", "PINGTOKEN", "HOOKTOKEN"] {
            assert!(
                !content.contains(secret),
                "{secret} in the {channel}:\n{content}"
            );
        }
    }
    // The ping's body and the failure mail carry the run's log, which says what failed.
    assert!(reqs[2].body.contains("error: "), "{}", reqs[2].body);
    assert!(channels[8].1.contains("backup FAILED"), "{}", channels[8].1);
    // The config (mode 0644 in the temp folder) holds secrets: warned once, with the fix.
    let stderr = &channels[1].1;
    let fix = format!("`chmod 600 {}`", sb.config.display());
    assert_eq!(stderr.matches(&fix).count(), 1, "{stderr}");
    assert!(
        stderr.contains("[repository] path, [notify] ping_url, [notify] webhook"),
        "{stderr}"
    );
}

/// Made private, the same config is not warned about.
#[test]
fn a_private_config_with_secrets_is_not_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let _serial = serial();
    let server = Server::start();
    let sb = sandbox(Options::default());
    notify(
        &sb,
        &format!("ping_url = \"{}\"", server.url("/ping/PINGTOKEN")),
    );
    let out = sb.cli(&["list"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{}",
        text(&out)
    );
    std::fs::set_permissions(&sb.config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("chmod"), "{stderr}");
    assert_eq!(server.requests().len(), 1);
}

/// Runs the binary with `args`, watching, while it runs, the command line of
/// every process below it and the installation's run journal.
fn watched_run(sb: &Sandbox, args: &[&str]) -> (std::process::Output, String) {
    let journal = sb.journal_path();
    let mut child = sb
        .cli_command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Drained on threads: a full pipe must not stall the run we watch.
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).unwrap();
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).unwrap();
        v
    });
    let mut seen = String::new();
    let mut children = 0;
    while child.try_wait().unwrap().is_none() {
        for (_, line) in common::descendants(child.id()) {
            children += 1;
            seen.push_str(&line);
            seen.push('\n');
        }
        if let Ok(j) = std::fs::read_to_string(&journal) {
            seen.push_str(&j);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(
        children > 0,
        "no child was seen: the watch would prove nothing"
    );
    let status = child.wait().unwrap();
    let output = std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    (output, seen)
}

/// Issue 18's acceptance: a succeeding and a failing run configured with a
/// restic REST URL with credentials, a ping URL and a webhook with tokens, and
/// Structr's superuser password (the application export is asked for): none of
/// the four secrets is in stdout, stderr, the run journal, a ping or webhook
/// body, a mail, the metrics file, last-run.json, the generation's manifest
/// (restic's tags, `show --json`), its runbook, or any child's command line.
#[test]
fn no_secret_reaches_any_channel_of_a_good_or_a_failing_run() {
    const RESTPASS: &str = "RESTPASS-c0ffee";
    const SUPERPASS: &str = "SUPERPASS-5eed";
    let _serial = serial();
    let server = Server::start();
    let served = tempfile::tempdir().unwrap();
    let rest = common::servers::RcloneRest::start_with_auth(served.path(), "backup", RESTPASS);
    let location = format!("{}repo", rest.url());
    let (sb, _port) = Sandbox::with_structr_http(
        Options {
            kind: common::Kind::Restic {
                location: Some(location.clone()),
                options: vec![],
                env: vec![],
            },
            app_export: true,
            ..Options::default()
        },
        SUPERPASS,
    );
    let (prom, mail) = notify_everywhere(&sb, &server);

    let (good, good_seen) = watched_run(&sb, &["backup"]);
    assert!(good.status.success(), "{}", text(&good));
    assert!(
        text(&good).contains("application export"),
        "the export was asked for: {}",
        text(&good)
    );
    let show = sb.cli(&["show", "latest", "--json"]);
    assert!(show.status.success(), "{}", text(&show));
    let runbook = sb.cli(&["show", "latest", "--runbook"]);
    assert!(runbook.status.success(), "{}", text(&runbook));
    // restic's own record of the generation: the snapshot's tags and paths.
    let tags = std::process::Command::new("restic")
        .args(["snapshots", "--json", "--no-lock"])
        .env("RESTIC_REPOSITORY", &location)
        .env("RESTIC_PASSWORD_FILE", sb.password_file())
        .output()
        .unwrap();
    assert!(tags.status.success(), "{}", text(&tags));
    let good_metrics = read(&prom);
    let good_last_run = read(&structr_backup::notify::status::last_run_path());

    drop(rest);
    let (bad, bad_seen) = watched_run(&sb, &["backup"]);
    assert!(!bad.status.success(), "{}", text(&bad));

    let reqs = server.requests();
    assert!(
        reqs.len() >= 6,
        "start, end and webhooks of both runs: {reqs:?}"
    );
    let mut channels = vec![
        ("stdout and stderr of the good run", text(&good)),
        ("children and journal of the good run", good_seen),
        ("show --json", text(&show)),
        ("the runbook", text(&runbook)),
        ("restic's snapshot record", text(&tags)),
        ("metrics after the good run", good_metrics),
        ("last-run.json after the good run", good_last_run),
        ("stdout and stderr of the failing run", text(&bad)),
        ("children and journal of the failing run", bad_seen),
        ("metrics after the failing run", read(&prom)),
        (
            "last-run.json after the failing run",
            read(&structr_backup::notify::status::last_run_path()),
        ),
        ("mails", read(&mail)),
    ];
    for r in &reqs {
        channels.push((
            "a request to the ping/webhook server",
            format!("{} {}\n{}", r.method, r.path, r.body),
        ));
    }
    for (channel, content) in &channels {
        assert!(
            !content.is_empty() || channel.starts_with("children"),
            "{channel} is empty"
        );
        for secret in [RESTPASS, SUPERPASS, "PINGTOKEN", "HOOKTOKEN"] {
            // The ping and webhook requests go to their URLs: their own paths are
            // the one place a token belongs.
            let its_own_url = channel.starts_with("a request")
                && content.lines().next().is_some_and(|l| l.contains(secret))
                && !content.lines().skip(1).any(|l| l.contains(secret));
            if its_own_url {
                continue;
            }
            assert!(
                !content.contains(secret),
                "{secret} in {channel}:\n{content}"
            );
        }
    }
}

/// Before, a root `demo` wrote the host's own `/var/lib/structr-backup/last-run.json`
/// (read by `schedule --show`, Home and the metrics of every installation), and
/// `demo --clean` left it. The demo keeps its state in its own folder.
#[test]
fn the_demo_never_touches_the_hosts_state_folder() {
    let _serial = serial();
    let host_state = structr_backup::notify::status::last_run_path();
    let before = std::fs::read(&host_state).ok();
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(common::BIN)
            .args(args)
            .env("HOME", home.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        out
    };
    run(&["demo"]);
    let demo = home.path().join(".local/share/structr-backup/demo");
    let cfg = demo.join("config.toml");
    let cfg = cfg.to_str().unwrap();
    run(&["--config", cfg, "backup"]);
    run(&["--config", cfg, "verify"]);
    assert!(
        demo.join("state/last-run.json").is_file(),
        "the demo's own last run"
    );
    assert_eq!(
        std::fs::read(&host_state).ok(),
        before,
        "the host's last-run.json is untouched"
    );
    run(&["demo", "--clean"]);
    assert!(!demo.exists());
    assert_eq!(std::fs::read(&host_state).ok(), before);
}
