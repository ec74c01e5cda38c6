//! A snapshot of a directory tree (everything a restore must reproduce) for
//! comparing a restored tree with the original; the same tree's extended
//! attributes, ACLs, capabilities and nanosecond mtimes as the standard tools
//! (getfattr, getfacl, getcap, stat) report them; and a tree that has all of those.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: char,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub content: String,
    pub link: Vec<u8>,
    /// For files with several links: the first path (in sorted order) sharing the inode.
    pub hardlink_of: Option<Vec<u8>>,
}

pub type Snapshot = BTreeMap<Vec<u8>, Node>;

pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut inodes: BTreeMap<(u64, u64), Vec<u8>> = BTreeMap::new();
    walk(root, root, &mut out, &mut inodes);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Snapshot, inodes: &mut BTreeMap<(u64, u64), Vec<u8>>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .as_os_str()
            .as_bytes()
            .to_vec();
        let ft = meta.file_type();
        let mut node = Node {
            kind: if ft.is_dir() {
                'd'
            } else if ft.is_symlink() {
                'l'
            } else {
                'f'
            },
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size: if ft.is_file() { meta.len() } else { 0 },
            // Directory mtimes change when their contents change during a walk of a
            // live tree; compare them too: restore must set them after the contents.
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            content: String::new(),
            link: Vec::new(),
            hardlink_of: None,
        };
        if ft.is_symlink() {
            node.link = std::fs::read_link(&path)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec();
            node.mode = 0;
        } else if ft.is_file() {
            node.content = hex(&Sha256::digest(std::fs::read(&path).unwrap()));
            if meta.nlink() > 1 {
                let first = inodes
                    .entry((meta.dev(), meta.ino()))
                    .or_insert_with(|| rel.clone());
                if *first != rel {
                    node.hardlink_of = Some(first.clone());
                }
            }
        }
        out.insert(rel, node);
        if ft.is_dir() {
            walk(root, &path, out, inodes);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Differences between two snapshots, readable, at most 20.
pub fn diff(a: &Snapshot, b: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => out.push(format!("missing: {}", String::from_utf8_lossy(k))),
            Some(w) if w != v => out.push(format!(
                "differs: {}: {v:?} vs {w:?}",
                String::from_utf8_lossy(k)
            )),
            _ => {}
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        out.push(format!("extra: {}", String::from_utf8_lossy(k)));
    }
    out.truncate(20);
    out
}

pub fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(&e.path()),
            Ok(t) if t.is_file() => 1,
            _ => 0,
        })
        .sum()
}

/// Paths under `root` (relative, sorted, the root as `.`), symlinks not followed.
pub fn paths(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![std::path::PathBuf::from(".")];
    out.extend(
        snapshot(root)
            .keys()
            .map(|k| std::path::PathBuf::from(std::ffi::OsStr::from_bytes(k))),
    );
    out
}

