//! LVM snapshots of the volumes the components live on: where a folder's logical
//! volume is, whether its volume group has room for a snapshot, and the
//! `lvcreate --snapshot` / read-only mount / `lvremove` cycle. Every call goes
//! through `process::run` (explicit argv, a timeout, its own process group).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process;

/// Our snapshots are named `sb-<generation id>-<origin lv>`, so `recover` can tell
/// them from anyone else's.
pub const PREFIX: &str = "sb-";

const LVM_TIMEOUT: Duration = Duration::from_secs(120);

/// The mounted file system a folder is on, and the logical volume under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    pub vg: String,
    pub lv: String,
    pub size: u64,
    pub vg_free: u64,
    /// Where the volume is mounted, and the folder's place below it.
    pub mount_point: PathBuf,
    pub fstype: String,
}

impl Volume {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.vg, self.lv)
    }
}

/// Environment for LVM's programs. Without a running udev (containers, minimal
/// VMs) lvcreate waits for udev to confirm every device node it creates, and that
/// never comes: the run would hang until our timeout. `DM_DISABLE_UDEV=1` makes
/// libdevmapper create the nodes itself, and `--noudevsync` stops the wait.
fn udev_running() -> bool {
    Path::new("/run/udev/control").exists()
}

fn lvm(tool: &str, args: &[&str]) -> Result<process::Output, String> {
    let mut argv = vec![tool.to_string()];
    let no_udev = !udev_running();
    if no_udev && matches!(tool, "lvcreate" | "lvremove") {
        argv.push("--noudevsync".into());
    }
    argv.extend(args.iter().map(|a| a.to_string()));
    let env: &[(&str, &str)] = match no_udev {
        true => &[("DM_DISABLE_UDEV", "1")],
        false => &[],
    };
    let out = process::run_with_env(&argv, env, LVM_TIMEOUT).map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!(
            "`{}` failed: {}",
            process::display(&argv),
            out.tail()
        ));
    }
    Ok(out)
}

/// The logical volume `path` sits on; None when it is not on LVM (Err when the
/// tools cannot tell).
pub fn locate(path: &Path) -> Result<Option<Volume>, String> {
    let argv: Vec<String> = ["findmnt", "-J", "-o", "SOURCE,TARGET,FSTYPE", "--target"]
        .iter()
        .map(|s| s.to_string())
        .chain([path.display().to_string()])
        .collect();
    let out = process::run(&argv, LVM_TIMEOUT).map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!("`findmnt` for {}: {}", path.display(), out.tail()));
    }
    let (source, target, fstype) = parse_findmnt(&out.stdout)?;
    if !source.starts_with("/dev/") {
        return Ok(None);
    }
    let argv: Vec<String> = [
        "lvs",
        "--reportformat",
        "json",
        "--units",
        "b",
        "--nosuffix",
        "-o",
        "vg_name,lv_name,lv_size,vg_free",
        source.as_str(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = match process::run(&argv, LVM_TIMEOUT) {
        Ok(o) => o,
        // No LVM tools installed: nothing can be on LVM that we could snapshot.
        Err(process::RunError::Spawn { .. }) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    // lvs refuses a device that is no logical volume: then it is not on LVM.
    if !out.success() {
        return Ok(None);
    }
    Ok(parse_lvs(&out.stdout)?
        .into_iter()
        .next()
        .map(|(vg, lv, size, vg_free)| Volume {
            vg,
            lv,
            size,
            vg_free,
            mount_point: PathBuf::from(target),
            fstype,
        }))
}

fn parse_findmnt(json: &str) -> Result<(String, String, String), String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("cannot read findmnt's answer: {e}"))?;
    let fs = &v["filesystems"][0];
    let field = |k: &str| fs[k].as_str().unwrap_or_default().to_string();
    if fs.is_null() {
        return Err("findmnt found no file system".into());
    }
    Ok((field("source"), field("target"), field("fstype")))
}

/// (vg, lv, lv_size, vg_free) rows of `lvs --reportformat json --units b --nosuffix`.
fn parse_lvs(json: &str) -> Result<Vec<(String, String, u64, u64)>, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("cannot read lvs's answer: {e}"))?;
    let rows = v["report"][0]["lv"].as_array().cloned().unwrap_or_default();
    let num = |r: &serde_json::Value, k: &str| -> Result<u64, String> {
        let s = r[k].as_str().unwrap_or_default().trim();
        s.parse()
            .map_err(|_| format!("lvs gave {k} = {s:?}, not a number of bytes"))
    };
    rows.iter()
        .map(|r| {
            Ok((
                r["vg_name"].as_str().unwrap_or_default().to_string(),
                r["lv_name"].as_str().unwrap_or_default().to_string(),
                num(r, "lv_size")?,
                num(r, "vg_free")?,
            ))
        })
        .collect()
}

/// Whether an LV name is one of our snapshots (`sb-<generation id>-<lv>`).
pub fn is_ours(lv_name: &str) -> bool {
    lv_name
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(id, lv)| {
            !lv.is_empty() && crate::ids::is_generation_id(&id.replace('_', "-"))
        })
}

/// The snapshot name for generation `id` of volume `lv`. A `-2` suffix of the id
/// becomes `_2`, so the name still splits into id and volume at the first `-`.
pub fn snapshot_name(id: &str, lv: &str) -> String {
    format!("{PREFIX}{}-{lv}", id.replace('-', "_"))
}

pub fn create_snapshot(vol: &Volume, name: &str, bytes: u64) -> Result<(), String> {
    lvm(
        "lvcreate",
        &[
            "--snapshot",
            "--name",
            name,
            "--size",
            &format!("{bytes}b"),
            &vol.full_name(),
        ],
    )
    .map(|_| ())
}

