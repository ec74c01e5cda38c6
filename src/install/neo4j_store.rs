//! The Neo4j version a store needs, read from the store itself: the *kernel
//! version* Neo4j writes into its transaction logs. The store format
//! (`record-aligned-1.1`) is the same for 5.26 and 2025.12, so only the kernel
//! version tells which Neo4j can open a store: a Neo4j opens a store whose
//! kernel version is no newer than its own release, and refuses a newer one.
//!
//! The layout, as Neo4j 5.x and 2025.x write it (learnt from Neo4j's sources —
//! `LogFormat`, `KernelVersion`, `LogEntryTypeCodes`,
//! `DetachedCheckpointLogEntrySerializerV5_*` — and checked byte for byte on
//! stores written by 5.26.30 and 2025.12.1):
//!
//! - Files: `<data>/transactions/<db>/neostore.transaction.db.<N>` (transactions)
//!   and `<data>/transactions/<db>/checkpoint.<N>` (checkpoints), N counting up
//!   from 0; the highest N is the newest. Both are preallocated (256 MiB and
//!   1 MiB) and zero after what was written.
//! - Header, both kinds of file: byte 0 is the log format (the top byte of a
//!   big-endian 8-byte word whose other 7 bytes are N): 7 (4.x, a 64-byte
//!   header), 8 (5.0–5.19) and 9 (5.20 and later; 5.26.30 and 2025.12.1 write
//!   it), both 128 bytes; 10 and 11 (enveloped logs, not written by default)
//!   are 128 bytes with the kernel version byte itself at offset 96 (10) or 40
//!   (11). Formats 7–9 carry no kernel version in the header.
//! - Every log entry then starts with two bytes: the kernel version byte, then
//!   the entry type (1 transaction start, 3 command, 5 commit, 9 checkpoint of
//!   5.x, 8 checkpoint of 4.x). The first entry of a transaction log starts
//!   right after the header.
//! - Checkpoint files hold fixed-size records from the end of the header: 232
//!   bytes in 5.x/2025.x (type 9; the last 4 bytes a CRC32C of the 228 before
//!   them, little-endian, as entries are little-endian since 5.0), 192 bytes in
//!   4.x (type 8, CRC big-endian; from the sources, not observed). The last
//!   record is the newest checkpoint: a clean shutdown writes one, so its
//!   kernel version is the store's (what `neo4j-admin database info` reports).
//! - Kernel version bytes: see [`KNOWN`]; 5.26 writes 20 (`V5_25`), 2025.12
//!   writes 27 (`V2025_11`), 127 is Neo4j's unreleased development version.
//!
//! Reads are bounded: the header and first entry bytes of the newest
//! transaction log, and in the newest checkpoint file a binary search for the
//! last written record (records are written in order and the rest is zero),
//! then that record — a few kilobytes whatever the logs' size.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Kernel version bytes and Neo4j's names for them (`KernelVersion` in Neo4j
/// 2025.12.1), with the release each one came with.
pub const KNOWN: &[(i8, &str, &str)] = &[
    (-10, "V2_3", "2.3"),
    (1, "V4_0", "4.0"),
    (2, "V4_2", "4.2"),
    (3, "V4_3_D4", "4.3"),
    (4, "V4_4", "4.4"),
    (5, "V5_0", "5.0"),
    (6, "V5_7", "5.7"),
    (7, "V5_8", "5.8"),
    (8, "V5_9", "5.9"),
    (9, "V5_10", "5.10"),
    (10, "V5_11", "5.11"),
    (11, "V5_12", "5.12"),
    (12, "V5_13", "5.13"),
    (13, "V5_14", "5.14"),
    (14, "V5_15", "5.15"),
    (15, "V5_18", "5.18"),
    (16, "V5_19", "5.19"),
    (17, "V5_20", "5.20"),
    (18, "V5_22", "5.22"),
    (19, "V5_23", "5.23"),
    (20, "V5_25", "5.25"),
    (21, "V2025_04", "2025.04"),
    (22, "V2025_05", "2025.05"),
    (23, "V2025_07", "2025.07"),
    (24, "V2025_08", "2025.08"),
    (25, "V2025_09", "2025.09"),
    (26, "V2025_10", "2025.10"),
    (27, "V2025_11", "2025.11"),
];

