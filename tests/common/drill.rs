//! Restore drills in a sandbox: the `[drill]` section, a drill slow enough to be
//! killed on its finished copy, and the copies drills leave in the scratch folder.

use std::io::Write;

use std::path::Path;

use super::{q, text, Options, Sandbox};

/// Adds `[drill]` with `command` and a scratch folder in the sandbox; returns it.
pub fn with_drill(sb: &Sandbox, command: &str) -> std::path::PathBuf {
    let scratch = sb.dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let mut cfg = std::fs::OpenOptions::new()
        .append(true)
        .open(&sb.config)
        .unwrap();
    writeln!(
        cfg,
        "\n[drill]\ncommand = {}\nscratch = {}",
        toml::Value::String(command.into()),
        toml::Value::String(scratch.display().to_string())
    )
    .unwrap();
    scratch
}

/// A sandbox whose services are flags (the test runs what it needs itself)
/// and whose structr.conf holds a superuser password (a drill's copy must not
/// leak it).
pub fn drill_sandbox() -> Sandbox {
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    std::fs::create_dir_all(sb.structr_dir.join("files")).unwrap();
    std::fs::write(
        sb.structr_dir.join("structr.conf"),
        "superuser.password = s3cret\n",
    )
    .unwrap();
    sb
}

/// A sandbox whose drill command takes a while (time to kill the drill while
/// the copy is complete), with one generation.
pub fn slow_drill_sandbox() -> (Sandbox, std::path::PathBuf) {
    let sb = drill_sandbox();
    std::fs::write(sb.structr_dir.join("files/a.txt"), "first").unwrap();
    std::fs::create_dir_all(sb.neo4j_data.join("databases/neo4j")).unwrap();
    std::fs::write(sb.neo4j_data.join("databases/neo4j/store"), "store").unwrap();
    let scratch = with_drill(&sb, "sleep 5");
    sb.start();
    let out = sb.cli(&["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    (sb, scratch)
}

pub fn drill_copies(scratch: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(scratch)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("structr-backup-drill-")
        })
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// Runs `drill` and kills it with SIGKILL once its command runs on the finished
/// copy; returns the copy it left behind.
pub fn kill_a_drill(sb: &Sandbox, scratch: &std::path::Path) -> std::path::PathBuf {
    use std::io::BufRead;
    let before = drill_copies(scratch);
    let mut child = sb
        .cli_command(&["drill"])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        said.push_str(&line);
        said.push('\n');
        if line.contains("(on the copy) healthy?") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left: Vec<_> = drill_copies(scratch)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(left.len(), 1, "{said}");
    assert!(
        left[0].join("structr/structr.conf").is_file(),
        "the copy (with the password) is left: {said}"
    );
    left[0].clone()
}

/// Truncates `file` (relative to the component) inside the generation's archive
/// of `component`, re-packed with the real tar and zstd, and rewrites its line
/// in the file index, SHA256SUMS and the manifest's hashes to match.
pub fn truncate_in_archive(generation: &Path, component: &str, file: &str) {
    let unpacked = tempfile::tempdir().unwrap();
    let archive = generation.join(format!("{component}.tar.zst"));
    let out = super::shell(
        &format!(
            "zstd -q -d < {a} | tar -x --numeric-owner -p -C {u} && : > {u}/{file} && \
             tar -c --numeric-owner -C {u} . | zstd -q -3 -f -o {a}",
            a = q(&archive),
            u = q(unpacked.path()),
        ),
        generation,
    );
    assert!(out.status.success(), "re-pack: {}", text(&out));
    let index = generation.join(format!("{component}.files"));
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let mut found = false;
    let lines: Vec<String> = std::fs::read_to_string(&index)
        .unwrap()
        .lines()
        .map(|l| {
            let mut cols: Vec<&str> = l.split('\t').collect();
            if cols.get(6) == Some(&file) {
                found = true;
                cols[4] = "0";
                cols[5] = empty;
            }
            cols.join("\t") + "\n"
        })
        .collect();
    assert!(found, "{file} is not in {}", index.display());
    std::fs::write(&index, lines.concat()).unwrap();
    super::reseal(generation);
}
