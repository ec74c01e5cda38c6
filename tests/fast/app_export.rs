//! The application export against the stand-in Structr's real HTTP endpoint
//! (loopback, credentials from structr.conf): kept in a generation as `app`,
//! unpacked by `restore --only app --to DIR`, never put into the installation,
//! a warning when Structr refuses, no request at all when turned off, and
//! `export-app --git` committing only what changed.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{shell, text, tree, Kind, Options, Sandbox};

const PASSWORD: &str = "app-secret";

/// A sandbox whose stand-in Structr serves HTTP on a free port that its
/// structr.conf names, with superuser.password `conf_password`.
fn sandbox(kind: Kind, conf_password: &str, export: bool) -> (Sandbox, u16) {
    Sandbox::with_structr_http(
        Options {
            kind,
            app_export: export,
            ..Options::default()
        },
        conf_password,
    )
}

/// What the stand-in serves, fetched with curl and unpacked with Python's zipfile:
/// tools independent of ours.
fn served_tree(port: u16, password: &str, into: &Path) -> BTreeTree {
    let zip = into.with_extension("zip");
    let out = shell(
        &format!(
            "curl -sf -H 'X-User: superadmin' -H 'X-Password: {password}' -o {} 'http://127.0.0.1:{port}/structr/deploy?name=check&mode=app' && python3 -m zipfile -e {} {}",
            zip.display(),
            zip.display(),
            into.display()
        ),
        Path::new("/"),
    );
    assert!(out.status.success(), "curl/unzip: {}", text(&out));
    contents(into)
}

type BTreeTree = Vec<(String, char, String)>;

/// Paths, kinds and file contents (not modes or times: zips carry neither exactly).
fn contents(root: &Path) -> BTreeTree {
    tree::snapshot(root)
        .into_iter()
        .map(|(k, n)| (String::from_utf8_lossy(&k).into_owned(), n.kind, n.content))
        .collect()
}

fn generation_dir(sb: &Sandbox, id: &str) -> PathBuf {
    sb.repo.join(id)
}

fn request_log(sb: &Sandbox) -> String {
    fs::read_to_string(sb.structr_dir.join("logs/request.log")).unwrap_or_default()
}

/// Every file below `root` named `name`.
fn find_named(root: &Path, name: &str) -> Vec<PathBuf> {
    tree::paths(root)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == name))
        .collect()
}

