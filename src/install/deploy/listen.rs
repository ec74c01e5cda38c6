//! Who listens on a loopback port: the kernel's socket tables (`/proc/net/tcp`
//! and `/proc/net/tcp6`, of our own network namespace) name each listening
//! socket's address, owner (uid) and inode. The superuser password is sent only
//! when every socket that could take a connection to `127.0.0.1:PORT` belongs to
//! a user we trust, so a local user who binds Structr's port while it is down (or
//! beside it) never hears the password.

use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A listening socket that a connection to `127.0.0.1:port` may reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// As the table shows it: `0.0.0.0`, `127.0.0.1`, `::`, `::ffff:127.0.0.1`.
    pub addr: String,
    pub uid: u32,
    pub inode: u64,
}

/// TCP state LISTEN in the kernel's tables.
const LISTEN: &str = "0A";

/// Every listening socket on `port` that takes connections to 127.0.0.1: bound to
/// 127.0.0.1 or to a wildcard (an IPv6 wildcard may accept IPv4 too). `Err` when
/// neither table can be read.
pub fn listeners(port: u16) -> Result<Vec<Listener>, String> {
    let mut out = Vec::new();
    let mut read_any = false;
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        // A kernel without IPv6 has no tcp6 table.
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        read_any = true;
        out.extend(parse_table(&text, v6, port));
    }
    match read_any {
        true => Ok(out),
        false => Err("cannot read /proc/net/tcp to tell who listens on the port".into()),
    }
}

/// The listening sockets of one table (`v6`: tcp6) on `port` that reach 127.0.0.1.
pub fn parse_table(text: &str, v6: bool, port: u16) -> Vec<Listener> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != LISTEN {
                return None;
            }
            let (addr, p) = f[1].split_once(':')?;
            if u16::from_str_radix(p, 16).ok()? != port {
                return None;
            }
            let addr = match v6 {
                false => reaches_loopback_v4(decode_v4(addr)?)?,
                true => reaches_loopback_v6(decode_v6(addr)?)?,
            };
            Some(Listener {
                addr,
                uid: f[7].parse().ok()?,
                inode: f[9].parse().ok()?,
            })
        })
        .collect()
}

/// The kernel prints the address as it lies in memory (network order) read as a
/// native-endian 32-bit word.
fn decode_v4(hex: &str) -> Option<Ipv4Addr> {
    let word = u32::from_str_radix(hex, 16).ok()?;
    Some(Ipv4Addr::from(word.to_ne_bytes()))
}

/// Four such words.
fn decode_v6(hex: &str) -> Option<Ipv6Addr> {
    if hex.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for i in 0..4 {
        let word = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
        bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_ne_bytes());
    }
    Some(Ipv6Addr::from(bytes))
}

fn reaches_loopback_v4(a: Ipv4Addr) -> Option<String> {
    (a.is_unspecified() || a == Ipv4Addr::LOCALHOST).then(|| a.to_string())
}

fn reaches_loopback_v6(a: Ipv6Addr) -> Option<String> {
    let mapped = a
        .to_ipv4_mapped()
        .is_some_and(|v4| v4.is_unspecified() || v4 == Ipv4Addr::LOCALHOST);
    (a.is_unspecified() || mapped).then(|| a.to_string())
}

/// The uids a process runs as (real, effective, saved, file system), from
/// `/proc/PID/status`; a socket it opens is owned by its file-system uid.
pub fn process_uids(pid: u32) -> Result<Vec<u32>, String> {
    let file = format!("/proc/{pid}/status");
    let text = fs::read_to_string(&file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .ok_or_else(|| format!("{file} names no Uid"))?;
    let uids: Vec<u32> = line
        .split_whitespace()
        .filter_map(|u| u.parse().ok())
        .collect();
    match uids.is_empty() {
        true => Err(format!("{file} names no Uid")),
        false => Ok(uids),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F92 00000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 1078 1 0 100 0 0 10 0
   1: 0100007F:1F93 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 2001 1 0 100 0 0 10 0
   2: 0200007F:1F93 00000000:0000 0A 00000000:00000000 00:00000000 00000000    12        0 2002 1 0 100 0 0 10 0
   3: 0100007F:1F93 0100007F:C000 01 00000000:00000000 00:00000000 00000000     0        0 2003 1 0 100 0 0 10 0
";

    // The sample tables were written on a little-endian machine.
    #[cfg(target_endian = "little")]
    #[test]
    fn reads_listeners_that_reach_loopback() {
        let l = parse_table(TCP, false, 0x1F92);
        assert_eq!(
            l,
            vec![Listener {
                addr: "0.0.0.0".into(),
                uid: 998,
                inode: 1078
            }]
        );
        // 127.0.0.2 does not take connections to 127.0.0.1; an established
        // connection is no listener.
        let l = parse_table(TCP, false, 0x1F93);
        assert_eq!(
            l.iter()
                .map(|l| (l.addr.as_str(), l.uid))
                .collect::<Vec<_>>(),
            vec![("127.0.0.1", 65534)]
        );
        let v6 = "  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   7        0 3001 1
   1: 0000000000000000FFFF00000100007F:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   8        0 3002 1
   2: 00000000000000000000000001000000:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   9        0 3003 1
";
        let l = parse_table(v6, true, 0x1F92);
        assert_eq!(
            l.iter()
                .map(|l| (l.addr.as_str(), l.uid))
                .collect::<Vec<_>>(),
            vec![("::", 7), ("::ffff:127.0.0.1", 8)],
            "::1 is not 127.0.0.1"
        );
    }

    #[test]
    fn finds_a_real_listener_and_its_owner() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let found = listeners(port).unwrap();
        let me = nix::unistd::geteuid().as_raw();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].addr.as_str(), found[0].uid), ("127.0.0.1", me));
        assert!(found[0].inode > 0);
        drop(l);
        assert!(listeners(port).unwrap().is_empty());
        assert!(process_uids(std::process::id()).unwrap().contains(&me));
    }
}
