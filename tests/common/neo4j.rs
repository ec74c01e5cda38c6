//! A real Neo4j Community for the tests (issue 21): Neo4j's own jars from Maven
//! Central and our launcher, built and cached by `scripts/neo4j-real` (see there
//! and tests/neo4j). This module starts it on a data folder laid out as the
//! Debian package lays it out (`<home>/conf/neo4j.conf`, `<home>/data`,
//! `<home>/logs`), with Bolt on 127.0.0.1 at a free port, writes graphs over
//! Bolt (our small client, `structr_backup::standin::bolt`), stops it with
//! SIGTERM or kills it with SIGKILL, and asks Neo4j's own tooling about a store:
//! `facts` (format, recovery state, counts, checksum) and `check`
//! (`neo4j-admin database check`). Without Java or Maven the tests fail with
//! what to run; they are never skipped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use structr_backup::standin::bolt::{Auth, Client, Value};

use super::servers::free_port;

/// The LTS release every test runs on (scripts/neo4j-real's default).
pub const LTS: &str = "5.26";
/// The second pinned release (a 2025.x on the Temurin JDK 25; see scripts/neo4j-real).
pub const CALVER: &str = "2025";

/// JVM start, store creation and Bolt on a loaded two-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(240);
/// neo4j.service's TimeoutSec.
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

/// The cache folder of a Neo4j release (`bin/neo4j-launcher`, `bin/neo4j-admin`,
/// `lib/`), built once per test process by scripts/neo4j-real (a no-op when
/// cached). For the LTS release `$STRUCTR_BACKUP_NEO4J` names it when set, as
/// scripts/test does.
pub fn cache(version: &str) -> PathBuf {
    static CACHES: OnceLock<Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let mut caches = CACHES.get_or_init(Default::default).lock().unwrap();
    if let Some((_, dir)) = caches.iter().find(|(v, _)| v == version) {
        return dir.clone();
    }
    let dir = match std::env::var_os("STRUCTR_BACKUP_NEO4J") {
        Some(dir) if version == LTS => PathBuf::from(dir),
        _ => build(version),
    };
    assert!(
        dir.join("bin/neo4j-launcher").is_file(),
        "no Neo4j launcher in {} (set by STRUCTR_BACKUP_NEO4J or built by scripts/neo4j-real): run scripts/neo4j-real",
        dir.display()
    );
    caches.push((version.to_string(), dir.clone()));
    dir
}

fn build(version: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/neo4j-real");
    let out = Command::new("bash")
        .arg(&script)
        .env("STRUCTR_BACKUP_NEO4J_VERSION", version)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "scripts/neo4j-real could not build Neo4j {version} (it needs Maven, a JDK and Maven Central; \
         as root it installs Debian's maven and default-jdk-headless): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn launcher(version: &str) -> Command {
    let mut c = Command::new(cache(version).join("bin/neo4j-launcher"));
    c.stdin(Stdio::null());
    c
}