fn tool(root: &Path, argv: &[&str], paths: &[std::path::PathBuf]) -> String {
    if paths.is_empty() {
        return String::new();
    }
    let out = std::process::Command::new(argv[0])
        .args(&argv[1..])
        .arg("--")
        .args(paths)
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (scripts/test installs attr, acl, libcap2-bin)",
                argv[0]
            )
        });
    assert!(
        out.status.success(),
        "{argv:?} in {}: {}",
        root.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the standard tools say about every entry under `root`: all extended
/// attributes (`getfattr -h -d -m -`), the ACLs (`getfacl`, not for symlinks),
/// file capabilities (`getcap`) and the mtime to the nanosecond (`stat -c %y`),
/// one line each, in path order, so two trees compare line by line.
pub fn attr_report(root: &Path) -> Vec<String> {
    let all = paths(root);
    let not_links: Vec<_> = all
        .iter()
        .filter(|p| {
            !std::fs::symlink_metadata(root.join(p))
                .unwrap()
                .file_type()
                .is_symlink()
        })
        .cloned()
        .collect();
    let files: Vec<_> = not_links
        .iter()
        .filter(|p| std::fs::symlink_metadata(root.join(p)).unwrap().is_file())
        .cloned()
        .collect();
    let mut out = Vec::new();
    for (what, text) in [
        (
            "getfattr",
            tool(root, &["getfattr", "-h", "-d", "-m", "-"], &all),
        ),
        ("getfacl", tool(root, &["getfacl", "-p"], &not_links)),
        ("getcap", tool(root, &["getcap"], &files)),
        ("stat", tool(root, &["stat", "-c", "%n %y"], &all)),
    ] {
        out.extend(
            text.lines()
                .filter(|l| !l.is_empty())
                .map(|l| format!("{what}: {l}")),
        );
    }
    out
}

/// Lines of `a` missing from `b` and the other way round, at most 20.
pub fn report_diff(a: &[String], b: &[String]) -> Vec<String> {
    let mut out: Vec<String> = a
        .iter()
        .filter(|l| !b.contains(l))
        .map(|l| format!("- {l}"))
        .chain(
            b.iter()
                .filter(|l| !a.contains(l))
                .map(|l| format!("+ {l}")),
        )
        .collect();
    out.truncate(20);
    out
}

fn run(argv: &[&str]) {
    let out = std::process::Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (scripts/test installs attr, acl, libcap2-bin)",
                argv[0]
            )
        });
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn set_mtime_ns(path: &Path, secs: i64, nsec: i64) {
    let t = nix::sys::time::TimeSpec::new(secs, nsec);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

/// The sparse file of [`attribute_tree`]: 64 MiB, 4 KiB of data in the middle.
pub const SPARSE: &str = "attrs/sparse.db";
pub const SPARSE_LEN: u64 = 64 << 20;

/// A tree under `root/attrs` with what only careful archives keep (needs root and
/// a file system with user xattrs): user and trusted xattrs (one with binary
/// bytes and a newline), an ACL, a default ACL on a folder, a file capability, a
/// sparse file, and nanosecond mtimes on files, folders and symlinks.
pub fn attribute_tree(root: &Path) {
    use std::os::unix::fs::FileExt;
    let a = root.join("attrs");
    std::fs::create_dir_all(a.join("acl-dir/inner")).unwrap();
    let p = |rel: &str| a.join(rel).display().to_string();
    std::fs::write(a.join("user-xattrs.txt"), b"with user xattrs").unwrap();
    run(&[
        "setfattr",
        "-n",
        "user.comment",
        "-v",
        "hello world",
        &p("user-xattrs.txt"),
    ]);
    run(&[
        "setfattr",
        "-n",
        "user.binary",
        "-v",
        "0x0a00ff0a3d",
        &p("user-xattrs.txt"),
    ]);
    run(&[
        "setfattr",
        "-n",
        "trusted.structr",
        "-v",
        "t",
        &p("user-xattrs.txt"),
    ]);
    std::fs::write(a.join("acl.txt"), b"readable by nobody").unwrap();
    run(&["setfacl", "-m", "u:nobody:r", &p("acl.txt")]);
    run(&["setfacl", "-m", "u:nobody:rx", &p("acl-dir")]);
    run(&["setfacl", "-d", "-m", "u:nobody:rx", &p("acl-dir")]);
    run(&[
        "setfattr",
        "-n",
        "user.on-a-folder",
        "-v",
        "d",
        &p("acl-dir"),
    ]);
    std::fs::write(a.join("acl-dir/inner/file"), b"inherits the default ACL").unwrap();
    std::fs::write(a.join("bind-tool"), b"\x7fELF pretend").unwrap();
    std::fs::set_permissions(
        a.join("bind-tool"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    run(&["setcap", "cap_net_bind_service+ep", &p("bind-tool")]);
    let f = std::fs::File::create(a.join("sparse.db")).unwrap();
    f.set_len(SPARSE_LEN).unwrap();
    f.write_all_at(&[0xab; 4096], 32 << 20).unwrap();
    drop(f);
    std::os::unix::fs::symlink("acl.txt", a.join("link")).unwrap();
    for (i, rel) in [
        "user-xattrs.txt",
        "acl.txt",
        "bind-tool",
        "sparse.db",
        "link",
        "acl-dir/inner/file",
        "acl-dir/inner",
        "acl-dir",
        "",
    ]
    .iter()
    .enumerate()
    {
        set_mtime_ns(
            &a.join(rel),
            1_700_000_000 + i as i64,
            123_456_789 + i as i64,
        );
    }
}

/// Blocks (512 bytes) allocated to a file, as `stat -c %b` says.
pub fn blocks(path: &Path) -> u64 {
    let out = std::process::Command::new("stat")
        .args(["-c", "%b"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// A folder for test sandboxes on a file system with user xattrs: the temp
/// folder when it has them, else a small ext4 image mounted on a loop device
/// (unmounted on drop).
pub struct XattrBase {
    pub path: Option<std::path::PathBuf>,
    mounted: Option<std::path::PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

impl XattrBase {
    pub fn new() -> XattrBase {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test sets trusted xattrs and capabilities: run the suite as root (scripts/test)"
        );
        let probe = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("setfattr")
            .args(["-n", "user.probe", "-v", "1"])
            .arg(probe.path())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return XattrBase {
                path: None,
                mounted: None,
                _dir: None,
            };
        }
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("ext4.img").display().to_string();
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        run(&["truncate", "-s", "1G", &img]);
        run(&["mkfs.ext4", "-q", "-F", &img]);
        run(&["mount", "-o", "loop", &img, &mnt.display().to_string()]);
        XattrBase {
            path: Some(mnt.clone()),
            mounted: Some(mnt),
            _dir: Some(dir),
        }
    }
}

impl Drop for XattrBase {
    fn drop(&mut self) {
        if let Some(m) = &self.mounted {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(m)
                .status();
        }
    }
}

/// A small component: a 5 MiB store file, an empty file and a hard link to it,
/// a folder name with a space, an empty folder and a relative symlink.
pub fn sample(root: &Path) {
    std::fs::create_dir_all(root.join("databases/neo4j")).unwrap();
    std::fs::write(root.join("databases/neo4j/store.db"), vec![42u8; 5 << 20]).unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::create_dir_all(root.join("dir with space/empty dir")).unwrap();
    std::os::unix::fs::symlink("databases/neo4j/store.db", root.join("link")).unwrap();
    std::fs::hard_link(root.join("empty"), root.join("empty-too")).unwrap();
}
