//! Edges of the command line that input can reach: output into a closed pipe
//! (`list | head -1`), and config files whose paths are ambiguous.

use crate::common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{text, Options, Sandbox, BIN};

/// A flag-service sandbox with a little data and `n` generations made by the binary.
fn with_generations(n: usize) -> Sandbox {
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    std::fs::create_dir_all(sb.structr_dir.join("files")).unwrap();
    std::fs::write(sb.structr_dir.join("structr.conf"), "a = b\n").unwrap();
    std::fs::create_dir_all(sb.neo4j_data.join("databases/neo4j")).unwrap();
    // Big enough that a backup takes a moment after its first log line.
    std::fs::write(
        sb.neo4j_data.join("databases/neo4j/store"),
        vec![42u8; 2 << 20],
    )
    .unwrap();
    sb.start();
    for i in 0..n {
        let out = sb.cli(&["backup", "--label", &format!("g{i}")]);
        assert!(out.status.success(), "backup {i}: {}", text(&out));
    }
    sb
}

/// Runs the binary through bash as `structr-backup ARGS 2>ERR | head -1` and
/// returns structr-backup's own exit status (PIPESTATUS, no pipefail) and its stderr.
fn through_head(sb: &Sandbox, args: &[&str]) -> (i32, String) {
    let err = sb.dir.path().join("head.err");
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#"err="$1"; shift; "$@" 2>"$err" | head -1 >/dev/null; echo "${PIPESTATUS[0]}""#)
        .arg("bash")
        .arg(&err)
        .arg(BIN)
        .arg("--config")
        .arg(&sb.config)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no status from bash: {}", text(&out)));
    (status, std::fs::read_to_string(&err).unwrap_or_default())
}

/// Runs the binary with stdout a pipe whose reader is gone before it starts, so
/// every write fails with EPIPE (what `| head -1` does to all but the first line,
/// without depending on who wins the race).
fn into_closed_pipe(sb: &Sandbox, args: &[&str]) -> Output {
    let (reader, writer) = nix::unistd::pipe().unwrap();
    drop(reader);
    Command::new(BIN)
        .arg("--config")
        .arg(&sb.config)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn assert_quiet(what: &str, status: Option<i32>, stderr: &str) {
    assert_eq!(status, Some(0), "{what}: exit status; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{what}: stderr:\n{stderr}");
    assert!(!stderr.contains('\x1b'), "{what}: ANSI escapes:\n{stderr}");
}

#[test]
fn read_only_commands_into_a_closed_pipe_exit_quietly() {
    let sb = with_generations(3);
    let id = sb.generations()[0].clone();
    for args in [
        vec!["list"],
        vec!["list", "--json"],
        vec!["show", id.as_str()],
        vec!["show", id.as_str(), "--json"],
    ] {
        let what = args.join(" ");
        let (status, stderr) = through_head(&sb, &args);
        assert_quiet(&format!("{what} | head -1"), Some(status), &stderr);
        let out = into_closed_pipe(&sb, &args);
        assert_quiet(
            &format!("{what} > closed pipe"),
            out.status.code(),
            &String::from_utf8_lossy(&out.stderr),
        );
    }
}

#[test]
fn a_backup_whose_log_reader_went_away_still_completes() {
    let sb = with_generations(0);
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#""$@" 2>&1 | head -1; echo "status=${PIPESTATUS[0]}""#)
        .arg("bash")
        .arg(BIN)
        .arg("--config")
        .arg(&sb.config)
        .arg("backup")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("status=0"), "{}", text(&out));
    assert!(!stdout.contains('\x1b'), "{}", text(&out));
    assert_eq!(sb.generations().len(), 1, "{}", text(&out));
    assert!(sb.running("neo4j") && sb.running("structr"));
}

#[test]
fn a_relative_path_in_the_config_is_refused_naming_key_and_line() {
    let sb = with_generations(0);
    let cfg = std::fs::read_to_string(&sb.config).unwrap();
    let line = cfg
        .lines()
        .position(|l| l.starts_with("neo4j_data"))
        .unwrap()
        + 1;
    let cfg: Vec<String> = cfg
        .lines()
        .map(|l| match l.starts_with("neo4j_data") {
            true => "neo4j_data = \"data\"".to_string(),
            false => l.to_string(),
        })
        .collect();
    std::fs::write(&sb.config, cfg.join("\n")).unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&sb.config)
        .arg("list")
        .current_dir(Path::new(&sb.neo4j_data).parent().unwrap())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr.contains("neo4j_data") && stderr.contains(&format!("line {line}")),
        "{}",
        text(&out)
    );
    assert!(stderr.contains("absolute"), "{}", text(&out));
}

