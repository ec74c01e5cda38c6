//! Each generation's runbook, `RESTORE.md`: the exact commands that restore it by
//! hand with standard tools (sha256sum, zstd, GNU tar, or restic), written from the
//! manifest when the generation is made. It lives in the generation folder
//! (covered by `SHA256SUMS`) or in the restic snapshot, so whoever holds the
//! generation holds the way back without this program.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::config::{InstallationConfig, Kind, RepoKind};
use crate::install::ROLE_STRUCTR;
use crate::repo::generation::{Component, Manifest};
use crate::repo::store::Store;

/// The runbook's file name, in a generation folder and in a restic snapshot.
pub const FILE: &str = "RESTORE.md";

/// The suffix of the folders a restore by hand puts aside.
const ASIDE: &str = ".before-restore";

/// Where the generation is, as the commands must name it.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub kind: RepoKind,
    /// The repository as the user wrote it (a folder, or any restic backend).
    pub location: String,
    /// restic: the password file (a file name, never the password).
    pub password_file: Option<PathBuf>,
    /// restic: extended options, `-o key=value` each.
    pub options: Vec<String>,
}

impl Source {
    pub fn of(store: &Store) -> Source {
        let (password_file, options) = match store {
            Store::Restic(r) => (Some(r.password_file.clone()), r.options.clone()),
            Store::Archive(_) | Store::Rclone(_) => (None, Vec::new()),
        };
        Source {
            kind: store.kind(),
            location: store.location(),
            password_file,
            options,
        }
    }
}

/// Shell lines that control the services, in the order they run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Controls {
    /// Structr first, then Neo4j.
    pub stop: Vec<String>,
    /// Neo4j first, then Structr.
    pub start: Vec<String>,
    /// Lines that succeed once both run (status commands, health checks).
    pub check: Vec<String>,
}

/// The installation part of the configuration in use, so that generations written
/// by this process name its service commands. The operations' context is built in
/// several places (some not ours to change), so it is remembered here once, by
/// `Context::new`, instead of travelling in every context.
static CONFIGURED: Mutex<Option<InstallationConfig>> = Mutex::new(None);

pub fn remember(config: &InstallationConfig) {
    if let Ok(mut c) = CONFIGURED.lock() {
        *c = Some(config.clone());
    }
}

fn configured() -> Option<InstallationConfig> {
    CONFIGURED.lock().ok().and_then(|c| c.clone())
}

/// The runbook for `m`, with the service commands of the configuration in use.
pub fn render_configured(m: &Manifest, source: &Source) -> String {
    render_with(m, source, &controls(m, configured().as_ref()))
}

/// The runbook for `m` in a repository of `kind` at `location`, with the service
/// commands a standard installation of the manifest's kind uses.
pub fn render(m: &Manifest, kind: RepoKind, location: &str) -> String {
    let source = Source {
        kind,
        location: location.to_string(),
        password_file: None,
        options: Vec::new(),
    };
    render_with(m, &source, &controls(m, None))
}

/// How the services of the installation `m` was taken from are controlled: by the
/// configuration when it describes that kind, else the standard units and files.
pub fn controls(m: &Manifest, config: Option<&InstallationConfig>) -> Controls {
    let config = config.filter(|c| c.kind == Kind::Auto || c.kind.to_string() == m.installation);
    match m.installation.as_str() {
        "systemd" => systemd_controls(m, config),
        "compose" => compose_controls(m, config),
        _ => custom_controls(config),
    }
}

fn systemd_controls(m: &Manifest, config: Option<&InstallationConfig>) -> Controls {
    let (structr, neo4j) = match config {
        Some(c) => (c.structr_unit.clone(), c.neo4j_unit.clone()),
        None => ("structr".to_string(), "neo4j".to_string()),
    };
    let unit = |verb: &str, u: &str| format!("systemctl {verb} {}", q(u));
    let mut check = vec![format!("systemctl is-active {} {}", q(&neo4j), q(&structr))];
    check.extend(structr_health(m));
    Controls {
        stop: vec![unit("stop", &structr), unit("stop", &neo4j)],
        start: vec![unit("start", &neo4j), unit("start", &structr)],
        check,
    }
}

/// Waits (up to 10 minutes) for Structr's readiness endpoint, on the HTTP port its
/// restored structr.conf names (8082, Structr's default, when it names none).
fn structr_health(m: &Manifest) -> Vec<String> {
    let Some(c) = m.components.iter().find(|c| c.role == ROLE_STRUCTR) else {
        return Vec::new();
    };
    let conf = c.source.join("structr.conf");
    vec![
        format!(
            "PORT=$(sed -n 's/^[[:space:]]*application\\.http\\.port[[:space:]]*=[[:space:]]*//p' {} | tail -n 1)",
            qp(&conf)
        ),
        "timeout 600 sh -c 'until curl -fsS -o /dev/null \"http://127.0.0.1:${1:-8082}/structr/health/ready\"; do sleep 5; done' sh \"$PORT\"".to_string(),
    ]
}

