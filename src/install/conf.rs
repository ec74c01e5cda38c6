//! Reading structr.conf and neo4j.conf (Java properties style: `key = value`,
//! `#` comments). Structr matches keys case-insensitively; so do we.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Parses `key = value` / `key=value` lines; keys lowercased, later lines win.
pub fn parse_properties(text: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let split = line.find(['=', ':']).map(|i| (&line[..i], &line[i + 1..]));
        if let Some((k, v)) = split {
            map.insert(k.trim().to_lowercase(), v.trim().to_string());
        }
    }
    map
}

/// What matters in structr.conf for a backup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructrConf {
    /// `files.path` when it points outside the Structr directory (then it is a
    /// component of its own); None when files live in `<dir>/files`.
    pub files_outside: Option<PathBuf>,
    pub http_port: u16,
    /// `application.host`: the address Structr listens on (None: all, Structr's default).
    pub host: Option<std::net::IpAddr>,
    /// The active database connection's URL (bolt://host:port), if configured.
    pub database_url: Option<String>,
}

pub fn structr_conf(dir: &Path) -> Option<StructrConf> {
    let text = std::fs::read_to_string(dir.join("structr.conf")).ok()?;
    Some(parse_structr_conf(&text, dir))
}

pub fn parse_structr_conf(text: &str, dir: &Path) -> StructrConf {
    let p = parse_properties(text);
    let base =
        p.get("base.path")
            .map(PathBuf::from)
            .map(|b| if b.is_absolute() { b } else { dir.join(b) });
    let base = base.unwrap_or_else(|| dir.to_path_buf());
    let files =
        p.get("files.path")
            .map(PathBuf::from)
            .map(|f| if f.is_absolute() { f } else { base.join(f) });
    let files_outside = files.filter(|f| !normalise(f).starts_with(normalise(dir)));
    // The active connection is prefixed: nodeservice.active = <name>, then
    // <name>.database.connection.url; fall back to the unprefixed key.
    let database_url = p
        .get("nodeservice.active")
        .and_then(|name| p.get(&format!("{}.database.connection.url", name.to_lowercase())))
        .or_else(|| p.get("database.connection.url"))
        .cloned();
    StructrConf {
        files_outside,
        http_port: p
            .get("application.http.port")
            .and_then(|v| v.parse().ok())
            .unwrap_or(8082),
        host: p.get("application.host").and_then(|h| h.parse().ok()),
        database_url,
    }
}

fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// What matters in neo4j.conf: the data directory and the bolt port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neo4jConf {
    pub data_dir: PathBuf,
    pub bolt_port: u16,
    /// "5+" when `server.*` keys are used, "4" for `dbms.*` keys.
    pub generation: Option<&'static str>,
}

pub const NEO4J_CONF: &str = "/etc/neo4j/neo4j.conf";
pub const NEO4J_DATA_DEFAULT: &str = "/var/lib/neo4j/data";

pub fn neo4j_conf(path: &Path) -> Neo4jConf {
    parse_neo4j_conf(&std::fs::read_to_string(path).unwrap_or_default())
}

pub fn parse_neo4j_conf(text: &str) -> Neo4jConf {
    let p = parse_properties(text);
    let data = p
        .get("server.directories.data")
        .or_else(|| p.get("dbms.directories.data"));
    let bolt = p
        .get("server.bolt.listen_address")
        .or_else(|| p.get("dbms.connector.bolt.listen_address"));
    let generation = if p.keys().any(|k| k.starts_with("server.")) {
        Some("5+")
    } else if p.keys().any(|k| k.starts_with("dbms.")) {
        Some("4")
    } else {
        None
    };
    Neo4jConf {
        data_dir: data
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(NEO4J_DATA_DEFAULT)),
        bolt_port: bolt
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(7687),
        generation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structr_conf_follows_the_active_connection() {
        let text = "superuser.password = x\nnodeservice.active = neo4j-localhost-7687\n\
                    neo4j-localhost-7687.database.connection.url = bolt://localhost:7688\n\
                    database.connection.url = bolt://old:1\napplication.http.port = 9090\n";
        let c = parse_structr_conf(text, Path::new("/usr/lib/structr"));
        assert_eq!(c.database_url.as_deref(), Some("bolt://localhost:7688"));
        assert_eq!(c.http_port, 9090);
        assert_eq!(c.host, None);
        let local = parse_structr_conf("application.host = 127.0.0.1\n", Path::new("/s"));
        assert_eq!(local.host, Some(std::net::Ipv4Addr::LOCALHOST.into()));
        assert_eq!(c.files_outside, None);
    }

    #[test]
    fn files_path_outside_the_dir_is_reported() {
        let c = parse_structr_conf(
            "files.path = /srv/structr-files\n",
            Path::new("/usr/lib/structr"),
        );
        assert_eq!(c.files_outside, Some(PathBuf::from("/srv/structr-files")));
        let inside = parse_structr_conf("files.path = files\n", Path::new("/usr/lib/structr"));
        assert_eq!(inside.files_outside, None);
        let defaults = parse_structr_conf("", Path::new("/usr/lib/structr"));
        assert_eq!((defaults.http_port, defaults.database_url), (8082, None));
    }

    #[test]
    fn neo4j_conf_for_4_and_5() {
        let five = parse_neo4j_conf(
            "server.directories.data=/data/neo4j\nserver.bolt.listen_address=:7688\n",
        );
        assert_eq!(
            (five.data_dir.as_path(), five.bolt_port, five.generation),
            (Path::new("/data/neo4j"), 7688, Some("5+"))
        );
        let four = parse_neo4j_conf("# comment\ndbms.directories.data=/var/lib/neo4j/data4\n");
        assert_eq!(
            (four.data_dir.as_path(), four.bolt_port, four.generation),
            (Path::new("/var/lib/neo4j/data4"), 7687, Some("4"))
        );
        let none = parse_neo4j_conf("");
        assert_eq!(none.data_dir, PathBuf::from(NEO4J_DATA_DEFAULT));
    }
}
