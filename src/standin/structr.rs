//! The stand-in Structr: a Structr-like directory whose `files/` grows and shrinks
//! while every file id is recorded in the stand-in Neo4j. Each operation is
//! finished (file and database agree) before a stop is honoured.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::process::{stopping, term_flag, write_atomic};
use super::rng::Rng;
use super::{bolt, graph};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Structr directory (like /usr/lib/structr)
    #[arg(long)]
    dir: PathBuf,
    /// The stand-in Neo4j's address
    #[arg(long, conflicts_with = "bolt_port_file")]
    bolt: Option<String>,
    /// A file holding the stand-in Neo4j's port on 127.0.0.1 (re-read on every connect)
    #[arg(long)]
    bolt_port_file: Option<PathBuf>,
    /// A real Neo4j's Bolt address (host:port): the graph goes there, as Structr's
    /// does (`:File` nodes in `:Folder` nodes), instead of to the stand-in Neo4j
    #[arg(long, conflicts_with_all = ["bolt", "bolt_port_file"])]
    bolt_neo4j: Option<String>,
    /// Serve GET /structr/health/ready and the deployment export (GET /structr/deploy)
    /// on this loopback address (port 0: any, written into structr.conf)
    #[arg(long)]
    http: Option<String>,
    /// Where to write the HTTP port actually listened on
    #[arg(long)]
    http_port_file: Option<PathBuf>,
    /// Time between operations
    #[arg(long, default_value_t = 20)]
    interval_ms: u64,
    /// Ignore SIGTERM (a service that will not stop)
    #[arg(long)]
    ignore_sigterm: bool,
}

/// Where Structr keeps a file: `files/<c0>/<c1>/<c2>/<c3>/<uuid>`.
pub fn file_path(dir: &Path, id: &str) -> PathBuf {
    let c: Vec<String> = id.chars().take(4).map(String::from).collect();
    dir.join("files")
        .join(&c[0])
        .join(&c[1])
        .join(&c[2])
        .join(&c[3])
        .join(id)
}

fn layout(dir: &Path) -> std::io::Result<()> {
    for d in ["files", "lib", "logs", "scripts", "changelog"] {
        fs::create_dir_all(dir.join(d))?;
    }
    let conf = dir.join("structr.conf");
    if !conf.exists() {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&conf)?;
        f.write_all(
            b"superuser.password = standin-secret\n\
              application.http.port = 8082\n\
              database.available.connections = neo4j-localhost-7687\n\
              nodeservice.active = neo4j-localhost-7687\n\
              neo4j-localhost-7687.database.driver = org.structr.bolt.BoltDatabaseService\n\
              neo4j-localhost-7687.database.connection.url = bolt://localhost:7687\n\
              neo4j-localhost-7687.database.connection.username = neo4j\n\
              neo4j-localhost-7687.database.connection.password = neo4j-standin\n",
        )?;
    }
    super::deploy::layout(dir)?;
    for (f, body) in [
        ("structr-6.0.0-standin.jar", "stand-in jar\n"),
        ("scripts/hello.js", "// a scripting file\n"),
    ] {
        if !dir.join(f).exists() {
            fs::write(dir.join(f), body)?;
        }
    }
    Ok(())
}

/// Rewrites `application.http.port` in structr.conf (keeping its mode).
fn set_http_port(conf: &Path, port: u16) -> std::io::Result<()> {
    let text = fs::read_to_string(conf)?;
    let mut out: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("application.http.port"))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(&format!("application.http.port = {port}\n"));
    fs::write(conf, out)
}

/// What the stand-in asks of its database.
enum Op {
    /// Every file id recorded.
    List,
    /// A file's id and size.
    Create(String, u64),
    Delete(String),
}

/// A connection to the database: the stand-in Neo4j's line protocol, or Bolt
/// to a real Neo4j.
enum Db {
    Line {
        reader: BufReader<TcpStream>,
        writer: TcpStream,
    },
    Bolt(bolt::Client),
}

