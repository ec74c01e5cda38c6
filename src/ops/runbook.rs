//! Each generation's runbook, `RESTORE.md`: the exact commands that restore it by
//! hand with standard tools (sha256sum, zstd, GNU tar, or restic), written from the
//! manifest when the generation is made. It lives in the generation folder
//! (covered by `SHA256SUMS`) or in the restic snapshot, so whoever holds the
//! generation holds the way back without this program.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::{InstallationConfig, Kind, RepoKind};
use crate::install::ROLE_STRUCTR;
use crate::repo::manifest::{Component, Manifest};
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
            location: store.location().to_string(),
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

/// The runbook for `m`, with the service commands of the configuration in use.
pub fn render_configured(m: &Manifest, source: &Source, configured: &InstallationConfig) -> String {
    render_with(m, source, &controls(m, Some(configured)))
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
    // The names the owners had at backup time: restic's chown lines need them.
    let (users, groups) = (&m.owners.users, &m.owners.groups);
    let mut out = String::new();
    describe(&mut out, m, source);
    // The application export is Structr's own import's business, not the
    // installation's: the steps leave it out (see the README, Application export).
    let installed = Manifest {
        components: m
            .components
            .iter()
            .filter(|c| super::app_export::goes_into_installation(c))
            .cloned()
            .collect(),
        ..m.clone()
    };
    let m = &installed;
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
        true => restic_extract(&mut step, m, source, users, groups),
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
    let kernel = super::compat::kernel_line(m).unwrap_or_default();
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
        ("Neo4j store", kernel),
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
    let mut lines = Vec::new();
    match crate::repo::rclone::Rclone::parse(&source.location) {
        // An rclone target is brought here first; the check reads the local copy.
        Some(r) => {
            let gen = Path::new("/var/tmp/structr-restore").join(&m.id);
            lines.push(format!("GEN={}", qp(&gen)));
            lines.push(format!(
                "rclone copy {} \"$GEN\"",
                q(&format!("{}/{}", r.remote, m.id))
            ));
        }
        None => lines.push(format!(
            "GEN={}",
            qp(&Path::new(&source.location).join(&m.id))
        )),
    }
    lines.push("(cd \"$GEN\" && sha256sum -c SHA256SUMS)".to_string());
    step.block(
        "Check the generation",
        "`GEN` is the generation's folder; if you copied it elsewhere, set `GEN` to the copy. \
         Every line of `sha256sum` must say OK.",
        &lines,
    );
}

fn restic_location(step: &mut Steps, m: &Manifest, source: &Source) {
    let mut lines = vec![format!("export RESTIC_REPOSITORY={}", q(&source.location))];
    // The runbook travels with the generation: a credential in the location is
    // shown as *** and has to be typed in by whoever follows it.
    if source.location.contains(crate::secrets::REDACTED) {
        lines.insert(
            0,
            format!(
                "# replace {} in RESTIC_REPOSITORY with the repository's password",
                crate::secrets::REDACTED
            ),
        );
    }
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

/// Reads a runbook file, never through a symlink (a planted link would make us
/// print what it points to) and only a regular file of a runbook's size.
fn read_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(fail)?;
    let meta = f.metadata().map_err(fail)?;
    if !meta.is_file() || meta.len() > MAX_LEN {
        return Err(format!(
            "{} is not a runbook (not a plain file of at most 1 MiB)",
            path.display()
        ));
    }
    let mut text = String::new();
    f.take(MAX_LEN).read_to_string(&mut text).map_err(fail)?;
    Ok(text)
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

/// Why a generation's own runbook is not shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotStored {
    /// There is none to read (older generations were made without one): one can
    /// be written from the manifest instead.
    Missing(String),
    /// The file differs from what `SHA256SUMS` sealed: someone changed it after
    /// the backup, so it is not printed, and nothing is printed in its place.
    Changed(String),
}

