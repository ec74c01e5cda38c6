//! Shared test helpers: a sandbox installation of the stand-in Neo4j and Structr
//! (real processes driven through the `custom` service commands), running the
//! built binary, and comparing directory trees.
#![allow(dead_code)]

pub mod compose;
pub mod docker;
pub mod drill;
pub mod neo4j;
pub mod s3;
pub mod servers;
pub mod tree;
pub mod tui;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::Digest as _;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_structr-backup");
pub const STANDIN: &str = env!("CARGO_BIN_EXE_structr-standin");

/// The sandbox's repository kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Kind {
    #[default]
    Archive,
    /// A restic repository: `location` (default: the sandbox's `repo` folder),
    /// with `-o` options, and environment for restic (e.g. S3 keys).
    Restic {
        location: Option<String>,
        options: Vec<String>,
        env: Vec<(String, String)>,
    },
}

impl Kind {
    /// A restic repository in the sandbox's `repo` folder.
    pub fn restic() -> Self {
        Kind::Restic {
            location: None,
            options: vec![],
            env: vec![],
        }
    }
}

/// An `[[offsite]]` target of the sandbox's config.
#[derive(Clone, Debug)]
pub struct Offsite {
    pub name: String,
    pub path: String,
    pub options: Vec<String>,
}

/// How the sandbox's services are configured.
#[derive(Clone, Debug)]
pub struct Options {
    pub kind: Kind,
    pub offsite: Vec<Offsite>,
    /// Environment for every run of the binary (rclone remotes, S3 keys).
    pub env: Vec<(String, String)>,
    pub store_mb: u32,
    pub neo4j_ignore_sigterm: bool,
    pub stop_timeout_secs: u64,
    /// Replaces the structr start command (argv line) when set.
    pub structr_start: Option<String>,
    /// Replaces neo4j's start, stop and status commands (argv lines) when set.
    pub neo4j_commands: Option<[String; 3]>,
    /// Services that are only flag files (`touch`/`rm`/`test -e`): for tests about
    /// archive fidelity, where the trees must not change while we look at them.
    pub flag_services: bool,
    /// Leave `[application] export` at its default (on). Off by default here: the
    /// sandbox's stand-in Structr serves no HTTP unless a test starts it so, and
    /// port 8082 on the test machine may belong to anything.
    pub app_export: bool,
    /// Where the sandbox's folder is made (default: the temp folder).
    pub base: Option<PathBuf>,
    /// The `[maintenance]` section's lines. Off by default here: port 8082 on
    /// the test machine may belong to anything, and tests listen on 127.0.0.1 only.
    pub maintenance: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            kind: Kind::Archive,
            offsite: Vec::new(),
            env: Vec::new(),
            store_mb: 1,
            neo4j_ignore_sigterm: false,
            stop_timeout_secs: 20,
            structr_start: None,
            neo4j_commands: None,
            flag_services: false,
            app_export: false,
            base: None,
            maintenance: "enabled = false".into(),
        }
    }
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub neo4j_data: PathBuf,
    pub structr_dir: PathBuf,
    pub repo: PathBuf,
    pub config: PathBuf,
    pub run: PathBuf,
    pub opts: Options,
}

/// `p` quoted for a shell or a command line of the config.
pub fn q(p: &Path) -> String {
    shell_words::quote(&p.display().to_string()).into_owned()
}

/// `s` as a TOML string (quoted and escaped).
pub fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Rewrites the sandbox's config and appends `extra` (sections a test adds).
pub fn append_config(sb: &Sandbox, extra: &str) {
    sb.write_config();
    let mut c = std::fs::read_to_string(&sb.config).unwrap();
    c.push_str(extra);
    std::fs::write(&sb.config, c).unwrap();
}

/// A command's stdout as JSON; a panic showing all it said otherwise.
pub fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

impl Sandbox {
    pub fn new(opts: Options) -> Self {
        let dir = match &opts.base {
            Some(base) => tempfile::Builder::new()
                .prefix("sb-")
                .tempdir_in(base)
                .unwrap(),
            None => tempfile::Builder::new().prefix("sb-").tempdir().unwrap(),
        };
        let root = dir.path().to_path_buf();
        let run = root.join("run");
        std::fs::create_dir_all(&run).unwrap();
        let sb = Sandbox {
            neo4j_data: root.join("neo4j/data"),
            structr_dir: root.join("structr"),
            repo: root.join("repo"),
            config: root.join("config.toml"),
            run,
            dir,
            opts,
        };
        std::fs::create_dir_all(sb.neo4j_data.parent().unwrap()).unwrap();
        sb.write_config();
        sb
    }