fn compose_controls(m: &Manifest, config: Option<&InstallationConfig>) -> Controls {
    let project = m
        .components
        .iter()
        .find(|c| c.role == "compose-project")
        .map(|c| c.source.clone());
    let file = config
        .and_then(|c| c.compose_file.clone())
        .or_else(|| project.map(|p| p.join("docker-compose.yml")))
        .unwrap_or_else(|| PathBuf::from("docker-compose.yml"));
    let compose = |verb: &str| format!("docker compose -f {} {verb}", qp(&file));
    Controls {
        // `stop` keeps the containers; `up -d` makes them again on a fresh host.
        stop: vec![compose("stop")],
        start: vec![compose("up -d")],
        check: vec![
            compose("ps"),
            "timeout 600 sh -c 'until curl -fsS -o /dev/null http://127.0.0.1:8082/structr/health/ready; do sleep 5; done'".to_string(),
        ],
    }
}

/// The configured command lines, quoted again so a shell runs exactly the argv
/// this program runs; without a configuration there is nothing exact to say.
fn custom_controls(config: Option<&InstallationConfig>) -> Controls {
    let (Some(neo4j), Some(structr)) = (
        config.and_then(|c| c.neo4j.as_ref()),
        config.and_then(|c| c.structr.as_ref()),
    ) else {
        let say = |what: &str| format!("# {what} the way this installation does (kind custom)");
        return Controls {
            stop: vec![say("stop Structr, then Neo4j,")],
            start: vec![say("start Neo4j, then Structr,")],
            check: vec![say("check that both run")],
        };
    };
    let line = |s: &str| match shell_words::split(s) {
        Ok(argv) => shell_words::join(argv),
        Err(_) => s.to_string(),
    };
    Controls {
        stop: vec![line(&structr.stop), line(&neo4j.stop)],
        start: vec![line(&neo4j.start), line(&structr.start)],
        check: vec![line(&neo4j.status), line(&structr.status)],
    }
}

/// The runbook: what the generation is, then numbered steps of shell blocks.
pub fn render_with(m: &Manifest, source: &Source, controls: &Controls) -> String {
    // owners: wired when Manifest.owners lands (uid/gid → name at backup time).
    let (users, groups) = (BTreeMap::new(), BTreeMap::new());
    let mut out = String::new();
    describe(&mut out, m, source);
    let restic = source.kind == RepoKind::Restic;
    let mut step = Steps::new(&mut out);
    match restic {
        true => restic_location(&mut step, m, source),
        false => archive_location(&mut step, m, source),
    }
    step.block(
        "Stop the services, Structr first, then Neo4j",
        "",
        &controls.stop,
    );
    put_aside(&mut step, m);
    match restic {
        true => restic_extract(&mut step, m, source, &users, &groups),
        false => archive_extract(&mut step, m),
    }
    step.block(
        "Start the services, Neo4j first, then Structr",
        "",
        &controls.start,
    );
    step.block(
        "Check that they run",
        "Each command must succeed.",
        &controls.check,
    );
    let aside: Vec<String> = m
        .components
        .iter()
        .map(|c| format!("rm -rf {}", qp(&aside(&c.source))))
        .collect();
    step.block(
        "Remove the folders put aside",
        "Only once Structr works and its data is all there: until then they are the way back.",
        &aside,
    );
    out
}

fn describe(out: &mut String, m: &Manifest, source: &Source) {
    let _ = writeln!(out, "# Restoring generation {} by hand\n", m.id);
    let _ = writeln!(
        out,
        "Written by structr-backup {} when the generation was made. It restores this \
         generation with standard tools alone; `structr-backup restore {}` does the same \
         with every check.\n",
        m.tool_version, m.id
    );
    let repo = match source.kind {
        RepoKind::Restic => "restic repository",
        RepoKind::Archive => "archive repository",
    };
    let versions: Vec<String> = m.versions.iter().map(|(k, v)| format!("{k} {v}")).collect();
    for (what, value) in [
        ("Generation", m.id.clone()),
        (
            "Created",
            m.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        ),
        ("Host", m.host.clone()),
        ("Installation", m.installation.clone()),
        ("Label", m.label.clone()),
        ("Versions", versions.join(", ")),
        (repo, source.location.clone()),
    ] {
        if !value.is_empty() {
            let _ = writeln!(out, "- {what}: {}", cell(&value));
        }
    }
    let _ = writeln!(
        out,
        "\n| Component | Role | Source | Files | Size |\n|---|---|---|---|---|"
    );
    for c in &m.components {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&c.name),
            cell(&c.role),
            cell(&c.source.to_string_lossy()),
            c.files,
            crate::units::bytes(c.bytes)
        );
    }
    let _ = writeln!(
        out,
        "\nRun the blocks below as root, in order, in one shell, and stop at the first \
         command that fails. The paths are those of the machine the generation was taken \
         from: where this machine differs, change them in every command."
    );
}

