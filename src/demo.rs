//! The demo installation: stand-in Neo4j and Structr processes in a sandbox folder
//! under the user's data dir, with a config of its own, so anyone can try backup,
//! restore and pruning on a fresh machine without touching a real installation.

use std::path::{Path, PathBuf};

/// Where the demo lives and what it consists of.
pub struct Demo {
    pub root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot set up the demo in {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot find the stand-in services: {0}")]
    Standin(String),
    #[error("the demo's {service} did not start: {detail}")]
    Start { service: String, detail: String },
    #[error(
        "the demo in {root} has a {have} MiB store, not {asked} MiB: remove it first with \
         `structr-backup demo --clean`, then run `structr-backup demo --store-mb {asked}`"
    )]
    OtherSize {
        root: PathBuf,
        have: u32,
        asked: u32,
    },
}

/// The stand-in Neo4j store's size when the demo is made without `--store-mb`.
pub const DEFAULT_STORE_MB: u32 = 64;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Demo {
    pub fn new() -> Self {
        let root = directories::ProjectDirs::from("", "", "structr-backup")
            .map(|d| d.data_dir().join("demo"))
            .unwrap_or_else(|| std::env::temp_dir().join("structr-backup-demo"));
        Self { root }
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// The stand-in program: this binary itself, run as `structr-backup standin ...`.
    fn standin() -> Result<String, DemoError> {
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .map_err(|e| DemoError::Standin(e.to_string()))
    }

    fn quoted(p: &Path) -> String {
        shell_words::quote(&p.display().to_string()).into_owned()
    }

    /// Command lines controlling one stand-in service.
    fn commands(&self, svc: &str, store_mb: u32) -> Result<[String; 3], DemoError> {
        let exe = shell_words::quote(&Self::standin()?).into_owned();
        let run = self.run_dir();
        let pid = Self::quoted(&run.join(format!("{svc}.pid")));
        let log = Self::quoted(&run.join(format!("{svc}.log")));
        let port = Self::quoted(&run.join("bolt.port"));
        let health = Self::quoted(&run.join("http.port"));
        let start = match svc {
            "neo4j" => format!(
                "{exe} standin ctl start --pidfile {pid} --log {log} --ready-file {port} --timeout 30 -- {exe} standin neo4j --data {} --bolt 127.0.0.1:0 --port-file {port} --store-mb {store_mb}",
                Self::quoted(&self.root.join("neo4j/data"))
            ),
            _ => format!(
                "{exe} standin ctl start --pidfile {pid} --log {log} --timeout 30 -- {exe} standin structr --dir {} --bolt-port-file {port} --http 127.0.0.1:0 --http-port-file {health} --interval-ms 200",
                Self::quoted(&self.root.join("structr"))
            ),
        };
        Ok([
            start,
            format!("{exe} standin ctl stop --pidfile {pid} --timeout 30"),
            format!("{exe} standin ctl status --pidfile {pid}"),
        ])
    }

    /// The store size an existing demo was made with, as its config says.
    fn store_mb(&self) -> Option<u32> {
        let config = std::fs::read_to_string(self.config_path()).ok()?;
        let (_, rest) = config.split_once("--store-mb ")?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    }

    /// Creates the sandbox and its config and starts the services if they are down.
    /// `asked` is the size of the stand-in Neo4j's store (bigger: slower backups);
    /// an existing demo keeps its own, and a different size asked for is refused
    /// (the stand-in would rewrite the store to it, and the generations made of
    /// the old one would no longer match what a demo of that size is).
    pub fn ensure(&self, asked: Option<u32>) -> Result<(), DemoError> {
        let have = self.store_mb();
        let store_mb = match (have, asked) {
            (Some(have), Some(asked)) if have != asked => {
                return Err(DemoError::OtherSize {
                    root: self.root.clone(),
                    have,
                    asked,
                })
            }
            (Some(have), _) => have,
            (None, asked) => asked.unwrap_or(DEFAULT_STORE_MB),
        };
        for d in [
            self.run_dir(),
            self.root.join("neo4j"),
            self.root.join("repository"),
        ] {
            std::fs::create_dir_all(&d).map_err(io(&d))?;
        }
        let toml = |s: &str| toml::Value::String(s.to_string()).to_string();
        let [n_start, n_stop, n_status] = self.commands("neo4j", store_mb)?;
        let [s_start, s_stop, s_status] = self.commands("structr", store_mb)?;
        let config = format!(
            "# The demo installation: stand-in services in a sandbox. Remove with `structr-backup demo --clean`.\n\
             [repository]\npath = {}\n\n\
             [installation]\nkind = \"custom\"\nneo4j_data = {}\nstructr_dir = {}\nstop_timeout_secs = 30\nstart_timeout_secs = 60\n\
             neo4j = {{ start = {}, stop = {}, status = {} }}\n\
             structr = {{ start = {}, stop = {}, status = {} }}\n\n\
             [retention]\nkeep_last = 3\nkeep_daily = 7\nkeep_weekly = 4\nkeep_monthly = 12\n\n\
             # Its own state (journal, last run): the host's is not the demo's.\n\
             [state]\ndir = {}\n\n\
             # No maintenance page: port 8082 here may be a real Structr's.\n\
             [maintenance]\nenabled = false\n",
            toml(&self.root.join("repository").display().to_string()),
            toml(&self.root.join("neo4j/data").display().to_string()),
            toml(&self.root.join("structr").display().to_string()),
            toml(&n_start),
            toml(&n_stop),
            toml(&n_status),
            toml(&s_start),
            toml(&s_stop),
            toml(&s_status),
            toml(&self.root.join("state").display().to_string()),
        );
        let path = self.config_path();
        std::fs::write(&path, config).map_err(io(&path))?;
        for (svc, start, status) in [
            ("neo4j", &n_start, &n_status),
            ("structr", &s_start, &s_status),
        ] {
            if run(status).is_ok() {
                continue;
            }
            run(start).map_err(|detail| DemoError::Start {
                service: svc.into(),
                detail,
            })?;
        }
        Ok(())
    }

    /// Stops the stand-ins and removes the sandbox with its repository.
    pub fn clean(&self) -> Result<(), DemoError> {
        if !self.root.exists() {
            return Ok(());
        }
        for svc in ["structr", "neo4j"] {
            let [_, stop, _] = self.commands(svc, DEFAULT_STORE_MB)?;
            let _ = run(&stop);
        }
        std::fs::remove_dir_all(&self.root).map_err(io(&self.root))
    }
}

impl Default for Demo {
    fn default() -> Self {
        Self::new()
    }
}

fn run(line: &str) -> Result<(), String> {
    let argv = shell_words::split(line).map_err(|e| e.to_string())?;
    let out = crate::process::run(&argv, std::time::Duration::from_secs(60))
        .map_err(|e| e.to_string())?;
    if out.success() {
        Ok(())
    } else {
        Err(out.tail())
    }
}