#[test]
fn backup_keeps_the_export_and_restore_leaves_it_out() {
    let (sb, port) = sandbox(Kind::Archive, PASSWORD, true);
    let (id, log) = sb.backup_ok(&[]);
    assert!(log.contains("application export"), "{log}");
    assert!(!log.contains("export skipped"), "{log}");
    let dir = generation_dir(&sb, &id);
    assert!(dir.join("app.tar.zst").is_file() && dir.join("app.files").is_file());
    let sums = fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    assert!(
        sums.contains("app.tar.zst") && sums.contains("app.files"),
        "{sums}"
    );
    let check = shell("sha256sum -c SHA256SUMS", &dir);
    assert!(check.status.success(), "{}", text(&check));
    let listing = shell("zstd -d < app.tar.zst | tar -t", &dir);
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    for want in [
        "schema/schema.json",
        "pages/index/index.html",
        "files/assets/logo.svg",
    ] {
        assert!(listing.contains(want), "{want} in {listing}");
    }
    let show = sb.cli(&["show", &id, "--json"]);
    let m: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let app = m["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "app")
        .expect("component app in the manifest");
    assert_eq!(app["role"], "app");
    // The export was asked for while Structr ran, as the superuser.
    assert!(
        request_log(&sb).contains("GET /structr/deploy?"),
        "{}",
        request_log(&sb)
    );
    let deep = sb.cli(&["verify", &id, "--deep"]);
    assert!(deep.status.success(), "verify --deep: {}", text(&deep));

    // --only app --to DIR: the files the stand-in serves.
    let out_root = tempfile::tempdir().unwrap();
    let to = out_root.path().join("new/app");
    let out = sb.cli(&[
        "restore",
        &id,
        "--only",
        "app",
        "--to",
        to.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "restore --only app: {}", text(&out));
    assert!(text(&out).contains("deployment import"), "{}", text(&out));
    let served = served_tree(port, PASSWORD, &out_root.path().join("served"));
    assert_eq!(contents(&to), served);
    // Never over existing files.
    let again = sb.cli(&[
        "restore",
        &id,
        "--only",
        "app",
        "--to",
        to.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("not empty"), "{}", text(&again));
    assert!(
        sb.running("structr") && sb.running("neo4j"),
        "no service touched"
    );

    // A plain restore puts everything back but the export.
    let out = sb.cli(&["restore", &id, "-y", "--no-safety-backup"]);
    assert!(out.status.success(), "restore: {}", text(&out));
    assert!(
        text(&out).contains("the application export is not restored into the installation"),
        "{}",
        text(&out)
    );
    assert!(find_named(sb.dir.path(), "schema.json").is_empty());
    assert!(find_named(sb.dir.path(), "logo.svg").is_empty());
    assert!(!sb.dir.path().join("app").exists());
}

#[test]
fn a_wrong_password_is_a_warning_and_the_data_backup_goes_on() {
    let (sb, _) = sandbox(Kind::Archive, PASSWORD, true);
    // Structr read its structr.conf when it started; the file now names another
    // password, which is what a backup sends.
    let conf = sb.structr_dir.join("structr.conf");
    let changed = fs::read_to_string(&conf)
        .unwrap()
        .replace(PASSWORD, "not-the-password");
    fs::write(&conf, changed).unwrap();
    let out = sb.cli(&["backup"]);
    let log = text(&out);
    assert!(out.status.success(), "backup: {log}");
    assert!(log.contains("warning: application export skipped"), "{log}");
    assert!(log.contains("401"), "{log}");
    let id = sb.newest();
    let dir = generation_dir(&sb, &id);
    assert!(!dir.join("app.tar.zst").exists());
    assert!(dir.join("neo4j-data.tar.zst").is_file() && dir.join("structr.tar.zst").is_file());
    assert!(request_log(&sb).contains(" 401"), "{}", request_log(&sb));
}

#[test]
fn export_off_asks_nothing() {
    let (sb, _) = sandbox(Kind::Archive, PASSWORD, false);
    let (id, log) = sb.backup_ok(&[]);
    assert!(!log.contains("application export"), "{log}");
    assert!(
        !request_log(&sb).contains("/structr/deploy"),
        "{}",
        request_log(&sb)
    );
    assert!(!generation_dir(&sb, &id).join("app.tar.zst").exists());
}

#[test]
fn export_app_commits_only_changes() {
    let (sb, _) = sandbox(Kind::Archive, PASSWORD, true);
    let work = tempfile::tempdir().unwrap();
    let git_dir = work.path().join("app-git");
    let commits = || {
        let out = shell(
            &format!("git -C {} log --format=%s", git_dir.display()),
            Path::new("/"),
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    // Like a machine without any git config: no HOME, no global identity.
    let run = || {
        let out = sb
            .cli_command(&["export-app", "--git", git_dir.to_str().unwrap()])
            .env("HOME", work.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "export-app: {}", text(&out));
        text(&out)
    };
    let first = run();
    assert!(first.contains("committed"), "{first}");
    assert_eq!(commits().len(), 1);
    assert!(
        commits()[0].starts_with("Structr application export"),
        "{:?}",
        commits()
    );
    assert!(git_dir.join("schema/schema.json").is_file());

    let second = run();
    assert!(second.contains("no change"), "{second}");
    assert_eq!(commits().len(), 1);

    // The application changes (a new type): the next export is a new commit.
    fs::write(sb.structr_dir.join("app.types"), "Project\nTask\nInvoice\n").unwrap();
    let third = run();
    assert!(third.contains("committed"), "{third}");
    assert_eq!(commits().len(), 2);
    assert!(git_dir.join("pages/invoice/invoice.html").is_file());
    let show = shell(
        &format!("git -C {} show --stat HEAD", git_dir.display()),
        Path::new("/"),
    );
    let show = String::from_utf8_lossy(&show.stdout).into_owned();
    assert!(
        show.contains("schema/schema.json") && show.contains("Structr version"),
        "{show}"
    );

    // Without --git, a new folder; a non-empty one is refused.
    let to = work.path().join("plain");
    let out = sb.cli(&["export-app", "--to", to.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(to.join("schema/schema.json").is_file());
    let out = sb.cli(&["export-app", "--to", to.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn restic_snapshot_holds_the_export() {
    let (sb, port) = sandbox(Kind::restic(), PASSWORD, true);
    let (id, log) = sb.backup_ok(&[]);
    assert!(log.contains("application export"), "{log}");
    assert!(!log.contains("export skipped"), "{log}");
    // The manifest comes back from the snapshot's tags.
    let show = sb.cli(&["show", &id, "--json"]);
    assert!(show.status.success(), "show: {}", text(&show));
    let m: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let names: Vec<&str> = m["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"app"), "{names:?}");

    let out_root = tempfile::tempdir().unwrap();
    let to = out_root.path().join("app");
    let out = sb.cli(&[
        "restore",
        &id,
        "--only",
        "app",
        "--to",
        to.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "restore --only app: {}", text(&out));
    let served = served_tree(port, PASSWORD, &out_root.path().join("served"));
    assert_eq!(contents(&to), served);

    let out = sb.cli(&["restore", &id, "-y", "--no-safety-backup"]);
    assert!(out.status.success(), "restore: {}", text(&out));
    assert!(find_named(sb.dir.path(), "schema.json").is_empty());
}
