//! The stand-in Neo4j: a data dir laid out like Neo4j's, store locks held with
//! fcntl like Java's FileChannel.tryLock, and a line protocol on loopback TCP:
//! `CREATE <id>`, `DELETE <id>`, `LIST`, `PING`. Every change is appended to the
//! transaction log and the node store and fsynced before `OK` is sent.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::process::{stopping, term_flag, write_atomic};
use super::rng::Rng;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data directory (like /var/lib/neo4j/data)
    #[arg(long)]
    data: PathBuf,
    /// Loopback address to listen on, e.g. 127.0.0.1:7687 (port 0: any free port)
    #[arg(long, default_value = "127.0.0.1:7687")]
    bolt: String,
    /// Where to write the port actually listened on
    #[arg(long)]
    port_file: Option<PathBuf>,
    /// Size of the record store file made on first start, in MiB
    #[arg(long, default_value_t = 1)]
    store_mb: u64,
    /// Ignore SIGTERM (a service that will not stop)
    #[arg(long)]
    ignore_sigterm: bool,
}

/// The node store: ids, persisted as an append-only file of `+id` / `-id` lines.
pub struct Store {
    ids: BTreeSet<String>,
    nodes: File,
    txlog: File,
}

pub fn nodes_path(data: &Path) -> PathBuf {
    data.join("databases/neo4j/nodes.db")
}

/// Replays the node store file into the set of live ids.
pub fn read_nodes(path: &Path) -> std::io::Result<BTreeSet<String>> {
    let mut ids = BTreeSet::new();
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(e),
    };
    for line in text.lines() {
        if let Some(id) = line.strip_prefix('+') {
            ids.insert(id.to_string());
        } else if let Some(id) = line.strip_prefix('-') {
            ids.remove(id);
        }
    }
    Ok(ids)
}

impl Store {
    fn apply(&mut self, op: &str, id: &str) -> std::io::Result<()> {
        let changed = match op {
            "CREATE" => self.ids.insert(id.to_string()),
            _ => self.ids.remove(id),
        };
        writeln!(self.txlog, "{op} {id}")?;
        self.txlog.sync_data()?;
        if changed {
            writeln!(self.nodes, "{}{id}", if op == "CREATE" { '+' } else { '-' })?;
            self.nodes.sync_data()?;
        }
        Ok(())
    }
}

fn append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Creates the layout and the store file (once).
fn layout(data: &Path, store_mb: u64) -> std::io::Result<()> {
    for d in [
        "databases/neo4j",
        "databases/system",
        "transactions/neo4j",
        "transactions/system",
        "dbms",
        "dumps",
    ] {
        fs::create_dir_all(data.join(d))?;
    }
    if !data.join("server_id").exists() {
        fs::write(data.join("server_id"), Rng::from_time().uuid())?;
    }
    let store = data.join("databases/neo4j/neostore.nodestore.db");
    let want = store_mb << 20;
    if fs::metadata(&store).map(|m| m.len()).ok() != Some(want) {
        let mut f = std::io::BufWriter::new(File::create(&store)?);
        let mut rng = Rng::new(want);
        let mut buf = vec![0u8; 1 << 20];
        for _ in 0..store_mb {
            rng.fill(&mut buf);
            f.write_all(&buf)?;
        }
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    for f in [
        "databases/system/neostore",
        "transactions/system/neostore.transaction.db.0",
    ] {
        if !data.join(f).exists() {
            fs::write(data.join(f), b"system")?;
        }
    }
    Ok(())
}

/// Takes a POSIX write lock on the whole file, as Java's tryLock does.
fn lock(path: &Path) -> std::io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    // SAFETY: a plain C struct, zeroed then filled; the fd is open for the call.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    let rc = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &fl) };
    if rc == -1 {
        return Err(std::io::Error::other(format!(
            "the store is locked by another process ({}): {}",
            path.display(),
            std::io::Error::last_os_error()
        )));
    }
    Ok(f)
}

pub fn run(a: Args) -> std::io::Result<i32> {
    let term = term_flag(a.ignore_sigterm)?;
    layout(&a.data, a.store_mb)?;
    // Held until we return: dropping the files releases the locks.
    let _locks: Vec<File> = [
        "databases/store_lock",
        "databases/neo4j/database_lock",
        "databases/system/database_lock",
    ]
    .iter()
    .map(|p| lock(&a.data.join(p)))
    .collect::<Result<_, _>>()?;
    let store = Arc::new(Mutex::new(Store {
        ids: read_nodes(&nodes_path(&a.data))?,
        nodes: append(&nodes_path(&a.data))?,
        txlog: append(&a.data.join("transactions/neo4j/neostore.transaction.db.0"))?,
    }));
    let listener = TcpListener::bind(&a.bolt)?;
    listener.set_nonblocking(true)?;
    if let Some(p) = &a.port_file {
        write_atomic(p, listener.local_addr()?.port().to_string().as_bytes())?;
    }
    eprintln!(
        "neo4j stand-in: serving {} on {}",
        a.data.display(),
        listener.local_addr()?
    );
    let mut workers = Vec::new();
    while !stopping(&term) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (store, term) = (store.clone(), term.clone());
                workers.push(std::thread::spawn(move || serve(stream, &store, &term)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => return Err(e),
        }
    }
    drop(listener);
    for w in workers {
        let _ = w.join();
    }
    if let Some(p) = &a.port_file {
        let _ = fs::remove_file(p);
    }
    eprintln!("neo4j stand-in: stopped cleanly");
    Ok(0)
}

/// One client; requests are finished even when a stop comes in meanwhile.
fn serve(stream: TcpStream, store: &Mutex<Store>, term: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if stopping(term) && line.is_empty() {
                    return;
                }
                continue;
            }
            Err(_) => return,
        }
        let reply = {
            let Ok(mut s) = store.lock() else { return };
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some(op @ ("CREATE" | "DELETE")), Some(id)) => match s.apply(op, id) {
                    Ok(()) => "OK\n".to_string(),
                    Err(e) => format!("ERR {e}\n"),
                },
                (Some("LIST"), None) => {
                    s.ids.iter().map(|i| format!("{i}\n")).collect::<String>() + "END\n"
                }
                (Some("PING"), None) => "PONG\n".into(),
                _ => "ERR unknown request\n".into(),
            }
        };
        line.clear();
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