/// The runbook a generation carries, or why it is not shown. A folder or rclone
/// generation's runbook is shown only when it matches `SHA256SUMS` (a reader at
/// 3 a.m. runs what it says; `verify` would catch a planted line, so must this).
/// The text is made safe for a terminal (it comes from the repository, which is
/// untrusted input): control characters other than newlines and tabs become `?`.
pub fn stored(store: &Store, m: &Manifest) -> Result<String, NotStored> {
    let text = stored_raw(store, m).map_err(NotStored::Missing)?;
    let sums = match store {
        Store::Archive(repo) => Some(
            std::fs::read_to_string(repo.path_of(&m.id).join(crate::repo::files::SUMS))
                .map_err(|e| e.to_string()),
        ),
        Store::Rclone(r) => Some(
            r.cat(&m.id, crate::repo::files::SUMS)
                .map_err(|e| e.to_string()),
        ),
        // restic checks every blob it reads against its hash.
        Store::Restic(_) => None,
    };
    if let Some(sums) = sums {
        check_sealed(&text, sums).map_err(|why| {
            NotStored::Changed(format!(
                "the runbook {FILE} of generation {} was changed after the backup ({why}), so it is not shown. Run `structr-backup verify {}` to check the whole generation",
                m.id, m.id
            ))
        })?;
    }
    Ok(text).map(|text| {
        text.chars()
            .map(|c| match c {
                '\n' | '\t' => c,
                c if crate::text::is_unprintable(c) => '?',
                c => c,
            })
            .collect()
    })
}

/// Whether `text` is the runbook `SHA256SUMS` (its text, or why it cannot be read) lists.
fn check_sealed(text: &str, sums: Result<String, String>) -> Result<(), String> {
    use sha2::Digest;
    let sums = sums.map_err(|e| format!("SHA256SUMS cannot be read: {e}"))?;
    let listed = sums
        .lines()
        .filter_map(|l| l.split_once("  "))
        .find(|(_, name)| *name == FILE)
        .map(|(hash, _)| hash.to_string())
        .ok_or_else(|| format!("it is not listed in {}", crate::repo::files::SUMS))?;
    let actual: String = sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    match actual == listed {
        true => Ok(()),
        false => Err(format!("sha256 {actual}, SHA256SUMS says {listed}")),
    }
}

/// A runbook longer than this is not one of ours.
const MAX_LEN: u64 = 1 << 20;

