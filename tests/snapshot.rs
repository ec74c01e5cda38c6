//! Snapshot backups: a `[snapshot] command` run while the stand-in services are
//! stopped (recorded, pinned, pruned with `delete_command`, refused by restore),
//! and built-in LVM snapshots on loop devices (run where the kernel has
//! device-mapper; the refusals that need no LVM run everywhere).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{text, tree, Options, Sandbox};

fn q(p: &Path) -> String {
    shell_words::quote(&p.display().to_string()).into_owned()
}

fn append_config(sb: &Sandbox, extra: &str) {
    sb.write_config();
    let mut c = std::fs::read_to_string(&sb.config).unwrap();
    c.push_str(extra);
    std::fs::write(&sb.config, c).unwrap();
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A snapshot "tool": fails unless both stand-in services are stopped as it runs,
/// then records the name it was given and a copy of a marker from the data.
fn snapshot_script(sb: &Sandbox) -> PathBuf {
    let script = sb.dir.path().join("snap.sh");
    let taken = sb.dir.path().join("taken");
    std::fs::create_dir_all(&taken).unwrap();
    let body = format!(
        "#!/bin/sh\n\
         if {neo}; then echo 'neo4j is running' >&2; exit 7; fi\n\
         if {structr}; then echo 'structr is running' >&2; exit 7; fi\n\
         cp {marker} {taken}/\"$1\"\n\
         echo \"snapshot $1 taken\"\n",
        neo = sb.ctl("status", "neo4j"),
        structr = sb.ctl("status", "structr"),
        marker = q(&sb.structr_dir.join("marker")),
        taken = q(&taken),
    );
    std::fs::write(&script, body).unwrap();
    script
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

#[test]
fn a_snapshot_command_runs_while_stopped_and_its_generation_lists_pins_and_prunes() {
    let usb = tempfile::tempdir().unwrap();
    let sb = Sandbox::new(Options {
        offsite: vec![common::Offsite {
            name: "usb".into(),
            path: usb.path().join("repo").display().to_string(),
            options: vec![],
        }],
        ..Options::default()
    });
    sb.start();
    std::fs::write(sb.structr_dir.join("marker"), "state at snapshot").unwrap();
    let script = snapshot_script(&sb);
    let deleted = sb.dir.path().join("deleted.log");
    append_config(
        &sb,
        &format!(
            "\n[snapshot]\ncommand = {}\ndelete_command = {}\ntimeout_secs = 30\n",
            toml_str(&format!("sh {} {{name}}", q(&script))),
            toml_str(&format!("sh -c 'echo \"$0\" >> {}' {{name}}", q(&deleted))),
        ),
    );

    let out = sb.cli(&["backup", "--snapshot", "--label", "vm", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        sb.running("neo4j") && sb.running("structr"),
        "services run again"
    );
    let v = json(&out);
    let id = v["generation"]["id"].as_str().unwrap().to_string();
    let rec = &v["generation"]["snapshot_backup"];
    assert_eq!(rec["method"], "command");
    assert_eq!(rec["exit_status"], 0);
    assert!(
        rec["output"]
            .as_str()
            .unwrap()
            .contains(&format!("snapshot {id} taken")),
        "{rec}"
    );
    assert!(
        v["generation"]["timings"]["downtime_secs"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    // The command saw the services stopped (else it exits 7) and got the id.
    assert_eq!(
        std::fs::read_to_string(sb.dir.path().join("taken").join(&id)).unwrap(),
        "state at snapshot"
    );
    // The generation is its manifest alone.
    let files: Vec<String> = std::fs::read_dir(sb.repo.join(&id))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["manifest.toml"]);

    let list = json(&sb.cli(&["list", "--json"]));
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["kind"], "snapshot");
    let shown = sb.cli(&["show", &id]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("snapshot     taken by `sh "),
        "{}",
        text(&shown)
    );

    let verify = sb.cli(&["verify", &id]);
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(
        text(&verify).contains("nothing to verify here, check it in the hypervisor"),
        "{}",
        text(&verify)
    );
    let restore = sb.cli(&["restore", &id, "--yes"]);
    assert_eq!(restore.status.code(), Some(1), "{}", text(&restore));
    assert!(
        text(&restore).contains("restore this snapshot with the tool that took it"),
        "{}",
        text(&restore)
    );
    let runbook = sb.cli(&["show", &id, "--runbook"]);
    assert_eq!(runbook.status.code(), Some(2), "{}", text(&runbook));
    assert!(
        text(&runbook).contains("no runbook: generation"),
        "{}",
        text(&runbook)
    );
    // Nothing of it is copied off-site, by the backup or by hand.
    assert!(!usb.path().join("repo").join(&id).exists());
    let copy = sb.cli(&["copy", &id, "--to", "usb"]);
    assert_eq!(copy.status.code(), Some(1), "{}", text(&copy));
    assert!(
        text(&copy).contains("nothing here to copy"),
        "{}",
        text(&copy)
    );
    let drill = sb.cli(&["drill", &id]);
    assert_eq!(drill.status.code(), Some(1), "{}", text(&drill));
    assert!(text(&drill).contains("a drill needs a generation with archives"));
    assert!(sb.running("neo4j") && sb.running("structr"));

    // Pinned, then two newer ones: prune keeping one deletes the middle one only,
    // and deletes its snapshot with the configured command first.
    assert!(sb.cli(&["pin", &id]).status.success());
    for _ in 0..2 {
        let out = sb.cli(&["backup", "--snapshot"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let gens = sb.generations();
    assert_eq!(gens.len(), 3);
    let out = sb.cli(&["prune", "--keep-last", "1", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sb.generations(), [gens[0].clone(), id.clone()]);
    assert_eq!(
        std::fs::read_to_string(&deleted).unwrap().trim(),
        gens[1],
        "delete_command got the pruned id"
    );

    // Without a delete_command, only the record goes, and the user is told.
    append_config(
        &sb,
        &format!(
            "\n[snapshot]\ncommand = {}\n",
            toml_str(&format!("sh {} {{name}}", q(&script)))
        ),
    );
    assert!(sb.cli(&["unpin", &id]).status.success());
    let out = sb.cli(&["delete", &id, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("delete snapshot {id} by hand")),
        "{}",
        text(&out)
    );
    assert_eq!(sb.generations(), [gens[0].clone()]);
}

#[test]
fn a_failing_snapshot_command_fails_the_run_with_its_output_and_starts_the_services() {
    let sb = Sandbox::new(Options::default());
    sb.start();
    append_config(
        &sb,
        "\n[snapshot]\ncommand = \"sh -c 'echo quota exceeded for {name} >&2; exit 3'\"\n",
    );
    let neo4j_pid = sb.pid("neo4j");
    let out = sb.cli(&["backup", "--snapshot"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("quota exceeded for 2"), "{err}");
    assert!(err.contains("exit status 3"), "{err}");
    assert!(err.contains("No generation was written"), "{err}");
    assert!(sb.running("neo4j") && sb.running("structr"));
    assert_ne!(
        sb.pid("neo4j"),
        neo4j_pid,
        "it was stopped and started again"
    );
    assert!(sb.generations().is_empty());
}

/// The highest resident memory of `pid` so far, in KiB (VmHWM), while it lives.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[test]
fn a_chatty_snapshot_command_is_bounded_killed_at_its_timeout_and_the_services_come_back() {
    let sb = Sandbox::new(Options::default());
    sb.start();
    // Before the bound, `yes` grew our memory ~300 MB/s until allocation failed
    // (abort, exit 134) with both services stopped.
    append_config(&sb, "\n[snapshot]\ncommand = \"yes X\"\ntimeout_secs = 5\n");
    let mut child = sb
        .cli_command(&["backup", "--snapshot"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        peak = peak.max(peak_rss_kib(child.id()).unwrap_or(0));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did not finish within 5 s"), "{err}");
    assert!(sb.running("neo4j") && sb.running("structr"));
    assert!(peak < 100 * 1024, "peak resident memory {peak} KiB");
    assert!(sb.generations().is_empty());
}

#[test]
fn snapshot_needs_a_configured_snapshot_and_lvm_refuses_folders_off_lvm_before_stopping() {
    let sb = Sandbox::new(Options::default());
    sb.start();
    let out = sb.cli(&["backup", "--snapshot"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("[snapshot]"), "{}", text(&out));

    append_config(&sb, "\n[snapshot]\nlvm = true\n");
    let pid = sb.pid("structr");
    let out = sb.cli(&["backup", "--snapshot"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("is not on an LVM logical volume"),
        "{}",
        text(&out)
    );
    assert_eq!(sb.pid("structr"), pid, "nothing was stopped");
    assert!(sb.generations().is_empty());
}

/// Each component of generation `id` unpacked apart equals the tree taken before.
fn restores_exactly(sb: &Sandbox, id: &str, trees: &[(&str, &tree::Snapshot)]) {
    for (name, before) in trees {
        let to = sb.dir.path().join(format!("restored-{name}"));
        let out = sb.cli(&[
            "restore",
            id,
            "--only",
            name,
            "--to",
            &to.display().to_string(),
        ]);
        assert!(out.status.success(), "{}", text(&out));
        let diff = tree::diff(before, &tree::snapshot(&to));
        assert!(diff.is_empty(), "{name}: {diff:?}");
    }
}

// ---- LVM on loop devices -------------------------------------------------

/// The kernel's device-mapper, which LVM volumes and snapshots need.
fn device_mapper() -> bool {
    std::fs::read_to_string("/proc/misc").is_ok_and(|m| m.contains("device-mapper"))
}

/// LVM settings for the test's own setup: the loop devices are not in any devices
/// file, and a container has no udev to wait for.
const LVM_CONFIG: &str =
    "devices { use_devicesfile = 0 } activation { udev_sync = 0 udev_rules = 0 }";

fn lvm(args: &[&str]) -> std::process::Output {
    let out = Command::new(args[0])
        .arg("--config")
        .arg(LVM_CONFIG)
        .args(&args[1..])
        .env("DM_DISABLE_UDEV", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    out
}

fn run(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out));
}

/// Loop devices, volume groups and mounts made for a test; torn down on drop,
/// also when the test panics.
struct Lab {
    dir: tempfile::TempDir,
    loops: Vec<String>,
    vgs: Vec<String>,
    mounts: Vec<PathBuf>,
}

impl Lab {
    fn new() -> Lab {
        Lab {
            dir: tempfile::tempdir().unwrap(),
            loops: vec![],
            vgs: vec![],
            mounts: vec![],
        }
    }

    /// A VG of one sparse loop device of `mb`, with a unique name.
    fn vg(&mut self, mb: u64) -> String {
        let file = self.dir.path().join(format!("pv{}.img", self.loops.len()));
        std::fs::File::create(&file)
            .unwrap()
            .set_len(mb << 20)
            .unwrap();
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "losetup: {}", text(&out));
        let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
        self.loops.push(dev.clone());
        let name = format!("sbt{}x{}", std::process::id(), self.vgs.len());
        lvm(&["pvcreate", "-y", &dev]);
        lvm(&["vgcreate", &name, &dev]);
        self.vgs.push(name.clone());
        name
    }

    /// An LV of `mb` in `vg` with file system `fs`, mounted at `at`.
    fn volume(&mut self, vg: &str, lv: &str, mb: u64, fs: &str, at: &Path) {
        lvm(&["lvcreate", "-y", "-n", lv, "-L", &format!("{mb}m"), vg]);
        let dev = format!("/dev/{vg}/{lv}");
        run(&[&format!("mkfs.{fs}"), "-q", &dev]);
        std::fs::create_dir_all(at).unwrap();
        run(&["mount", &dev, &at.display().to_string()]);
        self.mounts.push(at.to_path_buf());
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for m in self.mounts.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
        for vg in &self.vgs {
            let _ = Command::new("vgremove")
                .args(["--config", LVM_CONFIG, "-f", vg])
                .env("DM_DISABLE_UDEV", "1")
                .status();
        }
        for l in &self.loops {
            let _ = Command::new("pvremove")
                .args(["--config", LVM_CONFIG, "-y", l])
                .status();
            let _ = Command::new("losetup").args(["-d", l]).status();
        }
    }
}

fn our_snapshots(vg: &str) -> String {
    let out = lvm(&["lvs", "--noheadings", "-o", "lv_name", vg]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("sb-"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Needs a kernel with device-mapper, which the suite's VM lacks: listed as
/// ignored in every run (never a silent pass), run by hand where LVM works.
#[test]
#[ignore = "needs a kernel with device-mapper (LVM): cargo test --release --test snapshot -- --ignored"]
fn lvm_snapshots_back_up_ext4_and_xfs_volumes_with_short_downtime() {
    assert!(
        device_mapper(),
        "this kernel has no device-mapper (/proc/misc), so LVM volumes cannot exist here"
    );
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    let mut lab = Lab::new();
    let vg = lab.vg(400);
    // neo4j/ is the mount point (data below it); structr is the mount point itself.
    lab.volume(&vg, "neo4j", 120, "ext4", sb.neo4j_data.parent().unwrap());
    lab.volume(&vg, "structr", 120, "xfs", &sb.structr_dir);
    std::fs::create_dir_all(&sb.neo4j_data).unwrap();
    for i in 0..20 {
        common::write_random(
            &sb.neo4j_data.join(format!("databases/neo4j/f{i}")),
            1 << 20,
            i,
        );
        common::write_random(
            &sb.structr_dir.join(format!("files/{i}/x")),
            512 << 10,
            100 + i,
        );
    }
    std::os::unix::fs::symlink("files/1/x", sb.structr_dir.join("link")).unwrap();
    sb.start();
    let before_neo4j = tree::snapshot(&sb.neo4j_data);
    let before_structr = tree::snapshot(&sb.structr_dir);

    let out = sb.cli(&["backup", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let cold_downtime = json(&out)["generation"]["timings"]["downtime_secs"]
        .as_f64()
        .unwrap();

    append_config(
        &sb,
        "\n[snapshot]\nlvm = true\nlvm_snapshot_size = \"20%\"\n",
    );
    let out = sb.cli(&["backup", "--snapshot", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let g = &json(&out)["generation"];
    let id = g["id"].as_str().unwrap().to_string();
    let downtime = g["timings"]["downtime_secs"].as_f64().unwrap();
    assert_eq!(g["snapshot_backup"]["method"], "lvm");
    // lvcreate's time, whatever the size; the data here is too small for the cold
    // copy to be slower, so the bound is absolute (scripts/bench-lvm compares).
    eprintln!("downtime: LVM snapshots {downtime:.2} s, cold copy {cold_downtime:.2} s");
    assert!(downtime < 5.0, "LVM downtime {downtime} s");
    assert!(sb.running("neo4j") && sb.running("structr"));
    assert_eq!(our_snapshots(&vg), "", "no snapshot LV remains");

    // The generation restores exactly the trees (into folders apart).
    restores_exactly(
        &sb,
        &id,
        &[("neo4j-data", &before_neo4j), ("structr", &before_structr)],
    );

    // A volume group without room for the snapshots: refused before any stop.
    append_config(
        &sb,
        "\n[snapshot]\nlvm = true\nlvm_snapshot_size = \"1G\"\n",
    );
    let flag = sb.run.join("structr.up");
    let out = sb.cli(&["backup", "--snapshot"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("volume group {vg} has")),
        "{}",
        text(&out)
    );
    assert!(flag.exists() && sb.running("neo4j"), "nothing was stopped");
    assert_eq!(our_snapshots(&vg), "");
}

// ---- The LVM procedure against stand-in LVM tools ------------------------
//
// Where the kernel has no device-mapper (this suite's VM), the order of the LVM
// backup is still proven: `findmnt`, `lvs`, `lvcreate`, `lvremove`, `mount` and
// `umount` are stand-in scripts first in PATH. `lvcreate` refuses unless both
// services are stopped; `mount` of a "snapshot" bind-mounts its origin read-only
// (the flag services change nothing, so the contents are those of a snapshot).

struct FakeLvm {
    bin: PathBuf,
    state: PathBuf,
}

impl FakeLvm {
    fn new(sb: &Sandbox) -> FakeLvm {
        let bin = sb.dir.path().join("fake-bin");
        let state = sb.dir.path().join("fake-lvm");
        for d in [&bin, &state.join("snaps"), &state.join("mounts")] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(state.join("free"), (400u64 << 20).to_string()).unwrap();
        let neo = sb.neo4j_data.parent().unwrap().to_path_buf();
        let st = &sb.structr_dir;
        let s = q(&state);
        let scripts = [
            (
                "findmnt",
                format!(
                    r#"#!/bin/bash
if [ "$4" = --source ]; then
  n=$(basename "$5"); t=$(cat {s}/mounts/$n 2>/dev/null)
  if [ -n "$t" ]; then echo "{{\"filesystems\":[{{\"target\":\"$t\"}}]}}"; else echo '{{"filesystems":[]}}'; fi
  exit 0
fi
p="$5"
case "$p" in
  {neo}*) echo '{{"filesystems":[{{"source":"/dev/fakevg/neo4j","target":"{neo}","fstype":"ext4"}}]}}' ;;
  {st}*) echo '{{"filesystems":[{{"source":"/dev/fakevg/structr","target":"{st}","fstype":"xfs"}}]}}' ;;
  *) echo '{{"filesystems":[{{"source":"tmpfs","target":"/","fstype":"tmpfs"}}]}}' ;;
esac
"#,
                    neo = neo.display(),
                    st = st.display()
                ),
            ),
            (
                "lvs",
                format!(
                    r#"#!/bin/bash
last="${{@: -1}}"
case "$last" in
  /dev/fakevg/*) echo "{{\"report\":[{{\"lv\":[{{\"vg_name\":\"fakevg\",\"lv_name\":\"$(basename $last)\",\"lv_size\":\"104857600\",\"vg_free\":\"$(cat {s}/free)\"}}]}}]}}" ;;
  *) rows=""; for f in {s}/snaps/*; do [ -e "$f" ] || continue
       rows="$rows${{rows:+,}}{{\"vg_name\":\"fakevg\",\"lv_name\":\"$(basename $f)\",\"origin\":\"$(cat $f)\"}}"; done
     echo "{{\"report\":[{{\"lv\":[{{\"vg_name\":\"fakevg\",\"lv_name\":\"neo4j\",\"origin\":\"\"}}${{rows:+,}}$rows]}}]}}" ;;
esac
"#
                ),
            ),
            (
                "lvcreate",
                format!(
                    r#"#!/bin/bash
{structr_up} && {{ echo "structr is running" >&2; exit 5; }}
{neo_up} && {{ echo "neo4j is running" >&2; exit 5; }}
while [ $# -gt 0 ]; do case "$1" in --name) name=$2; shift;; --size) size=$2; shift;; fakevg/*) origin=${{1#fakevg/}};; esac; shift; done
echo "$origin" > {s}/snaps/$name
echo "lvcreate $name $size DM_DISABLE_UDEV=$DM_DISABLE_UDEV" >> {s}/log
"#,
                    structr_up = sb.ctl("status", "structr"),
                    neo_up = sb.ctl("status", "neo4j"),
                ),
            ),
            (
                "lvremove",
                format!(
                    r#"#!/bin/bash
n=$(basename "${{@: -1}}"); rm {s}/snaps/$n && echo "lvremove $n" >> {s}/log
"#
                ),
            ),
            (
                "mount",
                format!(
                    r#"#!/bin/bash
[ -e {s}/fail-mount ] && {{ echo "mount: wrong fs type" >&2; exit 32; }}
n=$(basename "$5"); origin=$(cat {s}/snaps/$n)
case "$origin" in neo4j) src={neo};; *) src={st};; esac
echo "mount $2 $4 $n" >> {s}/log
/usr/bin/mount --bind -o ro "$src" "$6" && echo "$6" > {s}/mounts/$n
"#,
                    neo = q(&neo),
                    st = q(st)
                ),
            ),
            (
                "umount",
                format!(
                    r#"#!/bin/bash
/usr/bin/umount "$@" || exit $?
for f in {s}/mounts/*; do [ "$(cat $f 2>/dev/null)" = "${{@: -1}}" ] && rm $f; done; exit 0
"#
                ),
            ),
        ];
        for (name, body) in scripts {
            let p = bin.join(name);
            std::fs::write(&p, body).unwrap();
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        }
        FakeLvm { bin, state }
    }

    fn cli(&self, sb: &Sandbox, args: &[&str]) -> std::process::Output {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        sb.cli_command(args)
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.state.join("log")).unwrap_or_default()
    }

    fn snapshots(&self) -> Vec<String> {
        std::fs::read_dir(self.state.join("snaps"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

#[test]
fn the_lvm_backup_snapshots_while_stopped_reads_the_snapshots_and_always_removes_them() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test bind-mounts: run as root"
    );
    let sb = Sandbox::new(Options {
        flag_services: true,
        ..Options::default()
    });
    std::fs::create_dir_all(&sb.neo4j_data).unwrap();
    for i in 0..5 {
        common::write_random(
            &sb.neo4j_data.join(format!("databases/neo4j/f{i}")),
            200_000,
            i,
        );
        common::write_random(&sb.structr_dir.join(format!("files/{i}/x")), 100_000, 9 + i);
    }
    sb.start();
    let fake = FakeLvm::new(&sb);
    append_config(&sb, "\n[snapshot]\nlvm = true\n");
    let before_neo4j = tree::snapshot(&sb.neo4j_data);
    let before_structr = tree::snapshot(&sb.structr_dir);

    let out = fake.cli(&sb, &["backup", "--snapshot", "--json"]);
    assert!(out.status.success(), "{}\nlog:\n{}", text(&out), fake.log());
    let g = &json(&out)["generation"];
    let id = g["id"].as_str().unwrap().to_string();
    assert_eq!(g["snapshot_backup"]["method"], "lvm");
    assert!(sb.running("neo4j") && sb.running("structr"));
    let log = fake.log();
    // One snapshot per volume, 10% of 100 MiB, XFS mounted without UUID check or log replay.
    let snap = |lv: &str| format!("sb-{}-{lv}", id.replace('-', "_"));
    assert!(
        log.contains(&format!("lvcreate {} 10485760b", snap("neo4j"))),
        "{log}"
    );
    assert!(
        log.contains(&format!("mount ext4 ro {}", snap("neo4j"))),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "mount xfs ro,nouuid,norecovery {}",
            snap("structr")
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!("lvremove {}", snap("structr"))),
        "{log}"
    );
    assert!(fake.snapshots().is_empty(), "{log}");
    restores_exactly(
        &sb,
        &id,
        &[("neo4j-data", &before_neo4j), ("structr", &before_structr)],
    );
    // The source recorded is the live folder, not the snapshot's mount.
    let shown = json(&sb.cli(&["show", &id, "--json"]));
    assert_eq!(
        shown["components"][1]["source"],
        sb.structr_dir.display().to_string()
    );

    // A mount that fails after the snapshots were taken: the run fails, the
    // services run, no generation is written and no snapshot is left.
    std::fs::write(fake.state.join("fail-mount"), "").unwrap();
    let out = fake.cli(&sb, &["backup", "--snapshot"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("wrong fs type"), "{}", text(&out));
    assert!(sb.running("neo4j") && sb.running("structr"));
    assert!(fake.snapshots().is_empty(), "{}", fake.log());
    assert_eq!(sb.generations(), std::slice::from_ref(&id));
    std::fs::remove_file(fake.state.join("fail-mount")).unwrap();

    // Too little free space: refused with the reason, nothing stopped or taken.
    std::fs::write(fake.state.join("free"), "1048576").unwrap();
    let lines = fake.log().lines().count();
    let out = fake.cli(&sb, &["backup", "--snapshot"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("volume group fakevg has 1.0 MiB free"),
        "{}",
        text(&out)
    );
    assert_eq!(fake.log().lines().count(), lines, "{}", fake.log());
    assert!(sb.run.join("structr.up").exists());

    // A snapshot a killed run left behind is removed by recover; others' are not.
    std::fs::write(fake.state.join("snaps/sb-20260101T000000Z-neo4j"), "neo4j").unwrap();
    std::fs::write(fake.state.join("snaps/sb-mine"), "neo4j").unwrap();
    let out = fake.cli(&sb, &["recover"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fake.snapshots(), ["sb-mine"], "{}", text(&out));
    assert!(
        std::fs::read_dir(std::env::temp_dir()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("structr-backup-lvm-")),
        "no mount folder is left"
    );
}

/// A snapshot tool's token on its command line (and echoed in its output) is
/// neither in the log, the manifest nor a failure's message.
#[test]
fn a_snapshot_tools_token_stays_out_of_the_log_and_the_manifest() {
    const TOKEN: &str = "SNAPTOKEN-5ecret";
    let sb = Sandbox::new(Options::default());
    sb.start();
    append_config(
        &sb,
        &format!(
            "\n[snapshot]\ncommand = \"sh -c 'echo snapshot {{name}} with $2' x --token {TOKEN}\"\n\
             delete_command = \"sh -c 'echo removing with $2; exit 1' x --token {TOKEN}\"\n"
        ),
    );
    let out = sb.cli(&["backup", "--snapshot"]);
    assert!(out.status.success(), "{}", text(&out));
    let show = sb.cli(&["show", "latest", "--json"]);
    assert!(show.status.success(), "{}", text(&show));
    let record = &json(&show)["snapshot_backup"];
    assert!(
        record["command"]
            .as_str()
            .unwrap()
            .contains("--token '***'"),
        "{record}"
    );
    assert!(
        record["output"].as_str().unwrap().contains("with ***"),
        "{record}"
    );
    let id = sb.generations()[0].clone();
    let del = sb.cli(&["--yes", "delete", &id]);
    assert!(
        !del.status.success(),
        "the delete command fails: {}",
        text(&del)
    );
    for (what, o) in [("backup", &out), ("show", &show), ("delete", &del)] {
        assert!(!text(o).contains(TOKEN), "{what}: {}", text(o));
    }
    let manifest = std::fs::read_to_string(sb.repo.join(&id).join("manifest.toml")).unwrap();
    assert!(!manifest.contains(TOKEN), "{manifest}");
}