pub fn remove_snapshot(vg: &str, name: &str) -> Result<(), String> {
    lvm("lvremove", &["-f", &format!("{vg}/{name}")]).map(|_| ())
}

/// The device node of LV `vg/name`.
pub fn device(vg: &str, name: &str) -> PathBuf {
    PathBuf::from(format!("/dev/{vg}/{name}"))
}

/// Mount options that let a snapshot of a mounted file system be read: XFS refuses
/// a second mount of the same UUID and must not replay its log into the snapshot.
pub fn mount_options(fstype: &str) -> &'static str {
    match fstype {
        "xfs" => "ro,nouuid,norecovery",
        _ => "ro",
    }
}

pub fn mount_ro(dev: &Path, fstype: &str, at: &Path) -> Result<(), String> {
    let argv = vec![
        "mount".to_string(),
        "-t".into(),
        fstype.into(),
        "-o".into(),
        mount_options(fstype).into(),
        dev.display().to_string(),
        at.display().to_string(),
    ];
    let out = process::run(&argv, LVM_TIMEOUT).map_err(|e| e.to_string())?;
    match out.success() {
        true => Ok(()),
        false => Err(format!(
            "`{}` failed: {}",
            process::display(&argv),
            out.tail()
        )),
    }
}

/// Unmounts `at`; a busy mount is detached lazily (nothing of ours reads it any more).
pub fn unmount(at: &Path) -> Result<(), String> {
    let run = |lazy: bool| {
        let mut argv = vec!["umount".to_string()];
        if lazy {
            argv.push("-l".into());
        }
        argv.push(at.display().to_string());
        process::run(&argv, LVM_TIMEOUT)
    };
    match run(false) {
        Ok(o) if o.success() => Ok(()),
        _ => match run(true) {
            Ok(o) if o.success() => Ok(()),
            Ok(o) => Err(format!("cannot unmount {}: {}", at.display(), o.tail())),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// Our snapshots that exist now, as (vg, lv name). Empty when LVM is not installed.
pub fn leftovers() -> Result<Vec<(String, String)>, String> {
    let argv: Vec<String> = [
        "lvs",
        "--reportformat",
        "json",
        "-o",
        "vg_name,lv_name,origin",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = match process::run(&argv, LVM_TIMEOUT) {
        Ok(o) if o.success() => o,
        Ok(o) => return Err(format!("`lvs` failed: {}", o.tail())),
        Err(process::RunError::Spawn { .. }) => return Ok(vec![]),
        Err(e) => return Err(e.to_string()),
    };
    parse_leftovers(&out.stdout)
}

fn parse_leftovers(json: &str) -> Result<Vec<(String, String)>, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("cannot read lvs's answer: {e}"))?;
    Ok(v["report"][0]["lv"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|r| !r["origin"].as_str().unwrap_or_default().is_empty())
        .map(|r| {
            (
                r["vg_name"].as_str().unwrap_or_default().to_string(),
                r["lv_name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .filter(|(_, lv)| is_ours(lv))
        .collect())
}

/// Where a device is mounted now (for `recover`: our snapshot mounts left behind).
pub fn mount_points_of(dev: &Path) -> Vec<PathBuf> {
    let argv: Vec<String> = vec![
        "findmnt".into(),
        "-J".into(),
        "-o".into(),
        "TARGET".into(),
        "--source".into(),
        dev.display().to_string(),
    ];
    let Ok(out) = process::run(&argv, LVM_TIMEOUT) else {
        return vec![];
    };
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    v["filesystems"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f["target"].as_str().map(PathBuf::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findmnt_and_lvs_answers_are_read() {
        let f = r#"{"filesystems": [{"source":"/dev/mapper/vg0-data", "target":"/srv/my data", "fstype":"xfs"}]}"#;
        assert_eq!(
            parse_findmnt(f).unwrap(),
            (
                "/dev/mapper/vg0-data".into(),
                "/srv/my data".into(),
                "xfs".into()
            )
        );
        let l = r#"{"report": [{"lv": [{"vg_name":"vg0", "lv_name":"data", "lv_size":"104857600", "vg_free":"4194304"}]}]}"#;
        assert_eq!(
            parse_lvs(l).unwrap(),
            vec![("vg0".into(), "data".into(), 104_857_600, 4_194_304)]
        );
        assert!(parse_lvs(
            r#"{"report":[{"lv":[{"vg_name":"v","lv_name":"l","lv_size":"1.5","vg_free":"0"}]}]}"#
        )
        .is_err());
    }

    #[test]
    fn only_our_snapshots_count_as_leftovers() {
        let name = snapshot_name("20261124T031500Z-2", "data");
        assert_eq!(name, "sb-20261124T031500Z_2-data");
        assert!(is_ours(&name));
        assert!(is_ours("sb-20261124T031500Z-neo4j-data"));
        assert!(!is_ours("sb-backup-data"));
        assert!(!is_ours("data"));
        let l = format!(
            r#"{{"report": [{{"lv": [
              {{"vg_name":"vg0", "lv_name":"data", "origin":""}},
              {{"vg_name":"vg0", "lv_name":"{name}", "origin":"data"}},
              {{"vg_name":"vg0", "lv_name":"sb-mine", "origin":"data"}}]}}]}}"#
        );
        assert_eq!(parse_leftovers(&l).unwrap(), vec![("vg0".into(), name)]);
    }

    #[test]
    fn xfs_snapshots_mount_without_uuid_check_and_log_replay() {
        assert_eq!(mount_options("xfs"), "ro,nouuid,norecovery");
        assert_eq!(mount_options("ext4"), "ro");
    }
}
