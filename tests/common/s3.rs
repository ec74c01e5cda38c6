//! A real S3 server on 127.0.0.1: a single-node Garage (installed by
//! `scripts/s3-server`) in a temp folder, with one bucket and one key that may
//! read, write and own it. Killed on drop.
//!
//! The binary is `$STRUCTR_BACKUP_GARAGE`, else `$STRUCTR_BACKUP_GARAGE_PREFIX/bin/garage`,
//! else `$HOME/.cache/structr-backup-test/garage/bin/garage`. Without it the
//! test panics: the S3 tests fail, they are never skipped.

use std::fs::File;
use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The region the server signs requests for; clients must use the same.
pub const REGION: &str = "garage";
pub const BUCKET: &str = "structr-backup-test";

pub struct S3 {
    /// The temp folder with the config, the metadata, the data and `garage.log`.
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub bucket: String,
    pub key_id: String,
    pub secret: String,
    bin: PathBuf,
    config: PathBuf,
    child: Child,
}

/// The garage binary, or a panic that says how to get it.
pub fn garage_bin() -> PathBuf {
    let bin = if let Some(b) = std::env::var_os("STRUCTR_BACKUP_GARAGE") {
        PathBuf::from(b)
    } else if let Some(p) = std::env::var_os("STRUCTR_BACKUP_GARAGE_PREFIX") {
        PathBuf::from(p).join("bin/garage")
    } else {
        let home = std::env::var_os("HOME").expect("HOME is not set");
        PathBuf::from(home).join(".cache/structr-backup-test/garage/bin/garage")
    };
    assert!(
        bin.is_file(),
        "no garage binary (S3 server) at {}: run scripts/s3-server (or set STRUCTR_BACKUP_GARAGE)",
        bin.display()
    );
    bin
}

/// Starts a fresh server with a bucket and a key; waits until it serves.
pub fn start() -> S3 {
    let bin = garage_bin();
    let dir = tempfile::Builder::new()
        .prefix("garage-")
        .tempdir()
        .unwrap();
    // Both ports held at once so they differ; released just before garage binds them.
    let (rpc, s3) = (free_port(), free_port());
    let (rpc_port, port) = (
        rpc.local_addr().unwrap().port(),
        s3.local_addr().unwrap().port(),
    );
    let config = dir.path().join("garage.toml");
    std::fs::write(
        &config,
        format!(
            r#"metadata_dir = "{meta}"
data_dir = "{data}"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{secret}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{port}"
"#,
            meta = dir.path().join("meta").display(),
            data = dir.path().join("data").display(),
            secret = random_hex(32),
        ),
    )
    .unwrap();
    let log = File::create(dir.path().join("garage.log")).unwrap();
    drop((rpc, s3));
    let child = Command::new(&bin)
        .arg("-c")
        .arg(&config)
        .arg("server")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    let mut server = S3 {
        dir,
        port,
        bucket: BUCKET.to_string(),
        key_id: String::new(),
        secret: String::new(),
        bin,
        config,
        child,
    };
    server.setup();
    server
}

impl S3 {
    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A restic repository in the bucket: `s3:http://127.0.0.1:PORT/BUCKET/PREFIX`.
    pub fn restic_repo(&self, prefix: &str) -> String {
        format!("s3:{}/{}/{prefix}", self.endpoint(), self.bucket)
    }

    /// The credentials and region for S3 clients (restic, rclone, aws).
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), self.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), self.secret.clone()),
            ("AWS_DEFAULT_REGION".into(), REGION.into()),
        ]
    }

    /// Runs the garage CLI against this server.
    pub fn garage(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs the garage CLI; panics (with the server's log) unless it succeeds. Stdout.
    pub fn garage_ok(&self, args: &[&str]) -> String {
        let out = self.garage(args);
        if !out.status.success() {
            panic!(
                "garage {}: {}\n{}",
                args.join(" "),
                super::text(&out),
                self.log()
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The tail of the server's log, for failure messages.
    pub fn log(&self) -> String {
        let all = std::fs::read_to_string(self.dir.path().join("garage.log")).unwrap_or_default();
        let lines: Vec<&str> = all.lines().collect();
        format!(
            "garage.log (tail):\n{}",
            lines[lines.len().saturating_sub(40)..].join("\n")
        )
    }

    fn setup(&mut self) {
        // Up when the CLI reaches it over RPC (the node key exists and RPC listens).
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("garage server exited: {status}\n{}", self.log());
            }
            let out = self.garage(&["status"]);
            if out.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "garage server not up after 60 s: {}\n{}",
                super::text(&out),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let id = self.garage_ok(&["node", "id", "-q"]);
        let id = id.trim().split('@').next().unwrap().to_string();
        self.garage_ok(&["layout", "assign", "-z", "dc1", "-c", "1G", &id]);
        self.garage_ok(&["layout", "apply", "--version", "1"]);
        self.garage_ok(&["bucket", "create", &self.bucket]);
        let key = self.garage_ok(&["key", "create", "structr-backup-test"]);
        let field = |name: &str| {
            key.lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().last())
                .unwrap_or_else(|| panic!("no {name:?} in `garage key create`:\n{key}"))
                .to_string()
        };
        self.key_id = field("Key ID:");
        self.secret = field("Secret key:");
        self.garage_ok(&[
            "bucket",
            "allow",
            "--read",
            "--write",
            "--owner",
            &self.bucket,
            "--key",
            &self.key_id,
        ]);
        super::wait_until(Duration::from_secs(30), "garage's S3 port listens", || {
            TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
