//! Places that must stay apart: the repository, off-site copies and the drill's
//! scratch folder never inside a folder a restore replaces; and which locations
//! are a restic backend rather than a folder.

use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::key_line::line_of_key;
use super::sections::Config;
use crate::sys::lexical;

/// Places that must stay apart: an off-site copy is somewhere else than the
/// repository (the same folder would count as a copy already there), and neither
/// it, the repository nor the drill's scratch folder lies inside a folder a
/// restore replaces whole (Neo4j's data folder, Structr's folder): a backup would
/// archive them into themselves, a restore would swap them away, and a drill
/// would write where production lives.
pub(super) fn validate_places(config: &Config, text: &str, path: &Path) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: line_of_key(text, key),
        message,
    };
    let inst = &config.installation;
    let targets: Vec<(&str, PathBuf)> = [
        ("neo4j_data", &inst.neo4j_data),
        ("structr_dir", &inst.structr_dir),
    ]
    .into_iter()
    .filter_map(|(k, p)| p.as_deref().map(|p| (k, lexical(p))))
    .collect();
    let inside_target = |p: &Path| {
        let p = lexical(p);
        targets
            .iter()
            .find(|(_, t)| p.starts_with(t))
            .map(|(k, t)| format!("{k} {}", t.display()))
    };
    let repo = config.repository_path();
    let repo_text = repo.to_string_lossy().to_string();
    let repo_local = !is_backend_location(&repo_text);
    if let Some(t) = inside_target(&repo).filter(|_| repo_local) {
        return Err(fail(
            "path",
            format!(
                "[repository] path {repo_text} is inside {t}: a backup would archive the repository into itself and a restore would swap it away; put the repository outside the installation, e.g. /var/backups/structr"
            ),
        ));
    }
    for o in &config.offsite {
        let local = !is_backend_location(&o.path) && !o.path.starts_with("rclone:");
        let same = match (local, repo_local) {
            (true, true) => lexical(Path::new(&o.path)) == lexical(&repo),
            _ => o.path == repo_text,
        };
        if same {
            return Err(fail(
                "path",
                format!(
                    "[[offsite]] {}: path {} is the repository itself, so every copy would count as \"already there\"; name another disk or machine",
                    o.name, o.path
                ),
            ));
        }
        if local && repo_local && lexical(Path::new(&o.path)).starts_with(lexical(&repo)) {
            return Err(fail(
                "path",
                format!(
                    "[[offsite]] {}: path {} is inside the repository {repo_text}: a copy there is lost with the repository; name another disk or machine",
                    o.name, o.path
                ),
            ));
        }
        if let Some(t) = inside_target(Path::new(&o.path)).filter(|_| local) {
            return Err(fail(
                "path",
                format!(
                    "[[offsite]] {}: path {} is inside {t}, which a restore replaces whole (and a backup would archive the copies); name a folder outside the installation",
                    o.name, o.path
                ),
            ));
        }
    }
    if let Some(t) = inside_target(&config.drill.scratch) {
        return Err(fail(
            "scratch",
            format!(
                "[drill] scratch {} is inside {t}: a drill never writes where production lives; use a folder outside the installation, e.g. /var/tmp",
                config.drill.scratch.display()
            ),
        ));
    }
    Ok(())
}

/// A restic backend location (`sftp:…`, `rest:…`, …) rather than a folder.
pub fn is_backend_location(s: &str) -> bool {
    const SCHEMES: [&str; 9] = [
        "sftp:", "rest:", "s3:", "rclone:", "b2:", "azure:", "gs:", "swift:", "local:",
    ];
    SCHEMES.iter().any(|p| s.starts_with(p))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse;

    const BASE: &str = "[repository]\npath = \"/srv/backups/structr\"\n\n[installation]\nkind = \"custom\"\nneo4j_data = \"/srv/neo4j/data\"\nstructr_dir = \"/srv/structr\"\nneo4j = { start = \"a\", stop = \"b\", status = \"c\" }\nstructr = { start = \"a\", stop = \"b\", status = \"c\" }\n";

    fn refused(extra: &str) -> String {
        match parse(&format!("{BASE}{extra}"), Path::new("c.toml")) {
            Ok(_) => panic!("accepted: {extra}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn an_off_site_copy_in_the_repository_or_the_installation_is_refused() {
        let e = refused("\n[[offsite]]\nname = \"usb\"\npath = \"/srv/backups/structr/\"\n");
        assert!(e.contains("is the repository itself"), "{e}");
        let e = refused("\n[[offsite]]\nname = \"usb\"\npath = \"/srv/backups/structr/copies\"\n");
        assert!(e.contains("inside the repository"), "{e}");
        let e =
            refused("\n[[offsite]]\nname = \"usb\"\npath = \"/srv/structr/../structr/backups\"\n");
        assert!(e.contains("inside structr_dir /srv/structr"), "{e}");
        let e = refused("\n[[offsite]]\nname = \"usb\"\npath = \"/srv/neo4j/data/copies\"\n");
        assert!(e.contains("inside neo4j_data /srv/neo4j/data"), "{e}");
        // Beside them is fine, and so is a remote.
        for path in ["/mnt/usb/structr", "rclone:nas:structr"] {
            let text = format!("{BASE}\n[[offsite]]\nname = \"usb\"\npath = \"{path}\"\n");
            assert!(parse(&text, Path::new("c.toml")).is_ok(), "{path}");
        }
    }

    #[test]
    fn a_restic_off_site_equal_to_the_repository_is_refused() {
        let text = BASE.replace(
            "path = \"/srv/backups/structr\"",
            "kind = \"restic\"\npath = \"sftp:nas:/structr\"",
        );
        let e = parse(
            &format!("{text}\n[[offsite]]\nname = \"nas\"\npath = \"sftp:nas:/structr\"\n"),
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("is the repository itself"), "{e}");
    }

    #[test]
    fn a_drill_scratch_or_repository_inside_the_installation_is_refused() {
        let e = refused("\n[drill]\nscratch = \"/srv/neo4j/data/tmp\"\n");
        assert!(
            e.contains("[drill] scratch") && e.contains("where production lives"),
            "{e}"
        );
        let e = refused("\n[drill]\nscratch = \"/srv/structr\"\n");
        assert!(e.contains("inside structr_dir"), "{e}");
        let text = BASE.replace("/srv/backups/structr", "/srv/structr/backups");
        let e = parse(&text, Path::new("c.toml")).unwrap_err().to_string();
        assert!(e.contains("archive the repository into itself"), "{e}");
        assert!(parse(
            &format!("{BASE}\n[drill]\nscratch = \"/srv/scratch\"\n"),
            Path::new("c.toml")
        )
        .is_ok());
    }
}