impl Db {
    fn connect(a: &Args) -> std::io::Result<Db> {
        if let Some(addr) = &a.bolt_neo4j {
            let mut c = bolt::Client::connect(addr, bolt::Auth::None, Duration::from_secs(10))?;
            graph::schema(&mut c)?;
            return Ok(Db::Bolt(c));
        }
        let addr = match (&a.bolt, &a.bolt_port_file) {
            (Some(b), _) => b.clone(),
            (None, Some(p)) => format!("127.0.0.1:{}", fs::read_to_string(p)?.trim()),
            (None, None) => "127.0.0.1:7687".into(),
        };
        let s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Db::Line {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        })
    }

    fn request(&mut self, op: &Op) -> std::io::Result<Vec<String>> {
        match self {
            Db::Bolt(c) => match op {
                Op::List => graph::list(c),
                Op::Create(id, size) => graph::create(c, id, *size).map(|()| vec![]),
                Op::Delete(id) => graph::delete(c, id).map(|()| vec![]),
            },
            Db::Line { reader, writer } => {
                let line = match op {
                    Op::List => "LIST".to_string(),
                    Op::Create(id, _) => format!("CREATE {id}"),
                    Op::Delete(id) => format!("DELETE {id}"),
                };
                writer.write_all(format!("{line}\n").as_bytes())?;
                let mut out = Vec::new();
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l)? == 0 {
                        return Err(std::io::Error::other("neo4j closed the connection"));
                    }
                    let l = l.trim_end().to_string();
                    match l.as_str() {
                        "OK" | "PONG" | "END" => return Ok(out),
                        e if e.starts_with("ERR") => {
                            return Err(std::io::Error::other(e.to_string()))
                        }
                        _ => out.push(l),
                    }
                }
            }
        }
    }
}

/// Sends `op` until neo4j acknowledges it, reconnecting as needed. Gives up only
/// when asked to stop and neo4j is unreachable (the operation then stays undone).
fn until_done(a: &Args, db: &mut Option<Db>, op: &Op, term: &AtomicBool) -> Option<Vec<String>> {
    loop {
        if db.is_none() {
            *db = Db::connect(a).ok();
        }
        if let Some(d) = db.as_mut() {
            match d.request(op) {
                Ok(r) => return Some(r),
                Err(_) => *db = None,
            }
        }
        if stopping(term) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn run(a: Args) -> std::io::Result<i32> {
    let term = term_flag(a.ignore_sigterm)?;
    layout(&a.dir)?;
    let ready = Arc::new(AtomicBool::new(false));
    if let Some(addr) = &a.http {
        let listener = TcpListener::bind(addr)?;
        let port = listener.local_addr()?.port();
        if let Some(p) = &a.http_port_file {
            write_atomic(p, port.to_string().as_bytes())?;
        }
        if addr.ends_with(":0") {
            // Like a Structr whose structr.conf names its port: clients read it there.
            set_http_port(&a.dir.join("structr.conf"), port)?;
        }
        let ready = ready.clone();
        let dir = a.dir.clone();
        std::thread::spawn(move || super::deploy::serve(listener, ready, dir));
    }
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(a.dir.join("logs/server.log"))?;
    let mut rng = Rng::from_time();
    let mut db = None;
    let Some(mut ids) = until_done(&a, &mut db, &Op::List, &term) else {
        return Ok(0);
    };
    ready.store(true, Ordering::SeqCst);
    writeln!(log, "structr stand-in: started with {} nodes", ids.len())?;
    while !stopping(&term) {
        std::thread::sleep(Duration::from_millis(a.interval_ms));
        if rng.next().is_multiple_of(4) && !ids.is_empty() {
            let id = ids.swap_remove((rng.next() % ids.len() as u64) as usize);
            if until_done(&a, &mut db, &Op::Delete(id.clone()), &term).is_none() {
                break;
            }
            fs::remove_file(file_path(&a.dir, &id))?;
            writeln!(log, "deleted {id}")?;
        } else {
            let id = rng.uuid();
            let path = file_path(&a.dir, &id);
            fs::create_dir_all(path.parent().unwrap_or(&a.dir))?;
            let mut data = vec![0u8; 1024 * (1 + (rng.next() % 64) as usize)];
            rng.fill(&mut data);
            let tmp = path.with_file_name(format!(".{id}.tmp"));
            fs::write(&tmp, &data)?;
            fs::rename(&tmp, &path)?;
            if until_done(
                &a,
                &mut db,
                &Op::Create(id.clone(), data.len() as u64),
                &term,
            )
            .is_none()
            {
                // Neo4j is gone and we are told to stop: undo the file so the two agree.
                fs::remove_file(&path)?;
                break;
            }
            ids.push(id.clone());
            writeln!(log, "created {id} ({} bytes)", data.len())?;
        }
    }
    writeln!(log, "structr stand-in: stopped cleanly")?;
    Ok(0)
}