/// Neo4j's development-only version (`GLORIOUS_FUTURE`).
const DEVELOPMENT: i8 = 127;

/// A kernel version byte as found in a transaction log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelVersion(pub i8);

impl KernelVersion {
    /// Neo4j's enum name (`V5_25`), as its tools print it; None for a byte this
    /// tool does not know.
    pub fn neo4j_name(self) -> Option<&'static str> {
        KNOWN.iter().find(|k| k.0 == self.0).map(|k| k.1)
    }

    /// The release that introduced it (`5.25`, `2025.11`).
    pub fn release(self) -> Option<&'static str> {
        KNOWN.iter().find(|k| k.0 == self.0).map(|k| k.2)
    }

    /// The version as a manifest records it: the release (`5.25`), or, for a byte
    /// not in [`KNOWN`], what can be said of it.
    pub fn name(self) -> String {
        match self.release() {
            Some(r) => r.to_string(),
            None if self.0 == DEVELOPMENT => "development (byte 127)".to_string(),
            None => format!("unknown (byte {})", self.0),
        }
    }

    /// The (major, minor) release a recorded name stands for: `5.25` → (5, 25).
    pub fn parse_release(name: &str) -> Option<(u32, u32)> {
        let (major, minor) = name.trim().split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    }

    /// Versions only grow (an upgrade raises them), so the highest byte seen is the
    /// newest — except the development byte and unknown ones, which are not ordered.
    fn newer_than(self, other: KernelVersion) -> bool {
        self.0 > other.0
    }
}

impl std::fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// The newest kernel version among the databases in a data folder
/// (`server.directories.data`), each read from its own transaction logs.
pub fn kernel_version(data_dir: &Path) -> Result<KernelVersion, String> {
    let all = database_kernel_versions(data_dir)?;
    let mut newest: Option<KernelVersion> = None;
    for v in all.values() {
        if newest.is_none_or(|n| v.newer_than(n)) {
            newest = Some(*v);
        }
    }
    newest.ok_or_else(|| format!("no database in {}", data_dir.display()))
}

/// Each database's kernel version, by database name, from `<data>/transactions/<db>/`.
pub fn database_kernel_versions(
    data_dir: &Path,
) -> Result<BTreeMap<String, KernelVersion>, String> {
    let root = data_dir.join("transactions");
    let entries = std::fs::read_dir(&root).map_err(|e| {
        format!(
            "cannot read Neo4j's transaction logs in {}: {e}; is {} a Neo4j 5 data folder (server.directories.data)?",
            root.display(),
            data_dir.display()
        )
    })?;
    let mut out = BTreeMap::new();
    for e in entries.flatten() {
        let path = e.path();
        if !path.is_dir() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        out.insert(name, database_kernel_version(&path)?);
    }
    if out.is_empty() {
        return Err(format!(
            "{} holds no database's transaction logs: the store was never started, or its logs were not kept",
            root.display()
        ));
    }
    Ok(out)
}

/// One database's kernel version from its transaction log folder: the newest of
/// the last checkpoint's and the newest transaction log's first entry's.
pub fn database_kernel_version(dir: &Path) -> Result<KernelVersion, String> {
    let tx = newest(dir, "neostore.transaction.db.")?.ok_or_else(|| {
        format!(
            "no transaction log (neostore.transaction.db.N) in {}: the store's transaction logs are missing",
            dir.display()
        )
    })?;
    let from_tx = first_entry_version(&tx)?;
    let from_checkpoint = match newest(dir, "checkpoint.")? {
        Some(cp) => last_checkpoint_version(&cp)?,
        None => None,
    };
    match (from_tx, from_checkpoint) {
        (Some(a), Some(b)) => Ok(if a.newer_than(b) { a } else { b }),
        (Some(v), None) | (None, Some(v)) => Ok(v),
        (None, None) => Err(format!(
            "{}: neither a checkpoint nor a transaction names a kernel version (an empty log)",
            dir.display()
        )),
    }
}

