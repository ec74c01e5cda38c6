//! The wizard in a real terminal: tmux (on a private socket) runs the built
//! binary, keys are typed with send-keys and the screen is read with
//! capture-pane. Every wait polls the screen against a deadline.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::{text, BIN};

/// The wizard in a tmux window on a private socket, with a private HOME.
pub struct Tui {
    pub socket: String,
    pub home: tempfile::TempDir,
}

impl Tui {
    /// A private HOME (the demo lives under it) and tmux socket; nothing started.
    pub fn new() -> Tui {
        let home = tempfile::Builder::new().prefix("tui-").tempdir().unwrap();
        let socket = format!(
            "sb-{}-{}",
            std::process::id(),
            home.path().file_name().unwrap().to_string_lossy()
        );
        Tui { socket, home }
    }

    /// Runs `structr-backup ARGS` in an 80×24 tmux window and waits for the home screen.
    /// The shell writes its pid and then becomes the program, so `pid` is the wizard's.
    pub fn start(&self, args: &str) {
        self.start_sized(args, 80, 24);
    }

    /// `start` in a window of `width`×`height`.
    pub fn start_sized(&self, args: &str, width: u16, height: u16) {
        self.start_env(&[], args, width, height);
    }

    /// `start_sized` with `env` exported for the wizard.
    pub fn start_env(&self, env: &[(&str, &str)], args: &str, width: u16, height: u16) {
        let home = self.home.path().display();
        let exports: String = env.iter().map(|(k, v)| format!(" {k}={v}")).collect();
        let cmd = format!(
            "export HOME={home} TERM=xterm-256color{exports}; echo $$ > {home}/wizard.pid; exec {BIN} {args}"
        );
        let (w, h) = (width.to_string(), height.to_string());
        let out = self.tmux(&["new-session", "-d", "-x", &w, "-y", &h, "-s", "w", &cmd]);
        assert!(out.status.success(), "tmux: {}", text(&out));
        self.wait_for("Home", Duration::from_secs(60));
        // The repository is listed on a task: keys that act on its generations
        // wait until Home shows the newest one.
        if let Some(newest) = self.demo_generations().first() {
            self.wait_for(newest, Duration::from_secs(20));
        }
    }

    /// The demo's generations, newest first (none when there is no demo yet).
    pub fn demo_generations(&self) -> Vec<String> {
        let cfg = self.demo_dir().join("config.toml");
        if !cfg.exists() {
            return Vec::new();
        }
        self.generations()
    }

    /// Starts `structr-backup demo [args]`: the wizard on the demo installation.
    pub fn demo(args: &str) -> Tui {
        let t = Tui::new();
        t.start(&format!("demo {args}"));
        t
    }

    /// The wizard's process id (written by the shell that became it).
    pub fn pid(&self) -> u32 {
        let path = self.home.path().join("wizard.pid");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .parse()
            .unwrap()
    }

    pub fn tmux(&self, args: &[&str]) -> Output {
        // The windows' command lines are written for bash, whatever the user's
        // login shell: dash (Debian's /bin/sh) ends itself on the Ctrl-C a test
        // sends to the program, and the window closes before it can be read.
        Command::new("tmux")
            .env("SHELL", "/bin/bash")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is needed for the wizard tests")
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "w"]).stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "w", k]);
            // Esc followed at once by a letter reads as Alt+letter in a terminal.
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    pub fn type_text(&self, s: &str) {
        self.tmux(&["send-keys", "-t", "w", "-l", s]);
    }

    pub fn wait_for(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn wait_until_gone(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.screen();
            if !s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?} to go; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn demo_dir(&self) -> PathBuf {
        self.home.path().join(".local/share/structr-backup/demo")
    }

    /// Runs the CLI on the demo's config (for checks from outside the wizard).
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--config")
            .arg(self.demo_dir().join("config.toml"))
            .args(args)
            .env("HOME", self.home.path())
            .output()
            .unwrap()
    }

    /// The demo's last run, from its own state folder (`[state] dir`).
    pub fn last_run(&self) -> structr_backup::notify::LastRun {
        let path = self.demo_dir().join("state/last-run.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    }

    pub fn generations(&self) -> Vec<String> {
        let out = self.cli(&["list", "--json"]);
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
        v.as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn running(&self) -> bool {
        let out = self.cli(&["detect"]);
        let s = String::from_utf8_lossy(&out.stdout);
        s.contains("structr (running)") && s.contains("neo4j (running)")
    }

    pub fn pids(&self) -> (String, String) {
        let read = |s: &str| {
            std::fs::read_to_string(self.demo_dir().join(format!("run/{s}.pid")))
                .unwrap_or_default()
        };
        (read("neo4j"), read("structr"))
    }

    /// Sets up the demo without a terminal and makes `n` backups with the CLI.
    pub fn demo_with_backups(n: usize) -> Tui {
        let t = Tui::new();
        let out = Command::new(BIN)
            .arg("demo")
            .env("HOME", t.home.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        for _ in 0..n {
            let out = t.cli(&["backup"]);
            assert!(out.status.success(), "{}", text(&out));
        }
        t
    }

    /// The wizard on a demo of `store_mb` MiB whose backups copy inside the
    /// window (`[staging] mode = "off"`): what the tests that interrupt the
    /// copy while the services are down need.
    pub fn demo_copying_while_stopped(store_mb: &str) -> Tui {
        let t = Tui::new();
        let out = Command::new(BIN)
            .args(["demo", "--store-mb", store_mb])
            .env("HOME", t.home.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let cfg = t.demo_dir().join("config.toml");
        let mut text = std::fs::read_to_string(&cfg).unwrap();
        text.push_str("\n[staging]\nmode = \"off\"\n");
        std::fs::write(&cfg, text).unwrap();
        t.open_sized(80, 24);
        t
    }

    /// The wizard on the demo's config (set up by `demo_with_backups`).
    pub fn open_sized(&self, width: u16, height: u16) {
        let cfg = self.demo_dir().join("config.toml");
        self.start_sized(&format!("--config {}", cfg.display()), width, height);
    }

    pub fn backup_through_wizard(&self) {
        self.keys(&["b"]);
        self.wait_for("Press Enter to start", Duration::from_secs(20));
        self.keys(&["Enter"]);
        self.wait_for("Backup finished", Duration::from_secs(60));
        self.keys(&["Escape"]);
        self.wait_for("Home", Duration::from_secs(5));
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
        let _ = Command::new(BIN)
            .args(["demo", "--clean"])
            .env("HOME", self.home.path())
            .output();
    }
}