/// Ids as people type them: unique prefixes and `latest` work wherever an id does;
/// an ambiguous prefix lists the candidates; garbage is a usage error, not echoed.
#[test]
fn ids_are_accepted_as_prefixes_and_latest() {
    let sb = with_generations(2);
    let ids = sb.generations(); // newest first
    let show = |id: &str| sb.cli(&["show", "--json", id]);
    let out = show("latest");
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], ids[0].as_str());
    // The shortest prefix that only the newest has.
    let unique = (1..=ids[0].len())
        .map(|n| &ids[0][..n])
        .find(|p| !ids[1].starts_with(p))
        .unwrap();
    let out = show(unique);
    assert!(out.status.success(), "{unique}: {}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], ids[0].as_str());
    let common_prefix = &ids[0][..8]; // the same day
    let out = show(common_prefix);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&ids[0]) && err.contains(&ids[1]), "{err}");
    let junk = "x".repeat(5000);
    let out = show(&junk);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        out.stderr.len() < 400,
        "not echoed at length: {}",
        text(&out)
    );
    // pin/unpin and verify take them too; verify with no id checks the newest.
    let out = sb.cli(&["pin", "latest"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&ids[0]));
    // A hint names the command as it was run, with its --config.
    let out = sb.cli(&["--yes", "delete", "latest"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let hint = format!(
        "`structr-backup --config {} unpin {}`",
        sb.config.display(),
        ids[0]
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&hint),
        "{hint}: {}",
        text(&out)
    );
    let out = sb.cli(&["verify"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(&format!("{}: ok", ids[0])),
        "{}",
        text(&out)
    );
}

/// `--repo /typo list` must not look like an empty repository to a script.
#[test]
fn a_repository_that_does_not_exist_is_an_error_except_for_backup() {
    let sb = with_generations(0);
    let typo = sb.dir.path().join("typo");
    let typo = typo.to_str().unwrap();
    for args in [
        vec!["--repo", typo, "list"],
        vec!["--repo", typo, "list", "--json"],
        vec!["--repo", typo, "show", "latest"],
        vec!["--repo", typo, "verify", "--all"],
        vec!["--repo", typo, "prune", "--dry-run"],
    ] {
        let out = sb.cli(&args);
        // 10, as restic says "no repository".
        assert_eq!(out.status.code(), Some(10), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("does not exist"),
            "{args:?}: {}",
            text(&out)
        );
    }
    let out = sb.cli(&["--repo", typo, "backup"]);
    assert!(out.status.success(), "backup creates it: {}", text(&out));
    let out = sb.cli(&["--repo", typo, "list"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// What a script reads: errors as JSON on stdout with `--json`, and log lines that
/// carry a full RFC 3339 time with its zone when stderr is not a terminal.
#[test]
fn errors_are_json_with_json_and_log_lines_carry_rfc3339_times() {
    let sb = with_generations(1);
    let out = sb.cli(&["--json", "show", "2099"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)));
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["error"]["kind"], "failed");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no generation 2099"));
    let out = sb.cli(&["--json", "show", "not-an-id!"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["exit_code"].as_i64(), v["error"]["kind"].as_str()),
        (Some(2), Some("usage")),
        "{v}"
    );

    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    let log = String::from_utf8_lossy(&out.stderr);
    let first = log.lines().next().unwrap_or_default();
    let stamp = first.split(' ').next().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
        "{first:?} does not start with an RFC 3339 time"
    );
}

#[test]
fn verify_all_names_the_generation_on_every_line() {
    let sb = with_generations(2);
    let ids = sb.generations();
    let out = sb.cli(&["verify", "--all"]);
    assert!(out.status.success(), "{}", text(&out));
    let log = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(" verify ")).collect();
    assert!(!lines.is_empty(), "{log}");
    for l in &lines {
        assert!(
            ids.iter().any(|id| l.contains(id.as_str())),
            "{l:?} names no generation"
        );
    }
}