fn stored_raw(store: &Store, m: &Manifest) -> Result<String, String> {
    match store {
        Store::Archive(repo) => read_file(&repo.path_of(&m.id).join(FILE)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::manifest::{Timings, FORMAT_VERSION};
    use chrono::TimeZone;

    /// The ```sh blocks of a runbook, in order, as one script (what a reader runs).
    fn shell_blocks(runbook: &str) -> String {
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

    fn component(name: &str, role: &str, source: &str) -> Component {
        Component {
            name: name.into(),
            role: role.into(),
            source: source.into(),
            archive: format!("{name}.tar.zst"),
            index: format!("{name}.files"),
            files: 3,
            entries: 4,
            bytes: 4096,
            archive_size: 100,
            sha256: "ab".repeat(32),
        }
    }

    fn manifest(installation: &str, components: Vec<Component>) -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            id: "20261124T031500Z".into(),
            created_at: chrono::Utc
                .with_ymd_and_hms(2026, 11, 24, 3, 15, 0)
                .unwrap(),
            host: "old-server".into(),
            installation: installation.into(),
            tool_version: "0.1.0".into(),
            label: String::new(),
            pinned: false,
            last_verified: None,
            last_drill: None,
            timings: Timings::default(),
            versions: [("neo4j".to_string(), "5.26.0".to_string())].into(),
            neo4j_kernel: Default::default(),
            services_already_stopped: vec![],
            components,
            snapshot: None,
            added_bytes: None,
            snapshot_backup: None,
            restoring: None,
            owners: Default::default(),
        }
    }

    fn systemd() -> Manifest {
        manifest(
            "systemd",
            vec![
                component("neo4j-data", "neo4j-data", "/var/lib/neo4j/data"),
                component("structr", "structr", "/usr/lib/structr"),
            ],
        )
    }

    /// The lines of the `sh` blocks, in order.
    fn lines(runbook: &str) -> Vec<String> {
        shell_blocks(runbook).lines().map(String::from).collect()
    }

    fn position(lines: &[String], want: &str) -> usize {
        lines
            .iter()
            .position(|l| l == want)
            .unwrap_or_else(|| panic!("{want:?} in {lines:#?}"))
    }

    #[test]
    fn systemd_archive_runbook_stops_checks_extracts_by_name_and_starts_in_order() {
        let text = render(&systemd(), RepoKind::Archive, "/var/backups/structr");
        assert!(text.starts_with("# Restoring generation 20261124T031500Z by hand\n"));
        assert!(
            text.contains("| `neo4j-data` | `neo4j-data` | `/var/lib/neo4j/data` | 3 | 4.0 KiB |")
        );
        assert!(text.contains("- Versions: `neo4j 5.26.0`"));
        let l = lines(&text);
        let order = [
            "GEN=/var/backups/structr/20261124T031500Z",
            "(cd \"$GEN\" && sha256sum -c SHA256SUMS)",
            "systemctl stop structr",
            "systemctl stop neo4j",
            "test ! -e /var/lib/neo4j/data || mv -T /var/lib/neo4j/data /var/lib/neo4j/data.before-restore",
            "mkdir -p /var/lib/neo4j/data",
            "zstd -dc \"$GEN\"/neo4j-data.tar.zst | tar --xattrs --xattrs-include='*' -xp -C /var/lib/neo4j/data",
            "systemctl start neo4j",
            "systemctl start structr",
            "systemctl is-active neo4j structr",
            "rm -rf /usr/lib/structr.before-restore",
        ];
        let at: Vec<usize> = order.iter().map(|w| position(&l, w)).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{l:#?}");
        assert!(!text.contains("--numeric-owner"), "tar maps owners by name");
        assert!(l.iter().any(|x| x.contains("/usr/lib/structr/structr.conf")
            && x.contains("application\\.http\\.port")));
    }

    #[test]
    fn an_rclone_target_is_copied_here_before_the_check() {
        let l = lines(&render(
            &systemd(),
            RepoKind::Archive,
            "rclone:office:structr backups",
        ));
        let order = [
            "GEN=/var/tmp/structr-restore/20261124T031500Z",
            "rclone copy 'office:structr backups/20261124T031500Z' \"$GEN\"",
            "(cd \"$GEN\" && sha256sum -c SHA256SUMS)",
        ];
        let at: Vec<usize> = order.iter().map(|w| position(&l, w)).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{l:#?}");
    }

    #[test]
    fn configured_units_and_commands_are_used_for_their_own_kind_only() {
        let mut config = InstallationConfig {
            structr_unit: "structr-prod.service".into(),
            ..Default::default()
        };
        let c = controls(&systemd(), Some(&config));
        assert_eq!(c.stop[0], "systemctl stop structr-prod.service");
        config.kind = Kind::Custom;
        config.neo4j = Some(crate::config::ServiceCommands {
            start: "/opt/n4j/bin/neo4j start".into(),
            stop: "/opt/n4j/bin/neo4j stop".into(),
            status: "/opt/n4j/bin/neo4j status".into(),
        });
        config.structr = Some(crate::config::ServiceCommands {
            start: "'/opt/my structr/start'".into(),
            stop: "\"/opt/my structr/stop\" --now".into(),
            status: "pgrep -f org.structr.Server".into(),
        });
        // A custom configuration says nothing about a systemd generation.
        assert_eq!(
            controls(&systemd(), Some(&config)).stop[0],
            "systemctl stop structr"
        );
        let custom = manifest("custom", systemd().components);
        let c = controls(&custom, Some(&config));
        assert_eq!(
            c.stop,
            ["'/opt/my structr/stop' --now", "/opt/n4j/bin/neo4j stop"]
        );
        assert_eq!(
            c.start,
            ["/opt/n4j/bin/neo4j start", "'/opt/my structr/start'"]
        );
        assert!(controls(&custom, None).stop[0].starts_with("# "));
    }

    #[test]
    fn compose_runbook_creates_missing_volumes_and_uses_the_project_file() {
        let m = manifest(
            "compose",
            vec![
                component(
                    "structr-neo4j-database",
                    "neo4j:/data",
                    "/var/lib/docker/volumes/structr-neo4j-database/_data",
                ),
                component("compose-project", "compose-project", "/opt/docker setup"),
            ],
        );
        let l = lines(&render(&m, RepoKind::Archive, "/backups"));
        let f = "docker compose -f '/opt/docker setup/docker-compose.yml'";
        let order = [
            format!("{f} stop"),
            "docker volume create structr-neo4j-database >/dev/null".to_string(),
            "mkdir -p /var/lib/docker/volumes/structr-neo4j-database/_data".to_string(),
            format!("{f} up -d"),
        ];
        let at: Vec<usize> = order.iter().map(|w| position(&l, w)).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{l:#?}");
        assert_eq!(
            l.iter()
                .filter(|x| x.starts_with("docker volume create"))
                .count(),
            1,
            "the project folder is no volume"
        );
    }

    #[test]
    fn restic_runbook_restores_beside_the_target_and_moves_it_in() {
        let source = Source {
            kind: RepoKind::Restic,
            location: "sftp:backup@nas:/structr".into(),
            password_file: Some("/etc/structr-backup/restic-password".into()),
            options: vec!["sftp.command=ssh nas -s sftp".into()],
        };
        let mut m = systemd();
        m.owners.users.insert(107, "neo4j".into());
        m.owners.groups.insert(113, "neo4j".into());
        let text = render_with(&m, &source, &controls(&m, None));
        let l = lines(&text);
        let moved = position(
            &l,
            "mv -T /var/lib/neo4j/data.restic-20261124T031500Z/var/lib/neo4j/data /var/lib/neo4j/data",
        );
        let chown = position(
            &l,
            "find /var/lib/neo4j/data \\( -uid 107 ! -user neo4j -exec chown -h neo4j {} + \\)",
        );
        assert!(
            moved < chown,
            "owners are mapped once the folder is in place"
        );
        for want in [
            "export RESTIC_REPOSITORY=sftp:backup@nas:/structr",
            "export RESTIC_PASSWORD_FILE=/etc/structr-backup/restic-password",
            "restic -o 'sftp.command=ssh nas -s sftp' check",
            "restic -o 'sftp.command=ssh nas -s sftp' restore latest --tag id:20261124T031500Z --include /usr/lib/structr --target /usr/lib/structr.restic-20261124T031500Z --verify",
            "mv -T /usr/lib/structr.restic-20261124T031500Z/usr/lib/structr /usr/lib/structr",
            "rm -rf /usr/lib/structr.restic-20261124T031500Z",
        ] {
            position(&l, want);
        }
    }

    #[test]
    fn chown_lines_map_each_recorded_number_to_its_name_once() {
        let users = [(107, "neo4j".to_string()), (112, "structr".to_string())].into();
        let groups = [(113, "neo4j".to_string())].into();
        let l = chown_by_name(Path::new("/var/lib/neo4j/data"), &users, &groups);
        assert_eq!(
            l,
            [
                "find /var/lib/neo4j/data \\( -uid 107 ! -user neo4j -exec chown -h neo4j {} + \\) -o \\( -uid 112 ! -user structr -exec chown -h structr {} + \\)",
                "find /var/lib/neo4j/data \\( -gid 113 ! -group neo4j -exec chgrp -h neo4j {} + \\)",
            ]
        );
        assert!(chown_by_name(Path::new("/x"), &BTreeMap::new(), &BTreeMap::new()).is_empty());
    }

    /// Two numbers that swapped owners: each file is changed once, so nothing is
    /// mapped twice (a chown per user in turn would give both files one owner).
    #[test]
    #[ignore = "needs root to change owners: scripts/test runs it (cargo test --lib -- --ignored)"]
    fn swapped_numbers_do_not_chain() {
        use std::os::unix::fs::MetadataExt;
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test changes owners: run it as root (scripts/test does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"a").unwrap();
        std::fs::write(&b, b"b").unwrap();
        std::os::unix::fs::lchown(&b, Some(65534), Some(65534)).unwrap();
        // Recorded: uid 0 was "nobody" and uid 65534 was "root" on the old machine.
        let users = [(0, "nobody".to_string()), (65534, "root".to_string())].into();
        for line in chown_by_name(dir.path(), &users, &BTreeMap::new()) {
            let out = std::process::Command::new("bash")
                .args(["-c", &line])
                .output()
                .unwrap();
            assert!(out.status.success(), "{line}: {out:?}");
        }
        let uid = |p: &Path| std::fs::symlink_metadata(p).unwrap().uid();
        assert_eq!((uid(&a), uid(&b)), (65534, 0));
    }

    #[test]
    fn shell_blocks_are_the_sh_fences_only() {
        let md = "# t\n```sh\none\n```\ntext\n```\nnot sh\n```\n```sh\ntwo\n```\n";
        assert_eq!(shell_blocks(md), "one\ntwo\n");
    }
}