    pub fn ctl(&self, action: &str, svc: &str) -> String {
        let pid = self.run.join(format!("{svc}.pid"));
        let log = self.run.join(format!("{svc}.log"));
        let port = self.run.join("bolt.port");
        if self.opts.flag_services {
            let flag = q(&self.run.join(format!("{svc}.up")));
            return match action {
                "start" => format!("touch {flag}"),
                "stop" => format!("rm -f {flag}"),
                _ => format!("test -e {flag}"),
            };
        }
        match action {
            "start" if svc == "neo4j" => format!(
                "{STANDIN} ctl start --pidfile {} --log {} --ready-file {} --timeout 20 -- {STANDIN} neo4j --data {} --bolt 127.0.0.1:0 --port-file {} --store-mb {}{}",
                q(&pid), q(&log), q(&port), q(&self.neo4j_data), q(&port), self.opts.store_mb,
                if self.opts.neo4j_ignore_sigterm { " --ignore-sigterm" } else { "" }
            ),
            "start" => format!(
                "{STANDIN} ctl start --pidfile {} --log {} --timeout 20 -- {STANDIN} structr --dir {} --bolt-port-file {} --interval-ms 10",
                q(&pid), q(&log), q(&self.structr_dir), q(&port)
            ),
            "stop" => format!("{STANDIN} ctl stop --pidfile {} --timeout {}", q(&pid), self.opts.stop_timeout_secs),
            _ => format!("{STANDIN} ctl status --pidfile {}", q(&pid)),
        }
    }

    pub fn write_config(&self) {
        let structr_start = self
            .opts
            .structr_start
            .clone()
            .unwrap_or_else(|| self.ctl("start", "structr"));
        let [neo4j_start, neo4j_stop, neo4j_status] =
            self.opts.neo4j_commands.clone().unwrap_or_else(|| {
                [
                    self.ctl("start", "neo4j"),
                    self.ctl("stop", "neo4j"),
                    self.ctl("status", "neo4j"),
                ]
            });
        let toml_str = |s: &str| toml::Value::String(s.to_string()).to_string();
        let toml_list = |v: &[String]| {
            let items: Vec<String> = v.iter().map(|s| toml_str(s)).collect();
            format!("[{}]", items.join(", "))
        };
        let repository = match &self.opts.kind {
            Kind::Archive => format!("path = {}", toml_str(&self.repo.display().to_string())),
            Kind::Restic {
                location, options, ..
            } => format!(
                "kind = \"restic\"\npath = {}\npassword_file = {}\noptions = {}",
                toml_str(
                    &location
                        .clone()
                        .unwrap_or_else(|| self.repo.display().to_string())
                ),
                toml_str(&self.password_file().display().to_string()),
                toml_list(options)
            ),
        };
        let mut offsite = String::new();
        for o in &self.opts.offsite {
            offsite.push_str(&format!(
                "\n[[offsite]]\nname = {}\npath = {}\noptions = {}\n",
                toml_str(&o.name),
                toml_str(&o.path),
                toml_list(&o.options)
            ));
        }
        let text = format!(
            r#"[repository]
{repository}
compression_level = 3

[installation]
kind = "custom"
neo4j_data = {data}
structr_dir = {sdir}
stop_timeout_secs = {timeout}
start_timeout_secs = 30
neo4j = {{ start = {n_start}, stop = {n_stop}, status = {n_status} }}
structr = {{ start = {s_start}, stop = {s_stop}, status = {s_status} }}

[retention]
keep_last = 2
keep_daily = 0
keep_weekly = 0
keep_monthly = 0

# The mirror (staging) lives in the sandbox, removed with it.
[staging]
folder = {staging}

[maintenance]
{maintenance}
{application}{offsite}"#,
            data = toml_str(&self.neo4j_data.display().to_string()),
            sdir = toml_str(&self.structr_dir.display().to_string()),
            timeout = self.opts.stop_timeout_secs,
            staging = toml_str(&self.dir.path().join("staging").display().to_string()),
            n_start = toml_str(&neo4j_start),
            n_stop = toml_str(&neo4j_stop),
            n_status = toml_str(&neo4j_status),
            s_start = toml_str(&structr_start),
            s_stop = toml_str(&self.ctl("stop", "structr")),
            s_status = toml_str(&self.ctl("status", "structr")),
            maintenance = self.opts.maintenance,
            application = if self.opts.app_export {
                ""
            } else {
                "\n[application]\nexport = false\n"
            },
        );
        std::fs::write(&self.config, text).unwrap();
    }

    fn sh(&self, line: &str) -> Output {
        let argv = shell_words::split(line).unwrap();
        Command::new(&argv[0]).args(&argv[1..]).output().unwrap()
    }

