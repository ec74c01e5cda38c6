//! Proof that Neo4j let go of its store. Neo4j locks `databases/store_lock` and each
//! `databases/<db>/database_lock` with Java's FileChannel.tryLock, which is a POSIX
//! record lock (fcntl), not flock; the files stay after shutdown, so only a held
//! lock means anything. We ask the kernel with F_GETLK, which never takes a lock.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLock {
    pub path: PathBuf,
    /// The holder's pid as the kernel reports it (0 when it is in another pid namespace).
    pub pid: i32,
}

/// The lock files Neo4j uses inside a data directory that exist now.
pub fn lock_files(data_dir: &Path) -> Vec<PathBuf> {
    let databases = data_dir.join("databases");
    let mut files = vec![databases.join("store_lock")];
    if let Ok(entries) = std::fs::read_dir(&databases) {
        let mut dbs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path().join("database_lock"))
            .collect();
        dbs.sort();
        files.extend(dbs);
    }
    files.retain(|p| p.is_file());
    files
}

/// Every lock still held on the store; empty means Neo4j is not using it.
pub fn held_locks(data_dir: &Path) -> std::io::Result<Vec<HeldLock>> {
    let mut held = Vec::new();
    for path in lock_files(data_dir) {
        if let Some(pid) = holder(&path)? {
            held.push(HeldLock { path, pid });
        }
    }
    Ok(held)
}

/// The pid holding a conflicting fcntl lock on `path`, if any.
fn holder(path: &Path) -> std::io::Result<Option<i32>> {
    let file = File::open(path)?;
    // SAFETY: a plain C struct; all-zero is a valid value that we then fill in.
    let mut probe: libc::flock = unsafe { std::mem::zeroed() };
    probe.l_type = libc::F_WRLCK as libc::c_short;
    probe.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: F_GETLK reads and writes the struct we own; the fd is open for the call.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut probe) };
    if rc == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((probe.l_type != libc::F_UNLCK as libc::c_short).then_some(probe.l_pid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn sees_a_lock_held_by_another_process_and_its_release() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("databases/neo4j");
        std::fs::create_dir_all(&db).unwrap();
        let lock = dir.path().join("databases/store_lock");
        std::fs::write(&lock, "").unwrap();
        std::fs::write(db.join("database_lock"), "").unwrap();
        assert!(held_locks(dir.path()).unwrap().is_empty());

        // python's fcntl.lockf is the same POSIX record lock Java takes.
        let script = format!(
            "import fcntl,sys,time\nf=open('{}','r+')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\nsys.stdin.read()",
            lock.display()
        );
        let mut child = Command::new("python3")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed for this test");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "locked");
        let held = held_locks(dir.path()).unwrap();
        assert_eq!(
            held,
            vec![HeldLock {
                path: lock.clone(),
                pid: child.id() as i32
            }]
        );
        drop(child.stdin.take());
        child.wait().unwrap();
        assert!(held_locks(dir.path()).unwrap().is_empty());
    }
}