/// A running real Neo4j (SIGKILLed on drop if still running).
pub struct Neo4j {
    pub version: String,
    /// Like /var/lib/neo4j: `conf/neo4j.conf`, `logs/`, `launcher.log` (stdout and stderr).
    pub home: PathBuf,
    /// server.directories.data, like /var/lib/neo4j/data.
    pub data: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Neo4j {
    /// Starts the LTS release on `home/data`.
    pub fn start(home: &Path) -> Neo4j {
        Neo4j::start_version(LTS, home, &home.join("data"))
    }

    /// Starts `version` with `home` as NEO4J_HOME on the data folder `data`, and
    /// waits until it prints `Started.`. A port taken meanwhile is retried.
    pub fn start_version(version: &str, home: &Path, data: &Path) -> Neo4j {
        let conf = home.join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(
            conf.join("neo4j.conf"),
            format!(
                "# Like Debian's /etc/neo4j/neo4j.conf, for a test.\n\
                 server.directories.data={}\n\
                 server.memory.pagecache.size=128m\n",
                data.display()
            ),
        )
        .unwrap();
        let log = home.join("launcher.log");
        for _ in 0..3 {
            let port = free_port();
            let out = File::create(&log).unwrap();
            let mut child = launcher(version)
                .arg("serve")
                .arg("--home")
                .arg(home)
                .arg("--conf")
                .arg(&conf)
                .arg("--data")
                .arg(data)
                .args(["--bolt", &format!("127.0.0.1:{port}")])
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start the Neo4j launcher: {e}"));
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                if said.lines().any(|l| l == "Started.") {
                    return Neo4j {
                        version: version.to_string(),
                        home: home.to_path_buf(),
                        data: data.to_path_buf(),
                        port,
                        child: Some(child),
                    };
                }
                if let Some(status) = child.try_wait().unwrap() {
                    if said.contains("Address already in use") {
                        break;
                    }
                    panic!("Neo4j {version} exited ({status}) before it served Bolt on 127.0.0.1:{port}:\n{said}");
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("Neo4j {version} did not print 'Started.' within {START_TIMEOUT:?}:\n{said}");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!(
            "Neo4j: every free port was taken before it could listen:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub fn bolt(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("Neo4j is not running").id() as i32
    }

    /// What the launcher printed (Neo4j's user log included).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("launcher.log")).unwrap_or_default()
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.bolt(), Auth::None, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("Bolt connection to Neo4j at {}: {e}", self.bolt()))
    }

    /// Runs one auto-commit query; panics with Neo4j's reason when it fails.
    pub fn run(&self, query: &str, params: Vec<(&str, Value)>) -> Vec<Vec<Value>> {
        let mut c = self.client();
        let rows = c
            .run(query, params)
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        c.close();
        rows
    }

    /// Writes `n` `:Person` nodes with ids `first..first+n` (properties of several
    /// types, an index through a uniqueness constraint) and a `:KNOWS`
    /// relationship from each to another of them.
    pub fn write_graph(&self, first: i64, n: i64) {
        let mut c = self.client();
        let params = || vec![("first", Value::Int(first)), ("n", Value::Int(n))];
        for (query, params) in [
            (
                "CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS UNIQUE",
                vec![],
            ),
            (
                "UNWIND range($first, $first + $n - 1) AS i \
                 CREATE (:Person {id: i, name: 'person ' + i, score: i * 0.25, active: i % 2 = 0, \
                                  tags: ['t' + (i % 5), 'x'], born: date('1970-01-01') + duration({days: i})})",
                params(),
            ),
            (
                "UNWIND range($first, $first + $n - 1) AS i \
                 MATCH (a:Person {id: i}), (b:Person {id: $first + (i * 7 + 3) % $n}) \
                 CREATE (a)-[:KNOWS {since: 2000 + i % 20}]->(b)",
                params(),
            ),
        ] {
            c.run(query, params)
                .unwrap_or_else(|e| panic!("{query}: {e}"));
        }
        c.close();
    }

    /// Node and relationship counts, asked of the running Neo4j over Bolt.
    pub fn counts(&self) -> (i64, i64) {
        let n = self.run("MATCH (n) RETURN count(n)", vec![]);
        let r = self.run("MATCH ()-[r]->() RETURN count(r)", vec![]);
        (
            n[0][0].as_int().expect("a count"),
            r[0][0].as_int().expect("a count"),
        )
    }

    /// Stops it as `systemctl stop neo4j` does (SIGTERM; the JVM's shutdown hook
    /// shuts the DBMS down, prints `Stopped.` and exits 0) and waits; panics if it
    /// does not stop cleanly in time.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("Neo4j is not running");
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + STOP_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "Neo4j did not stop within {STOP_TIMEOUT:?} of SIGTERM:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            status.success() && self.log().lines().any(|l| l == "Stopped."),
            "Neo4j exited ({status}) on SIGTERM without a clean shutdown:\n{}",
            self.log()
        );
        status
    }