/// The restore plan says what would be lost in terms a user can judge.
#[test]
fn the_restore_plan_counts_the_files_changed_since_the_backup() {
    let sb = with_generations(1);
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(sb.structr_dir.join("files/new-upload"), "after the backup").unwrap();
    std::fs::write(sb.structr_dir.join("structr.conf"), "a = changed\n").unwrap();
    let out = sb.cli(&["--yes", "restore", "--no-safety-backup", "latest"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("CHANGES NOT IN THE BACKUP: 2 file(s) there changed since it was taken")
            && plan.contains("the kept one does")
            && !plan.contains("LOST"),
        "{plan}"
    );
    assert!(
        plan.contains("nothing there changed since the backup"),
        "{plan}"
    );
}

/// `detect --json` says whether each service runs, as the README promises.
#[test]
fn detect_json_says_whether_each_service_runs() {
    let sb = with_generations(0);
    sb.stop();
    let start = shell_words::split(&sb.ctl("start", "structr")).unwrap();
    assert!(Command::new(&start[0])
        .args(&start[1..])
        .status()
        .unwrap()
        .success());
    let out = sb.cli(&["detect", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let running: Vec<(String, serde_json::Value)> = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["running"].clone(),
            )
        })
        .collect();
    assert_eq!(
        running,
        vec![
            ("structr".to_string(), serde_json::json!(true)),
            ("neo4j".to_string(), serde_json::json!(false))
        ]
    );
}

/// The JSON field names docs/json.md documents: a generation in brief in `list`
/// and the prune plan, the whole manifest plus totals in `show`.
#[test]
fn json_output_uses_the_documented_field_names() {
    let sb = with_generations(1);
    let json = |args: &[&str]| -> serde_json::Value {
        let out = sb.cli(args);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let brief = [
        "id",
        "created_at",
        "host",
        "installation",
        "label",
        "restoring",
        "pinned",
        "last_verified",
        "last_drill",
        "downtime_secs",
        "source_bytes",
        "stored_bytes",
        "snapshot",
        "kind",
    ];
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let mut want: Vec<String> = brief.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(keys(&json(&["list", "--json"])[0]), want);
    let plan = json(&["prune", "--dry-run", "--json"]);
    let row = &plan["generations"][0];
    for k in brief.iter().chain(&["keep", "reasons"]) {
        assert!(row.get(*k).is_some(), "prune plan lacks {k}: {row}");
    }
    let show = json(&["show", "latest", "--json"]);
    for k in [
        "created_at",
        "timings",
        "components",
        "source_bytes",
        "stored_bytes",
    ] {
        assert!(show.get(k).is_some(), "show lacks {k}: {show}");
    }
    assert!(show["stored_bytes"].as_u64().unwrap() > 0);
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md"))
        .unwrap();
    for k in brief {
        assert!(
            doc.contains(&format!("| `{k}` |")),
            "docs/json.md documents {k}"
        );
    }
}

/// A timeout the clock cannot add once was accepted, and the backup stopped both
/// services and then panicked turning it into a deadline. It is refused when the
/// config is read: exit 1, the key, the value, the range and the file named, and
/// nothing stopped.
#[test]
fn an_absurd_timeout_is_refused_at_load_and_nothing_is_stopped() {
    let sb = with_generations(0);
    let original = std::fs::read_to_string(&sb.config).unwrap();
    let huge = u64::MAX.to_string();
    for (from, to) in [
        (
            "start_timeout_secs = 30".to_string(),
            format!("start_timeout_secs = {huge}"),
        ),
        (
            format!("stop_timeout_secs = {}", sb.opts.stop_timeout_secs),
            format!("stop_timeout_secs = {huge}"),
        ),
        (
            "[retention]".to_string(),
            format!("[snapshot]\ntimeout_secs = {huge}\n\n[retention]"),
        ),
    ] {
        assert!(original.contains(&from), "{from}: {original}");
        let cfg = original.replacen(&from, &to, 1);
        std::fs::write(&sb.config, &cfg).unwrap();
        let key = to.lines().find(|l| l.contains(&huge)).unwrap();
        let line = cfg.lines().position(|l| l == key).unwrap() + 1;
        let pids = (sb.pid("neo4j"), sb.pid("structr"));
        let out = sb.cli(&["backup"]);
        assert_eq!(out.status.code(), Some(1), "{to}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = key.split(" =").next().unwrap();
        for want in [
            format!(
                "error: invalid config file {}, line {line}:",
                sb.config.display()
            ),
            format!("{name}: {huge} is out of range; use 1 to 3600"),
        ] {
            assert!(stderr.contains(&want), "{want:?} not in:\n{stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("stop"),
            "{}",
            text(&out)
        );
        assert!(sb.running("neo4j") && sb.running("structr"), "{to}");
        assert_eq!((sb.pid("neo4j"), sb.pid("structr")), pids);
        assert!(!sb.repo.exists(), "no repository was made: {to}");
    }
}

/// `copy` writes no generation and stops no service; its failure says what it
/// tried and how to try again, not "the generation was written and the services run".
#[test]
fn a_failed_copy_says_what_copy_does() {
    let sb = with_generations(1);
    let id = sb.generations()[0].clone();
    let missing = sb.dir.path().join("no-such-nas");
    let mut cfg = std::fs::read_to_string(&sb.config).unwrap();
    cfg.push_str(&format!(
        "\n[[offsite]]\nname = \"nas\"\npath = {}\n",
        toml::Value::String(missing.display().to_string())
    ));
    std::fs::write(&sb.config, cfg).unwrap();
    let out = sb.cli(&["copy", "latest", "--to", "nas"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    let head = format!(
        "error: the copy of {id} to nas ({}) failed: ",
        missing.display()
    );
    assert!(error.starts_with(&head), "{head:?}: {error}");
    let tail = format!(
        ". The local generation is unaffected; copy it later with \
         `structr-backup --config {} copy {id} --to nas`",
        sb.config.display()
    );
    assert!(error.ends_with(&tail), "{tail:?}: {error}");
    assert!(!stderr.contains("services run"), "{stderr}");
}

/// The top-level keys docs/json.md's "Per command" table documents, by command
/// (the table's first cell, backticks removed): whether the document is an array
/// (keys of each element), and the keys. "a generation in brief" stands for the
/// brief table's fields.
fn documented_keys() -> Vec<(String, bool, Vec<String>)> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md"))
        .unwrap();
    let ticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let section = |title: &str| -> &str {
        let at = doc
            .find(title)
            .unwrap_or_else(|| panic!("{title} in docs/json.md"));
        let rest = &doc[at + title.len()..];
        &rest[..rest.find("\n## ").unwrap_or(rest.len())]
    };
    let brief: Vec<String> = section("## A generation in brief")
        .lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| ticked(l.split('|').nth(1).unwrap()).into_iter().take(1))
        .collect();
    assert!(brief.len() > 10, "{brief:?}");
    let rows: Vec<(String, bool, Vec<String>)> = section("## Per command")
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let (command, keys) = (cells[1].replace('`', ""), cells[2]);
            let each = keys.starts_with("each:");
            let keys = match keys.contains("a generation in brief") {
                true => brief.clone(),
                false => ticked(keys),
            };
            assert!(!keys.is_empty(), "docs/json.md: no keys for {command}");
            (command, each, keys)
        })
        .collect();
    assert!(rows.len() >= 15, "{rows:?}");
    rows
}

/// Exactly one JSON document on stdout, parsed; `code` is the exit status wanted.
fn one_document(out: &Output, what: &str, code: i32) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(code), "{what}: {}", text(out));
    let mut docs = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<serde_json::Value>()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", text(out)));
    assert_eq!(
        docs.len(),
        1,
        "{what}: {} documents: {}",
        docs.len(),
        text(out)
    );
    docs.remove(0)
}

