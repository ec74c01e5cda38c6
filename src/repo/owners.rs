//! File owners by name. A generation records the user and group name of every
//! uid and gid its files had on the machine that made it; a restore as root maps
//! each onto the uid or gid the same name has here (GNU tar's rule), because a
//! fresh machine allocates system users in install order and `neo4j` rarely gets
//! the same number twice. An id without a name, or whose name does not exist
//! here, keeps its number.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// uid and gid → name, as the backing-up machine knew them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Owners {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<u32, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<u32, String>,
}

impl Owners {
    /// The names these ids have on this machine (ids without a name are left out).
    pub fn lookup(uids: &BTreeSet<u32>, gids: &BTreeSet<u32>) -> Owners {
        Owners {
            users: uids
                .iter()
                .filter_map(|&u| user_name(u).map(|n| (u, n)))
                .collect(),
            groups: gids
                .iter()
                .filter_map(|&g| group_name(g).map(|n| (g, n)))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }
}

/// A user or group name as useradd accepts it (Debian's relaxed rule, minus
/// anything a shell or a terminal would read differently).
pub fn is_plain_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'$'))
}

fn user_name(uid: u32) -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

fn group_name(gid: u32) -> Option<String> {
    nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
        .ok()
        .flatten()
        .map(|g| g.name)
}

fn uid_here(name: &str) -> Option<u32> {
    nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
}

fn gid_here(name: &str) -> Option<u32> {
    nix::unistd::Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    User,
    Group,
}

/// What a restore does with one recorded owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mapping {
    pub kind: IdKind,
    pub name: String,
    /// The id in the generation.
    pub from: u32,
    /// The id the name has here; None: the name does not exist here.
    pub to: Option<u32>,
}

impl Mapping {
    pub fn changes(&self) -> bool {
        self.to.is_some_and(|t| t != self.from)
    }

    pub fn missing(&self) -> bool {
        self.to.is_none()
    }

    /// What to run to fix a name that does not exist here.
    pub fn fix(&self) -> String {
        match self.kind {
            IdKind::User => format!(
                "`useradd --system --no-create-home {}` before the restore, or afterwards `chown -R --from={} {} <folder>`",
                self.name, self.from, self.name
            ),
            IdKind::Group => format!(
                "`groupadd --system {}` before the restore, or afterwards `chgrp -R --from=:{} {} <folder>`",
                self.name, self.from, self.name
            ),
        }
    }
}

impl fmt::Display for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, id) = match self.kind {
            IdKind::User => ("user", "uid"),
            IdKind::Group => ("group", "gid"),
        };
        match self.to {
            Some(to) if to != self.from => write!(
                f,
                "{} ({what}): {id} {} in the generation → {to} here",
                self.name, self.from
            ),
            Some(_) => write!(f, "{} ({what}): {id} {} here too", self.name, self.from),
            None => write!(
                f,
                "{what} {} ({id} {} in the generation) does not exist here: its files keep {id} {}",
                self.name, self.from, self.from
            ),
        }
    }
}

/// The uid and gid translation a restore applies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerMap {
    users: BTreeMap<u32, u32>,
    groups: BTreeMap<u32, u32>,
}

impl OwnerMap {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    pub fn uid(&self, uid: u32) -> u32 {
        self.users.get(&uid).copied().unwrap_or(uid)
    }

    pub fn gid(&self, gid: u32) -> u32 {
        self.groups.get(&gid).copied().unwrap_or(gid)
    }
}

/// Every recorded owner and what becomes of it here, users first.
pub fn mappings(owners: &Owners) -> Vec<Mapping> {
    let users = owners.users.iter().map(|(&id, name)| Mapping {
        kind: IdKind::User,
        name: name.clone(),
        from: id,
        to: uid_here(name),
    });
    let groups = owners.groups.iter().map(|(&id, name)| Mapping {
        kind: IdKind::Group,
        name: name.clone(),
        from: id,
        to: gid_here(name),
    });
    users.chain(groups).collect()
}

/// The translation for `mappings`: only ids whose name has another id here.
pub fn owner_map(mappings: &[Mapping]) -> OwnerMap {
    let mut map = OwnerMap::default();
    for m in mappings {
        if let Some(to) = m.to.filter(|&t| t != m.from) {
            match m.kind {
                IdKind::User => map.users.insert(m.from, to),
                IdKind::Group => map.groups.insert(m.from, to),
            };
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_survive_the_manifest_format() {
        let o = Owners {
            users: [(107, "neo4j".to_string())].into(),
            groups: [(108, "neo4j".to_string())].into(),
        };
        #[derive(Serialize, Deserialize)]
        struct M {
            owners: Owners,
        }
        let text = toml::to_string(&M { owners: o.clone() }).unwrap();
        let back: M = toml::from_str(&text).unwrap();
        assert_eq!(back.owners, o, "{text}");
        assert!(is_plain_name("neo4j") && is_plain_name("www-data"));
        assert!(!is_plain_name("a b") && !is_plain_name("-rf") && !is_plain_name("x\x1b"));
    }

    #[test]
    fn a_name_with_another_id_here_is_mapped_and_a_missing_one_keeps_its_number() {
        // root is uid 0 everywhere; the generation says it was 4711.
        let owners = Owners {
            users: [
                (4711, "root".to_string()),
                (0, "root".into()),
                (4712, "no-such-user-here".into()),
            ]
            .into(),
            groups: [(4713, "root".to_string())].into(),
        };
        let m = mappings(&owners);
        assert_eq!(m.len(), 4);
        let map = owner_map(&m);
        assert_eq!(map.uid(4711), 0);
        assert_eq!(map.uid(0), 0);
        assert_eq!(map.uid(4712), 4712);
        assert_eq!(map.gid(4713), 0);
        assert_eq!(map.gid(5), 5);
        let text: Vec<String> = m.iter().map(|x| x.to_string()).collect();
        assert!(text.contains(&"root (user): uid 4711 in the generation → 0 here".into()));
        assert!(text.contains(&"root (user): uid 0 here too".into()));
        let missing = m.iter().find(|x| x.missing()).unwrap();
        assert!(missing.to_string().contains("does not exist here"));
        assert!(missing.fix().contains("useradd --system"));
    }
}
