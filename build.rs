//! Puts the git commit the binary was built from into `--version`, so a
//! packaged binary tells which source it came from. Outside a git checkout
//! (a source tarball, `cargo install` from a registry) it says "unknown".

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=STRUCTR_BACKUP_COMMIT={commit}");
    // Run again when HEAD moves: HEAD itself (a checkout or a worktree's own
    // HEAD), the branch it names, and packed-refs. Only files that exist are
    // named: cargo would otherwise run this script on every build.
    let mut watch: Vec<PathBuf> = Vec::new();
    if let Some(git_dir) = git(&["rev-parse", "--git-dir"]) {
        watch.push(PathBuf::from(&git_dir).join("HEAD"));
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
        watch.push(PathBuf::from(&common).join("packed-refs"));
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch.push(PathBuf::from(&common).join(branch));
        }
    }
    for path in watch.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
