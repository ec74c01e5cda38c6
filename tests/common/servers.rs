//! Real servers on loopback for the remote-repository tests: a throwaway OpenSSH
//! sshd (sftp for restic and rclone) and `rclone serve restic` (restic's REST
//! backend). Each is a child process of the test, listens on 127.0.0.1 only at a
//! free port and is killed when dropped. A server that cannot start fails the
//! test with what to install; nothing is skipped.

use std::fs::File;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::text;

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A port that was free a moment ago: bound on 127.0.0.1 by the kernel's
/// choice, then released for the server to take.
pub fn free_port() -> u16 {
    TcpListener::bind((LOOPBACK, 0))
        .and_then(|l| l.local_addr())
        .expect("bind a free port on 127.0.0.1")
        .port()
}

/// Whether 127.0.0.1:`port` accepts a connection within `timeout`.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let addr = SocketAddr::from((LOOPBACK, port));
    let deadline = Instant::now() + timeout;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the server `command(port)` makes, its stdout and stderr to `log`, and
/// waits until it listens. The port is only free "a moment ago", so when the
/// server exits saying it is taken, another port is tried.
fn spawn_listening(
    what: &str,
    install: &str,
    log: &Path,
    command: impl Fn(u16) -> Command,
) -> (Child, u16) {
    for _ in 0..3 {
        let port = free_port();
        // A file, not a pipe: nobody reads while the server runs, and a full
        // pipe would block its logging.
        let out = File::create(log).unwrap();
        let mut cmd = command(port);
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!("{what}: cannot run {cmd:?}: {e} (scripts/test installs {install})")
        });
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let said = std::fs::read_to_string(log).unwrap_or_default();
                if said.to_lowercase().contains("address already in use") {
                    break;
                }
                panic!("{what} exited ({status}) before listening on 127.0.0.1:{port} (scripts/test installs {install}):\n{said}");
            }
            if wait_for_port(port, Duration::from_millis(100)) {
                // Ours, not a stranger that took the port: ours is still running.
                if child.try_wait().unwrap().is_none() {
                    return (child, port);
                }
                continue;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{what} did not listen on 127.0.0.1:{port} within {START_TIMEOUT:?} (scripts/test installs {install}):\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        }
    }
    panic!(
        "{what}: every free port was taken before it could listen:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A throwaway OpenSSH server for the current user, key login only, with sftp.
/// It serves the local file system: what a client writes to `/abs/path` over
/// sftp is at `/abs/path` here.
pub struct Sshd {
    child: Child,
    port: u16,
    user: String,
    key: PathBuf,
    log: PathBuf,
    // Last: removed after the server is stopped.
    _dir: tempfile::TempDir,
}

impl Sshd {
    pub fn start() -> Sshd {
        let dir = tempfile::Builder::new().prefix("sshd-").tempdir().unwrap();
        // restic splits `sftp.command` on whitespace (it has no shell), so the
        // key's path must not hold any.
        assert!(
            !dir.path()
                .display()
                .to_string()
                .contains(char::is_whitespace),
            "the temp folder {} holds whitespace; restic's sftp.command cannot carry it",
            dir.path().display()
        );
        let host_key = dir.path().join("host_ed25519");
        let key = dir.path().join("client_ed25519");
        for k in [&host_key, &key] {
            let out = Command::new("ssh-keygen")
                .args([
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "structr-backup-test",
                    "-f",
                ])
                .arg(k)
                .output()
                .unwrap_or_else(|e| {
                    panic!("ssh-keygen: {e} (scripts/test installs openssh-client)")
                });
            assert!(out.status.success(), "ssh-keygen: {}", text(&out));
        }
        let authorized = dir.path().join("authorized_keys");
        std::fs::copy(key.with_extension("pub"), &authorized).unwrap();

        // sshd refuses to start without its privilege separation folder, which
        // the Debian package only makes when its service starts.
        match std::fs::DirBuilder::new().mode(0o755).create("/run/sshd") {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => panic!("create /run/sshd (sshd's privilege separation folder): {e}"),
        }

        let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
            .unwrap()
            .expect("the current user has a passwd entry")
            .name;
        let config = dir.path().join("sshd_config");
        let log = dir.path().join("sshd.log");
        let pid_file = dir.path().join("sshd.pid");
        let (child, port) = spawn_listening("sshd", "openssh-server", &log, |port| {
            // Only this file: nothing from /etc/ssh applies.
            std::fs::write(
                &config,
                format!(
                    "Port {port}\n\
                     ListenAddress 127.0.0.1\n\
                     HostKey {host_key}\n\
                     PidFile {pid_file}\n\
                     AuthorizedKeysFile {authorized}\n\
                     AllowUsers {user}\n\
                     PermitRootLogin prohibit-password\n\
                     PubkeyAuthentication yes\n\
                     PasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\n\
                     UsePAM no\n\
                     StrictModes no\n\
                     X11Forwarding no\n\
                     AllowTcpForwarding no\n\
                     PrintMotd no\n\
                     MaxStartups 100\n\
                     MaxSessions 100\n\
                     Subsystem sftp internal-sftp\n",
                    host_key = host_key.display(),
                    pid_file = pid_file.display(),
                    authorized = authorized.display(),
                ),
            )
            .unwrap();
            let mut cmd = Command::new("/usr/sbin/sshd");
            cmd.args(["-D", "-e", "-f"]).arg(&config);
            cmd
        });
        let sshd = Sshd {
            child,
            port,
            user,
            key,
            log,
            _dir: dir,
        };
        sshd.check_login();
        sshd
    }

    /// A login that fails here (a locked account, a key sshd rejects) says so
    /// now, not as some restic or rclone error later. rclone also runs commands
    /// (md5sum) over this login, so a shell is needed anyway.
    fn check_login(&self) {
        let out = Command::new("ssh")
            .args(self.ssh_args())
            .args(["-o", "ConnectTimeout=10", &self.destination(), "true"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("ssh: {e} (scripts/test installs openssh-client)"));
        assert!(
            out.status.success(),
            "key login as {} to the test sshd failed (UsePAM is off, so an account \
             locked with '!' in /etc/shadow cannot log in): {}\nsshd log:\n{}",
            self.user,
            text(&out),
            self.log()
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// The client's private key (its public half is the only authorized key).
    pub fn key_path(&self) -> &Path {
        &self.key
    }

    /// What sshd logged so far (`-e`: to stderr, which goes to a file).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many key logins sshd accepted so far (start() makes one itself).
    pub fn logins(&self) -> usize {
        self.log()
            .matches(&format!("Accepted publickey for {} ", self.user))
            .count()
    }

    fn destination(&self) -> String {
        format!("{}@127.0.0.1", self.user)
    }

    /// Client options: this key only, no host key bookkeeping, never a prompt,
    /// and none of the user's or the system's ssh_config (`-F /dev/null`).
    fn ssh_args(&self) -> Vec<String> {
        let mut args = vec![
            "-F".to_string(),
            "/dev/null".to_string(),
            "-p".to_string(),
            self.port.to_string(),
            "-i".to_string(),
            self.key.display().to_string(),
        ];
        for opt in [
            "IdentitiesOnly=yes",
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "BatchMode=yes",
            "LogLevel=ERROR",
        ] {
            args.extend(["-o".to_string(), opt.to_string()]);
        }
        args
    }

    /// An ssh command line that opens the sftp subsystem here, for restic's
    /// `-o sftp.command=...`.
    pub fn ssh_command(&self) -> String {
        format!(
            "ssh {} {} -s sftp",
            self.ssh_args().join(" "),
            self.destination()
        )
    }

    /// restic's repository string for `path` on this server (with `ssh_command`
    /// as `sftp.command`, which carries the port and key).
    pub fn restic_repo(&self, path: &Path) -> String {
        assert!(path.is_absolute(), "{} is not absolute", path.display());
        format!("sftp:{}:{}", self.destination(), path.display())
    }

    /// Environment that defines the rclone remote `remote_name` as this server:
    /// with it, `remote_name:/abs/path` for rclone (and `rclone:remote_name:/abs/path`
    /// for restic, which runs rclone) reaches the local `/abs/path` through sshd.
    pub fn rclone_env(&self, remote_name: &str) -> Vec<(String, String)> {
        // rclone looks up RCLONE_CONFIG_<NAME>_<OPTION> with the name upper-cased;
        // other characters would not make a usable variable name.
        assert!(
            !remote_name.is_empty()
                && remote_name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "rclone remote name {remote_name:?}: letters, digits and _ only"
        );
        let prefix = format!("RCLONE_CONFIG_{}_", remote_name.to_ascii_uppercase());
        [
            ("TYPE", "sftp".to_string()),
            ("HOST", "127.0.0.1".to_string()),
            ("PORT", self.port.to_string()),
            ("USER", self.user.clone()),
            ("KEY_FILE", self.key.display().to_string()),
            // Without it rclone probes the remote shell on first use.
            ("SHELL_TYPE", "unix".to_string()),
            // Never an ssh-agent's keys, never a password prompt: this key only.
            ("KEY_USE_AGENT", "false".to_string()),
            ("ASK_PASSWORD", "false".to_string()),
            // Empty: no host key check (the host key is new each run).
            ("KNOWN_HOSTS_FILE", String::new()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("{prefix}{k}"), v))
        .collect()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// `rclone serve restic` on a folder: restic's REST backend over HTTP, no auth.
pub struct RcloneRest {
    child: Child,
    port: u16,
    /// `user:pass@` when the server asks for credentials.
    auth: String,
    log: PathBuf,
    // Last: removed after the server is stopped.
    _logs: tempfile::TempDir,
}

impl RcloneRest {
    pub fn start(dir: &Path) -> RcloneRest {
        Self::start_as(dir, None)
    }

    /// With HTTP basic auth: restic's repository string then carries the credentials.
    pub fn start_with_auth(dir: &Path, user: &str, pass: &str) -> RcloneRest {
        Self::start_as(dir, Some((user, pass)))
    }

    fn start_as(dir: &Path, auth: Option<(&str, &str)>) -> RcloneRest {
        let logs = tempfile::Builder::new()
            .prefix("rclone-rest-")
            .tempdir()
            .unwrap();
        let log = logs.path().join("rclone.log");
        let (child, port) = spawn_listening("rclone serve restic", "rclone", &log, |port| {
            let mut cmd = Command::new("rclone");
            cmd.args(["serve", "restic", "--addr", &format!("127.0.0.1:{port}")])
                .arg(dir)
                .args(auth.iter().flat_map(|(u, p)| ["--user", u, "--pass", p]))
                // No config file: the served folder is a local path.
                .env("RCLONE_CONFIG", logs.path().join("rclone.conf"));
            cmd
        });
        RcloneRest {
            child,
            port,
            auth: auth.map(|(u, p)| format!("{u}:{p}@")).unwrap_or_default(),
            log,
            _logs: logs,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// restic's repository string for the served folder.
    pub fn url(&self) -> String {
        format!("rest:http://{}127.0.0.1:{}/", self.auth, self.port)
    }

    /// What rclone logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RcloneRest {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