    /// SIGKILL, as a crash or an OOM kill would: no shutdown, no checkpoint.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("Neo4j is not running");
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Neo4j {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Small transactions committed one after another on their own connection until
/// stopped: a database in use while something copies its files.
pub struct Writer {
    stop: Arc<AtomicBool>,
    commits: Arc<AtomicU64>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Writer {
    pub fn start(neo4j: &Neo4j) -> Writer {
        let mut c = neo4j.client();
        let stop = Arc::new(AtomicBool::new(false));
        let commits = Arc::new(AtomicU64::new(0));
        let (s, n) = (stop.clone(), commits.clone());
        let thread = std::thread::spawn(move || {
            let payload = "p".repeat(2048);
            while !s.load(Ordering::SeqCst) {
                let seq = n.load(Ordering::SeqCst) as i64;
                c.run(
                    "UNWIND range(1, 20) AS i CREATE (:Event {seq: $seq, i: i, payload: $payload})",
                    vec![
                        ("seq", Value::Int(seq)),
                        ("payload", payload.as_str().into()),
                    ],
                )
                .map_err(|e| format!("write {seq}: {e}"))?;
                n.fetch_add(1, Ordering::SeqCst);
            }
            c.close();
            Ok(())
        });
        Writer {
            stop,
            commits,
            thread: Some(thread),
        }
    }

    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` more transactions committed.
    pub fn wait_for(&self, n: u64) {
        let target = self.commits() + n;
        super::wait_until(Duration::from_secs(60), "the writer commits", || {
            self.commits() >= target
        });
    }

    /// Stops writing; returns how many transactions committed.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        let thread = self.thread.take().unwrap();
        thread.join().unwrap().unwrap();
        self.commits()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// What Neo4j says about a stopped store (`neo4j-launcher facts`).
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub store_format: String,
    pub kernel_version: String,
    pub recovery_required: bool,
    pub last_committed_transaction: i64,
    /// None when the store needs recovery (it is then not opened).
    pub nodes: Option<i64>,
    pub relationships: Option<i64>,
    pub properties: Option<i64>,
    pub checksum: Option<String>,
    /// The whole JSON, for messages.
    pub json: String,
}

impl Facts {
    /// Counts and checksum: what must survive a backup and a restore.
    pub fn graph(&self) -> (Option<i64>, Option<i64>, Option<i64>, Option<String>) {
        (
            self.nodes,
            self.relationships,
            self.properties,
            self.checksum.clone(),
        )
    }
}

/// Runs `facts` with `version`'s tools on a stopped data folder: `Err` with
/// Neo4j's reason when it cannot read the store at all.
pub fn try_facts(version: &str, data: &Path) -> Result<Facts, String> {
    let out = launcher(version)
        .args(["facts", "--data"])
        .arg(data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{'));
    let Some(line) = line else {
        panic!(
            "neo4j-launcher facts on {} printed no JSON ({}):\n{}\n{}",
            data.display(),
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    if let Some(e) = v["error"].as_str() {
        return Err(e.to_string());
    }
    assert!(out.status.success(), "facts: {}\n{line}", out.status);
    Ok(Facts {
        store_format: v["store_format"].as_str().unwrap_or_default().to_string(),
        kernel_version: v["kernel_version"].as_str().unwrap_or_default().to_string(),
        recovery_required: v["recovery_required"].as_bool().unwrap(),
        last_committed_transaction: v["last_committed_transaction"].as_i64().unwrap(),
        nodes: v["nodes"].as_i64(),
        relationships: v["relationships"].as_i64(),
        properties: v["properties"].as_i64(),
        checksum: v["checksum"].as_str().map(String::from),
        json: line.to_string(),
    })
}

/// `facts` with the LTS release's tools; panics when Neo4j cannot read the store.
pub fn facts(data: &Path) -> Facts {
    try_facts(LTS, data)
        .unwrap_or_else(|e| panic!("Neo4j cannot read the store in {}: {e}", data.display()))
}

/// What `neo4j-admin database check neo4j` (Neo4j's consistency checker) said.
#[derive(Debug, PartialEq)]
pub enum Check {
    Consistent,
    /// It refused: "Active logical log detected ... Please recover database".
    NeedsRecovery(String),
    Inconsistent(String),
    InUse(String),
    /// Anything else (a damaged store it cannot even read).
    Failed(String),
}

pub fn check(data: &Path) -> Check {
    check_with(LTS, data)
}

/// What Neo4j says about a stopped store: its facts (counts, checksum,
/// recovery state) and its consistency check.
pub fn judge(data: &Path) -> (Facts, Check) {
    (facts(data), check(data))
}

/// The store needs no recovery, holds a graph and Neo4j finds it consistent.
pub fn assert_clean(what: &str, facts: &Facts, check: &Check) {
    assert!(
        !facts.recovery_required,
        "{what} needs recovery: {}",
        facts.json
    );
    assert!(
        facts.nodes.is_some_and(|n| n > 0),
        "{what} has no graph: {}",
        facts.json
    );
    assert_eq!(check, &Check::Consistent, "{what}: {}", facts.json);
}

/// A restored store is clean and holds exactly the generation's graph (counts
/// and the checksum of every property).
pub fn assert_restored(what: &str, restored: &Facts, check: &Check, generation: &Facts) {
    assert_clean(what, restored, check);
    assert_eq!(
        restored.graph(),
        generation.graph(),
        "{what} is not the generation's graph:\n{}\n{}",
        restored.json,
        generation.json
    );
}

/// A component's archive (`.tar.zst`) unpacked into `dir` with zstd and tar
/// alone, owners kept: what any admin can do without structr-backup.
pub fn unpack_archive(archive: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let out = super::shell(
        &format!(
            "zstd -dc {} | tar -x --same-owner -C {}",
            super::q(archive),
            super::q(dir)
        ),
        dir,
    );
    assert!(out.status.success(), "zstd | tar: {}", super::text(&out));
}

pub fn check_with(version: &str, data: &Path) -> Check {
    let reports = tempfile::Builder::new()
        .prefix("neo4j-check-")
        .tempdir()
        .unwrap();
    let out = launcher(version)
        .args(["admin", "--data"])
        .arg(data)
        .args(["--", "database", "check", "neo4j"])
        .arg(format!("--report-path={}", reports.path().display()))
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Check::Consistent
    } else if said.contains("Please recover database") {
        Check::NeedsRecovery(said)
    } else if said.contains("Inconsistencies found") {
        Check::Inconsistent(said)
    } else if said.contains("is in use") {
        Check::InUse(said)
    } else {
        Check::Failed(format!("{}: {said}", out.status))
    }
}

/// The stand-in Structr writing its graph into this Neo4j over Bolt
/// (`structr-standin structr --bolt-neo4j`), files into `dir/files`.
pub fn start_structr(neo4j: &Neo4j, dir: &Path) -> Child {
    let log = File::create(neo4j.home.join("structr.log")).unwrap();
    Command::new(super::STANDIN)
        .args(["structr", "--dir"])
        .arg(dir)
        .args(["--bolt-neo4j", &neo4j.bolt(), "--interval-ms", "5"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// `structr-standin check --bolt-neo4j`: every `:File` in the running Neo4j has
/// its file under `dir/files` and every file its node.
pub fn check_invariant(neo4j: &Neo4j, dir: &Path) -> std::process::Output {
    Command::new(super::STANDIN)
        .args(["check", "--bolt-neo4j", &neo4j.bolt(), "--dir"])
        .arg(dir)
        .output()
        .unwrap()
}