    /// Starts Neo4j then Structr and waits until Structr has written some files.
    pub fn start(&self) {
        for svc in ["neo4j", "structr"] {
            let out = self.sh(&self.ctl("start", svc));
            assert!(
                out.status.success(),
                "start {svc}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if self.opts.flag_services {
            return;
        }
        wait_until(Duration::from_secs(20), "structr writes files", || {
            self.file_count() >= 5
        });
    }

    pub fn stop(&self) {
        for svc in ["structr", "neo4j"] {
            self.sh(&self.ctl("stop", svc));
        }
    }

    pub fn running(&self, svc: &str) -> bool {
        self.sh(&self.ctl("status", svc)).status.success()
    }

    pub fn pid(&self, svc: &str) -> Option<i32> {
        std::fs::read_to_string(self.run.join(format!("{svc}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn file_count(&self) -> usize {
        tree::count_files(&self.structr_dir.join("files"))
    }

    /// Runs `structr-standin check` on a data dir and a structr dir.
    pub fn check_invariant(data: &Path, structr: &Path) -> Output {
        Command::new(STANDIN)
            .args(["check", "--data"])
            .arg(data)
            .arg("--dir")
            .arg(structr)
            .output()
            .unwrap()
    }

    /// A sandbox whose stand-in Structr serves HTTP (and the application export)
    /// on a free port that its structr.conf names, with superuser.password
    /// `conf_password`; both services running, a restic repository made.
    pub fn with_structr_http(opts: Options, conf_password: &str) -> (Sandbox, u16) {
        let mut sb = Sandbox::new(opts);
        let port = servers::free_port();
        std::fs::create_dir_all(&sb.structr_dir).unwrap();
        // The stand-in keeps an existing structr.conf; the real one is written by Structr's wizard.
        std::fs::write(
            sb.structr_dir.join("structr.conf"),
            format!("superuser.password = {conf_password}\napplication.http.port = {port}\n"),
        )
        .unwrap();
        sb.opts.structr_start = Some(format!(
            "{} --http 127.0.0.1:{port}",
            sb.ctl("start", "structr")
        ));
        sb.write_config();
        if matches!(sb.opts.kind, Kind::Restic { .. }) {
            sb.init();
        }
        // Sandbox::start runs its own start line; this one serves HTTP too.
        for line in [
            sb.ctl("start", "neo4j"),
            sb.opts.structr_start.clone().unwrap(),
        ] {
            let out = sb.sh(&line);
            assert!(out.status.success(), "{line}: {}", text(&out));
        }
        wait_until(Duration::from_secs(20), "structr writes files", || {
            sb.file_count() >= 5
        });
        assert!(
            servers::wait_for_port(port, Duration::from_secs(20)),
            "stand-in HTTP"
        );
        (sb, port)
    }

    /// Runs the built `structr-backup` with this sandbox's config.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_command(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    pub fn cli_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config").arg(&self.config).args(args);
        if let Kind::Restic { env, .. } = &self.opts.kind {
            c.envs(env.iter().map(|(k, v)| (k, v)));
        }
        c.envs(self.opts.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// `backup ARGS…`, which must succeed; returns what it said and the id of
    /// the generation it wrote (the newest).
    pub fn backup_ok(&self, args: &[&str]) -> (String, String) {
        let mut all = vec!["backup"];
        all.extend_from_slice(args);
        let out = self.cli(&all);
        assert!(out.status.success(), "backup {args:?}: {}", text(&out));
        (self.newest(), text(&out))
    }

    /// The newest generation's id.
    pub fn newest(&self) -> String {
        self.generations()
            .into_iter()
            .next()
            .expect("the repository holds a generation")
    }

    /// The entries of generation `id`'s `component` archive, as the real zstd
    /// and tar list them (one per line).
    pub fn archive_names(&self, id: &str, component: &str) -> String {
        let out = shell(
            &format!(
                "zstd -dc {} | tar -t",
                q(&self.repo.join(id).join(format!("{component}.tar.zst")))
            ),
            self.dir.path(),
        );
        assert!(out.status.success(), "zstd | tar -t: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The restic password file of a restic sandbox (made by `init`).
    pub fn password_file(&self) -> PathBuf {
        self.dir.path().join("restic-password")
    }

    /// `structr-backup init`, which must succeed.
    pub fn init(&self) {
        let out = self.cli(&["init"]);
        assert!(out.status.success(), "init: {}", text(&out));
    }

    /// Where this installation's journal lives (outside the repository), from `detect`.
    pub fn journal_path(&self) -> PathBuf {
        let out = self.cli(&["detect", "--json"]);
        assert!(out.status.success(), "detect: {}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        PathBuf::from(v["state"]["journal"].as_str().unwrap())
    }

    /// Ids of the generations in the repository, newest first.
    pub fn generations(&self) -> Vec<String> {
        let out = self.cli(&["list", "--json"]);
        assert!(out.status.success(), "list: {}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap().to_string())
            .collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop();
        // A service made to ignore SIGTERM is killed here, never left behind.
        for svc in ["structr", "neo4j"] {
            if let Some(pid) = self.pid(svc) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

/// A sandbox with flag services and a little data (`files/a.txt`, a store
/// file), started: for tests about what a run does, not about live writes.
pub fn flag_sandbox() -> Sandbox {
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    std::fs::create_dir_all(sb.structr_dir.join("files")).unwrap();
    std::fs::write(sb.structr_dir.join("files/a.txt"), "first").unwrap();
    std::fs::create_dir_all(sb.neo4j_data.join("databases/neo4j")).unwrap();
    std::fs::write(sb.neo4j_data.join("databases/neo4j/store"), "store").unwrap();
    sb.start();
    sb
}

/// A sandbox whose backup takes a while: a 300 MB incompressible store
/// compressed at level 19 on one thread (see [`slow_backup`]).
pub fn slow_sandbox() -> Sandbox {
    let sb = Sandbox::new(Options {
        store_mb: 300,
        ..Options::default()
    });
    // No staging: the slow compression is then inside the window, where these
    // tests kill, cancel or race the backup.
    let cfg = std::fs::read_to_string(&sb.config)
        .unwrap()
        .replace(
            "compression_level = 3",
            "compression_level = 19\nthreads = 1",
        )
        .replace("[staging]\n", "[staging]\nmode = \"off\"\n");
    std::fs::write(&sb.config, cfg).unwrap();
    sb
}

/// Starts a backup that takes a while (a larger, incompressible store at a slow
/// level) and returns once it is copying.
pub fn slow_backup(sb: &Sandbox) -> std::process::Child {
    let mut cmd = sb.cli_command(&["backup"]);
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(
        std::time::Duration::from_secs(30),
        "the backup copies",
        || {
            std::fs::read_dir(&sb.repo)
                .map(|d| {
                    d.flatten().any(|e| {
                        e.file_name().to_string_lossy().ends_with(".partial")
                            && e.path().join("neo4j-data.tar.zst").exists()
                    })
                })
                .unwrap_or(false)
        },
    );
    child
}

pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes `len` incompressible bytes (xorshift from `seed`) to `path`, making its folder.
pub fn write_random(path: &Path, len: usize, seed: u64) {
    let mut x = seed | 1;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a shell pipeline of standard tools (for cross-checks with tar, zstd, sha256sum).
pub fn shell(script: &str, dir: &Path) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Recomputes SHA256SUMS and the manifest's archive hashes after a test changed files.
pub fn reseal(dir: &std::path::Path) {
    let mut sums = String::new();
    let mut manifest = std::fs::read_to_string(dir.join("manifest.toml")).unwrap();
    for line in std::fs::read_to_string(dir.join("SHA256SUMS"))
        .unwrap()
        .lines()
    {
        let (old, name) = line.split_once("  ").unwrap();
        let new: String = sha2::Sha256::digest(std::fs::read(dir.join(name)).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        manifest = manifest.replace(old, &new);
        sums.push_str(&format!("{new}  {name}\n"));
    }
    std::fs::write(dir.join("SHA256SUMS"), sums).unwrap();
    std::fs::write(dir.join("manifest.toml"), manifest).unwrap();
}

/// A tmpfs mounted for a test (owner-only, like a repository must be); unmounted
/// lazily on drop, so a failing test leaves no mount behind.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    pub fn mount(at: &Path, size: &str) -> Tmpfs {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test mounts a tmpfs: run the suite as root (scripts/test)"
        );
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount tmpfs on {}: {}",
            at.display(),
            text(&out)
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Every process below `root` (its children, theirs…), as (pid, command line).
pub fn descendants(root: u32) -> Vec<(u32, String)> {
    let mut parent: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
    let mut cmdline = std::collections::HashMap::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
        else {
            continue;
        };
        parent.insert(pid, ppid);
        if let Ok(raw) = std::fs::read(e.path().join("cmdline")) {
            cmdline.insert(pid, String::from_utf8_lossy(&raw).replace('\0', " "));
        }
    }
    let below = |mut pid: u32| {
        while let Some(&p) = parent.get(&pid) {
            if p == root {
                return true;
            }
            if p <= 1 {
                return false;
            }
            pid = p;
        }
        false
    };
    cmdline
        .into_iter()
        .filter(|(pid, _)| *pid != root && below(*pid))
        .collect()
}