/// The file `<prefix><N>` with the highest N in `dir`.
fn newest(dir: &Path, prefix: &str) -> Result<Option<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut best: Option<(u64, PathBuf)> = None;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(n) = name
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        if best.as_ref().is_none_or(|(m, _)| n > *m) {
            best = Some((n, e.path()));
        }
    }
    Ok(best.map(|(_, p)| p))
}

/// What a log file's header says: where entries start, and the kernel version
/// when the format carries it.
struct Header {
    size: u64,
    kernel: Option<KernelVersion>,
}

fn read_header(file: &File, path: &Path, len: u64) -> Result<Header, String> {
    if len == 0 {
        return Err(format!("{} is empty: the log is truncated", path.display()));
    }
    let format = read_at(file, path, 0, 1)?[0];
    let (size, kernel_at) = match format {
        7 => (64, None),
        8 | 9 => (128, None),
        10 => (128, Some(96)),
        11 => (128, Some(40)),
        0 => {
            return Err(format!(
                "{} starts with zeros: a preallocated log that was never written, or a damaged one",
                path.display()
            ))
        }
        other => {
            return Err(format!(
                "{}: unknown log format {other} in its header (Neo4j writes 7 to 11): not a Neo4j transaction log, or a damaged one",
                path.display()
            ))
        }
    };
    if len < size {
        return Err(format!(
            "{} is truncated: {len} bytes, and its header alone takes {size}",
            path.display()
        ));
    }
    let kernel = match kernel_at {
        Some(at) => Some(known(read_at(file, path, at, 1)?[0] as i8, path, at)?),
        None => None,
    };
    Ok(Header { size, kernel })
}

/// A kernel version byte that must be one Neo4j writes: zero and bytes far
/// outside the known range mean the bytes are not a log entry.
fn known(byte: i8, path: &Path, offset: u64) -> Result<KernelVersion, String> {
    let v = KernelVersion(byte);
    let plausible = v.release().is_some() || byte == DEVELOPMENT || (28..=100).contains(&byte);
    if plausible {
        Ok(v)
    } else {
        Err(format!(
            "{} at byte {offset}: {byte} is not a kernel version Neo4j writes: the log is damaged",
            path.display()
        ))
    }
}

/// The kernel version of the first entry of a transaction log (None when no
/// transaction was written into it yet).
fn first_entry_version(path: &Path) -> Result<Option<KernelVersion>, String> {
    let (file, len) = open(path)?;
    let header = read_header(&file, path, len)?;
    if let Some(k) = header.kernel {
        return Ok(Some(k));
    }
    if len < header.size + 2 {
        return Ok(None);
    }
    let entry = read_at(&file, path, header.size, 2)?;
    if entry == [0, 0] {
        return Ok(None);
    }
    let v = known(entry[0] as i8, path, header.size)?;
    if !matches!(entry[1], 1 | 3 | 5 | 10 | 11 | 12) {
        return Err(format!(
            "{} at byte {}: entry type {} is not one a transaction log starts with: the log is damaged",
            path.display(),
            header.size + 1,
            entry[1]
        ));
    }
    Ok(Some(v))
}

/// Record sizes of the checkpoint entry types (see the module comment).
fn record_size(entry_type: u8) -> Option<u64> {
    match entry_type {
        9 => Some(232),
        8 => Some(192),
        _ => None,
    }
}

/// How many torn or damaged records at the end are stepped over before the
/// file is called damaged: only the last write can be torn.
const TORN_TAIL: u64 = 1;