/// Text in a Markdown line or table cell: inline code, with what would end it replaced.
fn cell(s: &str) -> String {
    format!("`{}`", s.replace(['`', '|', '\n', '\r'], "?"))
}

fn archive_location(step: &mut Steps, m: &Manifest, source: &Source) {
    let gen = Path::new(&source.location).join(&m.id);
    step.block(
        "Check the generation",
        "`GEN` is the generation's folder; if you copied it elsewhere, set `GEN` to the copy. \
         Every line of `sha256sum` must say OK.",
        &[
            format!("GEN={}", qp(&gen)),
            "(cd \"$GEN\" && sha256sum -c SHA256SUMS)".to_string(),
        ],
    );
}

fn restic_location(step: &mut Steps, m: &Manifest, source: &Source) {
    let mut lines = vec![format!("export RESTIC_REPOSITORY={}", q(&source.location))];
    match &source.password_file {
        Some(p) => lines.push(format!("export RESTIC_PASSWORD_FILE={}", qp(p))),
        None => lines.push("export RESTIC_PASSWORD_FILE=/path/to/the/password-file".into()),
    }
    lines.push(format!("{} check", restic_cmd(source)));
    lines.push(format!(
        "{} snapshots --tag {}",
        restic_cmd(source),
        q(&id_tag(m))
    ));
    step.block(
        "Check the repository",
        "The password file is the one the repository was made with (without it nothing \
         can be restored). `restic snapshots` must list this generation.",
        &lines,
    );
}

fn id_tag(m: &Manifest) -> String {
    crate::repo::restic::tags::id_tag(&m.id)
}

fn restic_cmd(source: &Source) -> String {
    let mut argv = vec!["restic".to_string()];
    for o in &source.options {
        argv.push("-o".into());
        argv.push(o.clone());
    }
    shell_words::join(argv)
}

fn aside(target: &Path) -> PathBuf {
    let mut s = target.as_os_str().to_os_string();
    s.push(ASIDE);
    PathBuf::from(s)
}

fn put_aside(step: &mut Steps, m: &Manifest) {
    let lines: Vec<String> = m
        .components
        .iter()
        .map(|c| {
            let t = qp(&c.source);
            format!("test ! -e {t} || mv -T {t} {}", qp(&aside(&c.source)))
        })
        .collect();
    step.block(
        "Put the current folders aside",
        "They stay beside their new contents until the last step (a folder left aside by an \
         earlier restore must be removed first).",
        &lines,
    );
}

/// A compose component's named volume: its folder is `…/volumes/<name>/_data`,
/// which `docker volume create` makes on a host that does not have it yet.
fn volume_of(c: &Component) -> Option<&str> {
    let vol_dir = c.source.parent()?;
    let is_volume = c.role.contains(':')
        && c.source.file_name()? == "_data"
        && vol_dir.file_name()?.to_str()? == c.name
        && vol_dir.parent()?.file_name()? == "volumes";
    is_volume.then_some(c.name.as_str())
}

fn archive_extract(step: &mut Steps, m: &Manifest) {
    let mut lines = Vec::new();
    for c in &m.components {
        if let Some(v) = volume_of(c) {
            lines.push(format!("docker volume create {} >/dev/null", q(v)));
        }
        let t = qp(&c.source);
        lines.push(format!("mkdir -p {t}"));
        lines.push(format!(
            "zstd -dc \"$GEN\"/{} | tar --xattrs --xattrs-include='*' -xp -C {t}",
            q(&c.archive)
        ));
    }
    step.block(
        "Restore each component",
        "GNU tar, run as root, gives every file the owner and group named in the archive \
         where that user or group exists here, and keeps the number otherwise: create missing \
         users and groups first (`getent passwd NAME`). Permissions, times, links, extended \
         attributes and ACLs come back as they were.",
        &lines,
    );
}

