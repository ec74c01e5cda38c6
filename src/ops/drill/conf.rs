//! The configuration a drill's Neo4j runs with: the installation's own
//! neo4j.conf (its memory, plugins, JVM options, store format settings), with
//! every folder Neo4j writes pointed into the drill's scratch folder and every
//! listener on 127.0.0.1 at a free port or disabled, so the copy's Neo4j can
//! neither write where production lives nor take a port production uses.

use std::collections::HashMap;
use std::path::Path;

/// Where the copy's Neo4j may write and listen.
pub struct Places<'a> {
    /// The copy of the data folder.
    pub data: &'a Path,
    /// A folder of the drill's own for logs, the pid file, imports.
    pub work: &'a Path,
    /// Bolt's port (the one the drill connects to).
    pub bolt: u16,
    /// Free ports for the listeners an Enterprise edition opens besides Bolt.
    pub others: [u16; 5],
}

/// `production` (the text of the installation's neo4j.conf) with our settings in
/// place of its own for the same keys. `four`: Neo4j 4.x's key names.
pub fn scratch_conf(production: &str, four: bool, p: &Places) -> String {
    let ours = overrides(four, p);
    let keys: Vec<&str> = ours.iter().map(|(k, _)| k.as_str()).collect();
    let mut out = String::from(
        "# Written by structr-backup for a restore drill: the installation's neo4j.conf,\n\
         # its folders and listeners replaced by the block at the end.\n",
    );
    for line in production.lines() {
        let key = line
            .split_once('=')
            .map(|(k, _)| k.trim().to_lowercase())
            .unwrap_or_default();
        if !line.trim_start().starts_with('#') && keys.contains(&key.as_str()) {
            out.push_str("# (replaced for the drill) ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("\n# structr-backup drill\n");
    for (k, v) in ours {
        out.push_str(&format!("{k}={v}\n"));
    }
    out
}

fn overrides(four: bool, p: &Places) -> Vec<(String, String)> {
    let data = p.data.display().to_string();
    let work = |name: &str| p.work.join(name).display().to_string();
    let local = |port: u16| format!("127.0.0.1:{port}");
    let [o1, o2, o3, o4, o5] = p.others;
    // An unknown key (an Enterprise listener on Community) is then a warning,
    // not a refusal to start.
    let list: Vec<(&str, String)> = if four {
        vec![
            ("dbms.config.strict_validation", "false".into()),
            ("dbms.directories.data", data.clone()),
            (
                "dbms.directories.transaction.logs.root",
                format!("{data}/transactions"),
            ),
            ("dbms.directories.dumps.root", format!("{data}/dumps")),
            ("dbms.directories.logs", work("logs")),
            ("dbms.directories.run", work("run")),
            ("dbms.directories.import", work("import")),
            ("dbms.directories.metrics", work("metrics")),
            ("dbms.default_listen_address", "127.0.0.1".into()),
            ("dbms.default_advertised_address", "127.0.0.1".into()),
            ("dbms.connector.bolt.enabled", "true".into()),
            ("dbms.connector.bolt.listen_address", local(p.bolt)),
            ("dbms.connector.bolt.advertised_address", local(p.bolt)),
            ("dbms.connector.bolt.tls_level", "DISABLED".into()),
            ("dbms.connector.http.enabled", "false".into()),
            ("dbms.connector.https.enabled", "false".into()),
            ("dbms.backup.enabled", "false".into()),
            ("dbms.backup.listen_address", local(o1)),
            ("causal_clustering.discovery_listen_address", local(o2)),
            ("causal_clustering.transaction_listen_address", local(o3)),
            ("causal_clustering.raft_listen_address", local(o4)),
            ("dbms.routing.listen_address", local(o5)),
            ("metrics.enabled", "false".into()),
            ("dbms.memory.pagecache.size", "256m".into()),
            ("dbms.memory.heap.initial_size", "256m".into()),
        ]
    } else {
        vec![
            ("server.config.strict_validation.enabled", "false".into()),
            ("server.directories.data", data.clone()),
            (
                "server.directories.transaction.logs.root",
                format!("{data}/transactions"),
            ),
            ("server.directories.dumps.root", format!("{data}/dumps")),
            (
                "server.directories.cluster_state",
                format!("{data}/cluster-state"),
            ),
            ("server.directories.logs", work("logs")),
            ("server.directories.run", work("run")),
            ("server.directories.import", work("import")),
            ("server.directories.metrics", work("metrics")),
            ("server.directories.script.root", work("scripts")),
            ("server.default_listen_address", "127.0.0.1".into()),
            ("server.default_advertised_address", "127.0.0.1".into()),
            ("server.bolt.enabled", "true".into()),
            ("server.bolt.listen_address", local(p.bolt)),
            ("server.bolt.advertised_address", local(p.bolt)),
            ("server.bolt.tls_level", "DISABLED".into()),
            ("server.http.enabled", "false".into()),
            ("server.https.enabled", "false".into()),
            ("server.backup.enabled", "false".into()),
            ("server.backup.listen_address", local(o1)),
            ("server.discovery.listen_address", local(o2)),
            ("server.cluster.listen_address", local(o3)),
            ("server.cluster.raft.listen_address", local(o4)),
            ("server.routing.listen_address", local(o5)),
            ("server.metrics.enabled", "false".into()),
            // Small: production may run beside it on the same machine.
            ("server.memory.pagecache.size", "256m".into()),
            ("server.memory.heap.initial_size", "256m".into()),
        ]
    };
    list.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The database the installation serves (and the drill checks).
pub fn database_name(production: &HashMap<String, String>) -> String {
    production
        .get("initial.dbms.default_database")
        .or_else(|| production.get("dbms.default_database"))
        .cloned()
        .unwrap_or_else(|| "neo4j".into())
}

/// A port nobody listens on now on 127.0.0.1 (the kernel's pick).
pub fn free_port() -> std::io::Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr().map(|a| a.port()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::conf::parse_properties;

    const DEBIAN: &str = "\
server.directories.data=/var/lib/neo4j/data
server.directories.logs=/var/log/neo4j
server.directories.lib=/usr/share/neo4j/lib
server.default_listen_address=0.0.0.0
server.bolt.listen_address=:7687
server.http.listen_address=:7474
Server.HTTP.Enabled=true
server.memory.pagecache.size=8g
server.jvm.additional=-XX:+UseG1GC
";

    #[test]
    fn nothing_points_at_production_and_every_listener_is_local() {
        let work = Path::new("/var/tmp/drill/neo4j");
        let places = Places {
            data: Path::new("/var/tmp/drill/neo4j-data"),
            work,
            bolt: 40001,
            others: [40002, 40003, 40004, 40005, 40006],
        };
        let text = scratch_conf(DEBIAN, false, &places);
        let p = parse_properties(&text);
        assert_eq!(p["server.directories.data"], "/var/tmp/drill/neo4j-data");
        assert_eq!(p["server.directories.logs"], "/var/tmp/drill/neo4j/logs");
        assert_eq!(p["server.bolt.listen_address"], "127.0.0.1:40001");
        assert_eq!(p["server.http.enabled"], "false");
        assert_eq!(p["server.default_listen_address"], "127.0.0.1");
        assert_eq!(p["server.memory.pagecache.size"], "256m");
        // Kept: what only makes Neo4j run as it does in production.
        assert_eq!(p["server.jvm.additional"], "-XX:+UseG1GC");
        assert_eq!(p["server.directories.lib"], "/usr/share/neo4j/lib");
        // Each replaced key is set once (the production line is a comment now).
        for key in [
            "server.directories.data",
            "server.http.enabled",
            "server.bolt.listen_address",
        ] {
            let set = text
                .lines()
                .filter(|l| l.to_lowercase().starts_with(&format!("{key}=")))
                .count();
            assert_eq!(set, 1, "{key}:\n{text}");
        }
        assert!(!text
            .lines()
            .any(|l| !l.starts_with('#') && l.contains("/var/lib/neo4j/data")));

        let four = scratch_conf("dbms.directories.data=/var/lib/neo4j/data\n", true, &places);
        let p = parse_properties(&four);
        assert_eq!(p["dbms.directories.data"], "/var/tmp/drill/neo4j-data");
        assert_eq!(p["dbms.connector.bolt.listen_address"], "127.0.0.1:40001");
    }

    #[test]
    fn the_database_is_the_configured_default() {
        assert_eq!(database_name(&HashMap::new()), "neo4j");
        let p = parse_properties("initial.dbms.default_database=structr\n");
        assert_eq!(database_name(&p), "structr");
    }
}