fn assert_keys(what: &str, doc: &serde_json::Value, keys: &[String]) {
    for k in keys {
        assert!(doc.get(k).is_some(), "{what}: no {k:?} in {doc}");
    }
}

/// `--json` prints exactly one JSON document on stdout, success or failure, with
/// the top-level keys docs/json.md documents for the command: before, a failed
/// `verify --json` printed two (the reports, then the error), a usage error none,
/// `pin --json` plain text, and `delete`, `init`, `recover` and `demo` plain text.
#[test]
fn json_output_is_exactly_one_document_with_the_documented_keys() {
    let (sb, _port) = Sandbox::with_structr_http(
        Options {
            app_export: true,
            ..Options::default()
        },
        "json-secret",
    );
    let scratch = sb.dir.path().join("scratch");
    let nas = sb.dir.path().join("nas");
    std::fs::create_dir(&scratch).unwrap();
    let mut cfg = std::fs::read_to_string(&sb.config).unwrap();
    cfg.push_str(&format!(
        "\n[drill]\ncommand = {}\nscratch = {}\n\n[[offsite]]\nname = \"nas\"\npath = {}\n",
        toml::Value::String(format!(
            "{} check --data {{data}} --dir {{scratch}}/structr",
            common::STANDIN
        )),
        toml::Value::String(scratch.display().to_string()),
        toml::Value::String(nas.display().to_string()),
    ));
    std::fs::write(&sb.config, cfg).unwrap();
    let documented = documented_keys();
    let mut seen: Vec<String> = Vec::new();
    let mut check = |command: &str, args: &[&str], code: i32| -> serde_json::Value {
        let out = sb.cli(args);
        let what = format!("{command} ({args:?})");
        let doc = one_document(&out, &what, code);
        let (_, each, keys) = documented
            .iter()
            .find(|(c, _, _)| c == command)
            .unwrap_or_else(|| panic!("docs/json.md has no row for {command}"));
        match each {
            true => {
                let items = doc.as_array().unwrap_or_else(|| panic!("{what}: {doc}"));
                assert!(!items.is_empty(), "{what}: {doc}");
                for item in items {
                    assert_keys(&what, item, keys);
                }
            }
            false => assert_keys(&what, &doc, keys),
        }
        seen.push(command.to_string());
        doc
    };
    let init = check("init", &["--json", "init"], 0);
    assert_eq!(init["offsite"][0]["name"], "nas", "{init}");
    let backup = check("backup", &["--json", "backup"], 0);
    let id = backup["generation"]["id"].as_str().unwrap().to_string();
    let id = id.as_str();
    let list = check("list", &["--json", "list"], 0);
    assert_eq!(list[0]["id"], id, "{list}");
    check("show ID", &["--json", "show", id], 0);
    check("show ID --runbook", &["--json", "show", id, "--runbook"], 0);
    check(
        "copy ID --to NAME",
        &["--json", "copy", id, "--to", "nas"],
        0,
    );
    check("verify", &["--json", "verify", id], 0);
    check("drill [ID]", &["--json", "drill", id], 0);
    let unpacked = sb.dir.path().join("unpacked");
    check(
        "restore ID --only NAME --to DIR",
        &[
            "--json",
            "restore",
            id,
            "--only",
            "app",
            "--to",
            unpacked.to_str().unwrap(),
        ],
        0,
    );
    let export = sb.dir.path().join("export");
    check(
        "export-app",
        &["--json", "export-app", "--to", export.to_str().unwrap()],
        0,
    );
    check("prune", &["--json", "prune", "--dry-run"], 0);
    assert_eq!(
        check("pin ID, unpin ID", &["--json", "pin", id], 0)["pinned"],
        true
    );
    assert_eq!(
        check("pin ID, unpin ID", &["--json", "unpin", id], 0)["pinned"],
        false
    );
    check("detect", &["--json", "detect"], 0);
    let recover = check("recover", &["--json", "recover"], 0);
    assert_eq!(recover["recovered"], false, "{recover}");
    let restored = check(
        "restore ID",
        &["--json", "--yes", "restore", "--no-safety-backup", id],
        0,
    );
    assert_eq!(restored["restored"], id, "{restored}");
    let second = check("backup", &["--json", "backup"], 0);
    let second = second["generation"]["id"].as_str().unwrap().to_string();
    let deleted = check("delete ID", &["--json", "--yes", "delete", &second], 0);
    assert_eq!(deleted["deleted"], true, "{deleted}");
    // The timer needs a running systemd; without one, the failure is the document.
    let schedule = sb.cli(&["--json", "schedule"]);
    match schedule.status.code() {
        Some(0) => drop(check("schedule", &["--json", "schedule"], 0)),
        _ => {
            let failed = one_document(&schedule, "schedule", 1);
            assert_keys("schedule", &failed, &["error".into(), "exit_code".into()]);
            seen.push("schedule".into());
        }
    }
    // The demo lives under HOME: a private one.
    let home = tempfile::tempdir().unwrap();
    for (args, removed) in [
        (&["--json", "demo"][..], false),
        (&["--json", "demo", "--clean"], true),
    ] {
        let out = Command::new(BIN)
            .args(args)
            .env("HOME", home.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let doc = one_document(&out, "demo", 0);
        let (_, _, keys) = documented.iter().find(|(c, _, _)| c == "demo").unwrap();
        assert_keys("demo", &doc, keys);
        assert_eq!(doc["removed"], removed, "{doc}");
        seen.push("demo".into());
    }
    let mut missing: Vec<&String> = documented
        .iter()
        .map(|(c, _, _)| c)
        .filter(|c| !seen.contains(c))
        .collect();
    missing.dedup();
    assert!(missing.is_empty(), "documented but not run: {missing:?}");

    // Failures: one document too, with the documented keys.
    let failure = ["error".to_string(), "exit_code".to_string()];
    // Damage an archive: verify fails with exit 3 and still prints one document,
    // the reports (a script reads `ok`), not a second one for the error.
    let archive = sb.repo.join(id).join("structr.tar.zst");
    let mut bytes = std::fs::read(&archive).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let out = sb.cli(&["--json", "verify", id]);
    let reports = one_document(&out, "verify of a damaged generation", 3);
    assert_eq!(reports[0]["ok"], false, "{reports}");
    for (args, code) in [
        (&["--json", "no-such-command"][..], 2),
        (&["--json", "show", "20990101T000000Z"], 1),
        (&["--json", "--yes", "delete", "20990101T000000Z"], 1),
    ] {
        let out = sb.cli(args);
        let doc = one_document(&out, &format!("{args:?}"), code);
        assert_keys(&format!("{args:?}"), &doc, &failure);
        assert_eq!(doc["exit_code"], code, "{doc}");
    }
}

/// Before, `list` on a mistyped `--repo` suggested `structr-backup backup`, which
/// stops both services to write into the typo.
#[test]
fn a_missing_repository_is_not_answered_with_a_backup() {
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    let typo = sb.dir.path().join("no-such-repo");
    let out = sb.cli(&["--repo", typo.to_str().unwrap(), "list"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(10), "{said}");
    assert!(said.contains("does not exist"), "{said}");
    assert!(said.contains(" init` creates it"), "{said}");
    assert!(!said.contains("structr-backup backup"), "{said}");
    assert!(!typo.exists());
}

/// restic's and borg's habits: `-r` names the repository, `show` without an id
/// shows the newest (as `verify` and `drill` do), and a command's help keeps the
/// global options apart from its own.
#[test]
fn show_defaults_to_the_newest_and_r_names_the_repository() {
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    common::write_random(&sb.neo4j_data.join("databases/neo4j/nodes.db"), 4096, 1);
    common::write_random(&sb.structr_dir.join("structr.conf"), 100, 2);
    sb.start();
    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    let id = sb.generations()[0].clone();
    let out = sb.cli(&["-r", sb.repo.to_str().unwrap(), "--json", "show"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], id.as_str(), "{v}");
    // restic's words for list and verify.
    for args in [&["--json", "snapshots"][..], &["check"]] {
        let out = sb.cli(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    let help = sb.cli(&["show", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    let (own, global) = help
        .split_once("Global options:")
        .expect("a heading of its own");
    assert!(
        own.contains("--runbook") && !own.contains("--config"),
        "{help}"
    );
    assert!(
        global.contains("--config") && global.contains("-r, --repo"),
        "{help}"
    );
}

/// `prune --dry-run` says first what it is (a plan, nothing deleted) and last what
/// it adds up to; before, it printed bare rows.
#[test]
fn prune_dry_run_has_a_header_and_totals() {
    let sb = with_generations(3); // keep_last = 2 in the sandbox
    let out = sb.cli(&["prune", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.len(), 5, "header, 3 rows, totals: {said}");
    assert!(
        lines[0].starts_with(&format!("Prune plan for {}", sb.repo.display()))
            && lines[0].contains("policy: last 2")
            && lines[0].ends_with("(dry run: nothing is deleted)"),
        "{said}"
    );
    let plan = sb.cli(&["--json", "prune", "--dry-run"]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let freed: u64 = plan["generations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["keep"] == false)
        .map(|g| g["stored_bytes"].as_u64().unwrap())
        .sum();
    assert!(freed > 0, "{plan}");
    assert_eq!(
        lines[4],
        format!(
            "1 generation(s) would be DELETED, 2 kept; frees {}",
            structr_backup::units::bytes(freed)
        ),
        "{said}"
    );
    // Nothing to delete says so.
    let out = sb.cli(&["prune", "--dry-run", "--keep-last", "5"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.trim_end()
            .ends_with("nothing to delete: all 3 generation(s) are kept"),
        "{said}"
    );
    assert_eq!(sb.generations().len(), 3);
}

/// `-q` leaves only warnings and errors (and what a command was asked to show);
/// `-v` shows every program run, with what looks like a secret hidden.
#[test]
fn quiet_prints_only_problems_and_verbose_shows_each_program_run() {
    let mut sb = with_generations(1);
    // Neo4j's stop command carries a token, as a hypervisor's tool might.
    let stop = format!(
        "sh -c {} --token hunter2-not-shown",
        shell_words::quote(&sb.ctl("stop", "neo4j"))
    );
    sb.opts.neo4j_commands = Some([sb.ctl("start", "neo4j"), stop, sb.ctl("status", "neo4j")]);
    sb.write_config();

    let out = sb.cli(&["-q", "backup"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "a quiet backup that went well says nothing: {}",
        text(&out)
    );
    assert_eq!(sb.generations().len(), 2);
    let out = sb.cli(&["--quiet", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        3,
        "list still lists: {}",
        text(&out)
    );
    let out = sb.cli(&["-q", "show", "2099"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: "),
        "errors are still said: {}",
        text(&out)
    );

    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("run: "),
        "{}",
        text(&out)
    );
    let out = sb.cli(&["-v", "backup"]);
    assert!(out.status.success(), "{}", text(&out));
    let log = String::from_utf8_lossy(&out.stderr);
    let run = log
        .lines()
        .find(|l| l.starts_with("run: sh -c") && l.contains("neo4j.up"))
        .unwrap_or_else(|| panic!("no run line for neo4j's stop: {log}"));
    assert!(
        run.ends_with("--token '***'") || run.ends_with("--token ***"),
        "{run}"
    );
    assert!(!log.contains("hunter2"), "{log}");
    assert!(
        log.lines().any(|l| l.starts_with("run: touch")),
        "the starts too: {log}"
    );
}

/// Every command's `--help` ends with an example or two of itself.
#[test]
fn every_command_has_examples_in_its_help() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let commands: Vec<&str> = help
        .split_once("Commands:")
        .unwrap()
        .1
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 15, "{commands:?}");
    for c in commands {
        let out = Command::new(BIN).args([c, "--help"]).output().unwrap();
        assert!(out.status.success(), "{c}: {}", text(&out));
        let help = String::from_utf8_lossy(&out.stdout);
        let examples = help
            .split_once("Examples:\n")
            .unwrap_or_else(|| panic!("{c} --help has no examples:\n{help}"))
            .1;
        assert!(
            examples
                .lines()
                .next()
                .is_some_and(|l| l.starts_with("  structr-backup ") && l.contains(c)),
            "{c}: {examples}"
        );
    }
}

/// restic's and borg's words either work (`check`, `snapshots`) or are a usage
/// error naming what does it here, and touch nothing.
#[test]
fn restic_and_borg_words_work_or_name_ours() {
    let sb = with_generations(1);
    for word in ["check", "snapshots"] {
        let out = sb.cli(&[word]);
        assert!(out.status.success(), "{word}: {}", text(&out));
    }
    for (word, ours) in [
        ("forget", "prune"),
        ("create", "backup"),
        ("extract", "restore"),
        ("compact", "prune"),
    ] {
        let out = sb.cli(&[word, "--keep-last", "1", "latest"]);
        assert_eq!(out.status.code(), Some(2), "{word}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{word}: one line: {err}");
        assert!(
            err.starts_with(&format!("error: `{word}` is "))
                && err.contains(&format!(
                    "`structr-backup --config {} {ours}",
                    sb.config.display()
                )),
            "{word}: {err}"
        );
        let out = sb.cli(&["--json", word]);
        let doc = one_document(&out, word, 2);
        assert_eq!(doc["error"]["kind"], "usage", "{doc}");
    }
    assert_eq!(sb.generations().len(), 1);
    assert!(sb.running("neo4j") && sb.running("structr"));
}

/// Points `sb`'s config at its own state folder (not the host's).
fn own_state(sb: &Sandbox, state: &Path) {
    let mut config = std::fs::read_to_string(&sb.config).unwrap();
    config.push_str(&format!(
        "\n[state]\ndir = {:?}\n",
        state.display().to_string()
    ));
    std::fs::write(&sb.config, config).unwrap();
}

/// The "last run" lines of `schedule` (printed even when systemd cannot be asked).
fn last_lines(sb: &Sandbox) -> Vec<String> {
    let out = sb.cli(&["schedule"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("last "))
        .map(String::from)
        .collect()
}

/// Before, one `last-run.json` per host said only how the newest run of any
/// kind on any installation ended (`schedule` without systemd said nothing at
/// all): a cancelled verify looked like the nightly backup.
#[test]
fn the_last_run_is_per_installation_and_names_its_operation() {
    let sb = with_generations(0);
    let state = sb.dir.path().join("state");
    own_state(&sb, &state);
    std::fs::create_dir_all(&state).unwrap();
    // What the previous version wrote: the last run of its operation.
    std::fs::write(
        state.join("last-run.json"),
        r#"{"operation":"verify","id":"20261124T031500Z","status":"cancelled","exit_code":5,
            "started_at":"2026-11-24T03:15:00Z","finished_at":"2026-11-24T03:15:09Z",
            "duration_secs":9.0,"downtime_secs":0.0,"error":"cancelled"}"#,
    )
    .unwrap();
    let lines = last_lines(&sb);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("last verify  cancelled"), "{lines:?}");
    assert!(
        !lines[0].contains("downtime"),
        "no services stopped: {lines:?}"
    );

    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    let id = sb.generations()[0].clone();
    let out = sb.cli(&["verify", "--all"]);
    assert!(out.status.success(), "{}", text(&out));
    let lines = last_lines(&sb);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("last verify  success"), "{lines:?}");
    assert!(
        lines[1].starts_with(&format!("last backup  success, generation {id}")),
        "{lines:?}"
    );
    assert!(lines[1].contains("downtime"), "{lines:?}");
    let host: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("last-run.json")).unwrap())
            .unwrap();
    assert_eq!(host["operation"], "verify", "{host}");
    let key = host["installation"].as_str().unwrap().to_string();
    assert!(state.join(format!("{key}.last-runs.json")).exists());

    // Another installation on the same host has runs of its own: none yet.
    let other = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    own_state(&other, &state);
    let out = other.cli(&["schedule"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("last run     no run recorded yet"), "{said}");
}

/// Before, `schedule` on a machine without systemd printed systemctl's own
/// errors ("System has not been booted with systemd…", "Failed to connect to
/// bus") wrapped in ours; now one line says why and what to do instead.
#[test]
fn schedule_without_systemd_says_why_in_one_line() {
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    own_state(&sb, &sb.dir.path().join("state"));
    let out = sb.cli(&["schedule"]);
    let err = String::from_utf8_lossy(&out.stderr);
    if Path::new("/run/systemd/system").is_dir() {
        assert!(!err.contains("systemd is not running"), "{err}");
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(err.contains("systemd is not running here"), "{err}");
    assert!(err.contains("from cron"), "{err}");
    assert!(!err.contains("Failed to connect"), "{err}");
    assert!(!err.contains("systemctl show"), "{err}");
}

/// Before, `demo --store-mb N` on an existing demo was silently ignored, and a
/// plain `demo` rewrote the config back to 64 MiB (the stand-in then shrank the
/// store to it).
#[test]
fn the_demo_keeps_its_store_size_and_refuses_another_without_clean() {
    let home = tempfile::tempdir().unwrap();
    let demo = |args: &[&str]| {
        Command::new(BIN)
            .arg("demo")
            .args(args)
            .env("HOME", home.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let config = home
        .path()
        .join(".local/share/structr-backup/demo/config.toml");
    let out = demo(&["--store-mb", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    let sized = |what: &str| {
        let c = std::fs::read_to_string(&config).unwrap();
        assert!(c.contains("--store-mb 3"), "{what}: {c}");
    };
    sized("made");
    let out = demo(&[]);
    assert!(out.status.success(), "{}", text(&out));
    sized("plain demo");
    let out = demo(&["--store-mb", "5"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("has a 3 MiB store, not 5 MiB"), "{said}");
    assert!(said.contains("demo --clean"), "{said}");
    sized("another size asked for");
    let out = demo(&["--clean"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// Before, a restore's safety backup said only "pre-restore" and "downtime
/// 0.0 s": nothing told which restore it protected.
#[test]
fn a_safety_backup_names_the_restore_it_protected() {
    let sb = with_generations(1);
    let id = sb.generations()[0].clone();
    let out = sb.cli(&["--yes", "restore", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let safety = sb.generations()[0].clone();
    assert_ne!(safety, id);
    let list = text(&sb.cli(&["list"]));
    let row = list
        .lines()
        .find(|l| l.starts_with(&safety))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        row.ends_with(&format!("pre-restore, before restoring {id}")),
        "{row}"
    );
    let show = text(&sb.cli(&["show", &safety]));
    assert!(
        show.contains(&format!("downtime     within the restore of {id}")),
        "{show}"
    );
    assert!(!show.contains("downtime     0"), "{show}");
    let out = sb.cli(&["list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["restoring"], id.as_str(), "{rows}");
    assert!(rows[1]["restoring"].is_null(), "{rows}");
    // The manifest records it (older manifests without it still read).
    let manifest = std::fs::read_to_string(sb.repo.join(&safety).join("manifest.toml")).unwrap();
    assert!(
        manifest.contains(&format!("restoring = \"{id}\"")),
        "{manifest}"
    );
}