fn restic_extract(
    step: &mut Steps,
    m: &Manifest,
    source: &Source,
    users: &BTreeMap<u32, String>,
    groups: &BTreeMap<u32, String>,
) {
    let mut lines = Vec::new();
    for c in &m.components {
        if let Some(v) = volume_of(c) {
            lines.push(format!("docker volume create {} >/dev/null", q(v)));
        }
        // Unpacked beside the target (same file system), then moved into place.
        let unpack = {
            let mut s = c.source.as_os_str().to_os_string();
            s.push(format!(".restic-{}", m.id));
            PathBuf::from(s)
        };
        let inner = inside(&unpack, &c.source);
        lines.push(format!(
            "{} restore latest --tag {} --include {} --target {} --verify",
            restic_cmd(source),
            q(&id_tag(m)),
            qp(&c.source),
            qp(&unpack)
        ));
        lines.push(format!("mv -T {} {}", qp(&inner), qp(&c.source)));
        lines.push(format!("rm -rf {}", qp(&unpack)));
        lines.extend(chown_by_name(&c.source, users, groups));
    }
    step.block(
        "Restore each component",
        "restic gives files back their owners by number. Where a user or group has another \
         number here than on the machine the generation was taken from, the `find` lines \
         give each file back its owner by name (each file is changed once, so numbers that \
         swapped between users cannot mix up); create missing users and groups first. \
         Changing an owner clears setuid bits and file capabilities, as chown always does.",
        &lines,
    );
}

/// `source` (absolute) under `dir`, lexically.
fn inside(dir: &Path, source: &Path) -> PathBuf {
    let mut p = dir.to_path_buf();
    for part in source.components() {
        if let std::path::Component::Normal(n) = part {
            p.push(n);
        }
    }
    p
}

/// One `find` for users and one for groups: each file is looked at once and gets
/// the owner named for the number it had at backup time, unless that name already
/// has this number here.
pub fn chown_by_name(
    target: &Path,
    users: &BTreeMap<u32, String>,
    groups: &BTreeMap<u32, String>,
) -> Vec<String> {
    let clauses = |map: &BTreeMap<u32, String>, test: &str, name_test: &str, change: &str| {
        map.iter()
            .map(|(id, name)| {
                format!(
                    "\\( -{test} {id} ! -{name_test} {n} -exec {change} {n} {{}} + \\)",
                    n = q(name)
                )
            })
            .collect::<Vec<_>>()
            .join(" -o ")
    };
    let mut out = Vec::new();
    for (map, test, name_test, change) in [
        (users, "uid", "user", "chown -h"),
        (groups, "gid", "group", "chgrp -h"),
    ] {
        if !map.is_empty() {
            out.push(format!(
                "find {} {}",
                qp(target),
                clauses(map, test, name_test, change)
            ));
        }
    }
    out
}

/// Numbered steps, each a heading, a sentence and one `sh` block.
struct Steps<'a> {
    out: &'a mut String,
    n: usize,
}

impl<'a> Steps<'a> {
    fn new(out: &'a mut String) -> Self {
        Steps { out, n: 0 }
    }

    fn block(&mut self, title: &str, text: &str, lines: &[String]) {
        self.n += 1;
        let _ = writeln!(self.out, "\n## {}. {title}\n", self.n);
        if !text.is_empty() {
            let _ = writeln!(self.out, "{text}\n");
        }
        let _ = writeln!(self.out, "```sh");
        for l in lines {
            let _ = writeln!(self.out, "{l}");
        }
        let _ = writeln!(self.out, "```");
    }
}

fn q(s: &str) -> String {
    shell_words::quote(s).into_owned()
}

fn qp(p: &Path) -> String {
    q(&p.to_string_lossy())
}

/// The runbook a generation carries, or why there is none to read (older
/// generations were made without one).
pub fn stored(store: &Store, m: &Manifest) -> Result<String, String> {
    match store {
        Store::Archive(repo) => {
            let path = repo.path_of(&m.id).join(FILE);
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
        }
        Store::Rclone(r) => r.cat(&m.id, FILE).map_err(|e| e.to_string()),
        Store::Restic(r) => {
            let snapshot = m
                .snapshot
                .as_deref()
                .ok_or("the generation names no snapshot")?;
            let snaps = r.snapshots().map_err(|e| e.to_string())?;
            // The file's path is the state folder of the machine that made it: the
            // snapshot's paths say where.
            let path = snaps
                .iter()
                .find(|s| s.id == snapshot)
                .and_then(|s| {
                    s.paths
                        .iter()
                        .find(|p| p.file_name().is_some_and(|n| n == FILE))
                })
                .ok_or_else(|| format!("snapshot {snapshot} holds no {FILE}"))?;
            r.dump(snapshot, path).map_err(|e| e.to_string())
        }
    }
}

/// The ```sh blocks of a runbook, in order, as one script (what a reader runs).
pub fn shell_blocks(runbook: &str) -> String {
    let mut script = String::new();
    let mut inside = false;
    for line in runbook.lines() {
        match (inside, line.trim_end()) {
            (false, "```sh") => inside = true,
            (true, "```") => inside = false,
            (true, l) => {
                script.push_str(l);
                script.push('\n');
            }
            _ => {}
        }
    }
    script
}