/// The kernel version of the last checkpoint in a checkpoint file (None when
/// it holds none yet).
fn last_checkpoint_version(path: &Path) -> Result<Option<KernelVersion>, String> {
    let (file, len) = open(path)?;
    let header = read_header(&file, path, len)?;
    if let Some(k) = header.kernel {
        return Ok(Some(k));
    }
    if len < header.size + 2 {
        return Ok(None);
    }
    let first = read_at(&file, path, header.size, 2)?;
    if first == [0, 0] {
        return Ok(None);
    }
    let size = record_size(first[1]).ok_or_else(|| {
        format!(
            "{} at byte {}: entry type {} is not a checkpoint: the checkpoint log is damaged",
            path.display(),
            header.size + 1,
            first[1]
        )
    })?;
    let slots = (len - header.size) / size;
    if slots == 0 {
        return Err(format!(
            "{} is truncated in its first checkpoint record ({} bytes after the header, a record takes {size})",
            path.display(),
            len - header.size
        ));
    }
    let at = |k: u64| header.size + k * size;
    // Slots are written in order: find the last one that is not zero.
    let (mut lo, mut hi) = (0u64, slots); // slot lo is written; hi is past the end
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if read_at(&file, path, at(mid), 2)? == [0, 0] {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let mut last_error = String::new();
    for k in (lo.saturating_sub(TORN_TAIL)..=lo).rev() {
        let record = read_at(&file, path, at(k), size as usize)?;
        match checkpoint_record(&record) {
            Ok(byte) => return known(byte, path, at(k)).map(Some),
            Err(e) => {
                last_error = format!("{} at byte {}: {e}", path.display(), at(k));
            }
        }
    }
    Err(format!(
        "{last_error}; no intact checkpoint at the end of the log: it is damaged"
    ))
}

/// The kernel version byte of one checkpoint record whose checksum holds.
fn checkpoint_record(record: &[u8]) -> Result<i8, String> {
    let n = record.len();
    if n < 6 || record_size(record[1]) != Some(n as u64) {
        return Err(format!("entry type {} is not a checkpoint", record[1]));
    }
    let stored: [u8; 4] = [record[n - 4], record[n - 3], record[n - 2], record[n - 1]];
    let version = record[0] as i8;
    // Little-endian since 5.0 (kernel byte 5), big-endian before.
    let stored = if version >= 5 {
        u32::from_le_bytes(stored)
    } else {
        u32::from_be_bytes(stored)
    };
    let computed = crc32c(&record[..n - 4]);
    if stored != computed {
        return Err(format!(
            "checkpoint checksum {stored:08x} does not match its bytes ({computed:08x})"
        ));
    }
    Ok(version)
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as Java's `CRC32C`.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn open(path: &Path) -> Result<(File, u64), String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    Ok((file, len))
}

fn read_at(file: &File, path: &Path, offset: u64, n: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; n];
    file.read_exact_at(&mut buf, offset).map_err(|e| {
        format!(
            "cannot read {n} bytes at {offset} of {}: {e}",
            path.display()
        )
    })?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header of log format 9 as 5.20+ write it: format byte, the file's
    /// number in the 7 bytes after it, then zeros up to 128 bytes (the append
    /// index and store id are not read).
    fn header(n: u8) -> Vec<u8> {
        let mut h = vec![0u8; 128];
        h[0] = 9;
        h[7] = n;
        h
    }

    /// A 232-byte 5.x checkpoint record: kernel byte, type 9, a body, CRC32C
    /// of the first 228 bytes little-endian.
    fn checkpoint(kernel: i8, fill: u8) -> Vec<u8> {
        let mut r = vec![fill; 232];
        r[0] = kernel as u8;
        r[1] = 9;
        let crc = crc32c(&r[..228]);
        r[228..].copy_from_slice(&crc.to_le_bytes());
        r
    }

    fn tx_log(kernel: i8) -> Vec<u8> {
        let mut f = header(0);
        f.extend([kernel as u8, 1, 0x42, 0x42]);
        f.resize(4096, 0);
        f
    }

    fn db_dir(tx: &[u8], cp: &[u8]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("neostore.transaction.db.0"), tx).unwrap();
        std::fs::write(d.path().join("checkpoint.0"), cp).unwrap();
        d
    }

    #[test]
    fn crc32c_is_castagnoli() {
        // The check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn names_follow_neo4j() {
        assert_eq!(KernelVersion(20).neo4j_name(), Some("V5_25"));
        assert_eq!(KernelVersion(20).name(), "5.25");
        assert_eq!(KernelVersion(27).name(), "2025.11");
        assert_eq!(KernelVersion(40).name(), "unknown (byte 40)");
        assert_eq!(KernelVersion::parse_release("2025.11"), Some((2025, 11)));
        assert_eq!(KernelVersion::parse_release("unknown (byte 40)"), None);
    }

    #[test]
    fn the_last_intact_checkpoint_and_the_first_entry_give_the_newest_version() {
        // A 5.25 log whose later checkpoints were written after an upgrade to 2025.11.
        let mut cp = header(0);
        cp.extend(checkpoint(20, 1));
        cp.extend(checkpoint(20, 2));
        cp.extend(checkpoint(27, 3));
        cp.resize(1 << 20, 0); // preallocated, as Neo4j does
        let d = db_dir(&tx_log(20), &cp);
        assert_eq!(database_kernel_version(d.path()), Ok(KernelVersion(27)));

        // The newest transaction log's first entry is newer than the checkpoint.
        let d = db_dir(&tx_log(27), &cp[..128 + 232]);
        assert_eq!(database_kernel_version(d.path()), Ok(KernelVersion(27)));

        // A torn last record (checksum wrong) falls back to the one before it.
        let mut torn = cp.clone();
        torn[128 + 2 * 232 + 100] ^= 0xff;
        let d = db_dir(&tx_log(20), &torn);
        assert_eq!(database_kernel_version(d.path()), Ok(KernelVersion(20)));
    }

    #[test]
    fn the_newest_files_are_read() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("neostore.transaction.db.2"), tx_log(19)).unwrap();
        std::fs::write(d.path().join("neostore.transaction.db.10"), tx_log(20)).unwrap();
        let mut cp = header(3);
        cp.extend(checkpoint(19, 7));
        std::fs::write(d.path().join("checkpoint.3"), &cp).unwrap();
        assert_eq!(database_kernel_version(d.path()), Ok(KernelVersion(20)));
    }

    #[test]
    fn damaged_logs_say_what_is_wrong() {
        let mut cp = header(0);
        cp.extend(checkpoint(20, 1));
        let err = |tx: &[u8], cp: &[u8]| {
            let d = db_dir(tx, cp);
            database_kernel_version(d.path()).unwrap_err()
        };
        assert!(err(&tx_log(20)[..100], &cp).contains("is truncated: 100 bytes"));
        assert!(err(b"", &cp).contains("is empty"));
        assert!(err(&[0xAB; 4096], &cp).contains("unknown log format 171"));
        assert!(err(&tx_log(20), &[0u8; 4096]).contains("starts with zeros"));
        // A checksum that does not hold on every record at the end.
        let mut bad = cp.clone();
        bad[128 + 50] ^= 1;
        assert!(err(&tx_log(20), &bad).contains("does not match"));
        // A transaction log whose first entry is not an entry.
        let mut tx = tx_log(20);
        tx[128] = 0;
        tx[129] = 77;
        assert!(err(&tx, &cp).contains("is not a kernel version Neo4j writes"));
        // No transaction log at all.
        let d = tempfile::tempdir().unwrap();
        assert!(database_kernel_version(d.path())
            .unwrap_err()
            .contains("no transaction log"));
        assert!(kernel_version(d.path())
            .unwrap_err()
            .contains("cannot read Neo4j's transaction logs"));
    }

    #[test]
    fn a_data_folder_gives_each_database_and_the_newest() {
        let data = tempfile::tempdir().unwrap();
        for (db, k) in [("neo4j", 20), ("system", 27)] {
            let dir = data.path().join("transactions").join(db);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("neostore.transaction.db.0"), tx_log(k)).unwrap();
        }
        let all = database_kernel_versions(data.path()).unwrap();
        assert_eq!(all["neo4j"], KernelVersion(20));
        assert_eq!(all["system"], KernelVersion(27));
        assert_eq!(kernel_version(data.path()), Ok(KernelVersion(27)));
    }
}
