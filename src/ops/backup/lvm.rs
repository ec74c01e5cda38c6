//! LVM staging (`[snapshot] lvm = true`): `lvcreate --snapshot` of each volume
//! the components live on while the services are stopped, then, once they run
//! again, the archives read from read-only mounts of the snapshots. The
//! snapshots are removed whatever happens (a guard), and `recover` removes any
//! left over by a killed run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::install::lvm;
use crate::ops::event::{Event, Sink, Step};
use crate::ops::{Context, OpError};
use crate::repo::manifest::SnapshotRecord;

/// The volumes to snapshot, the snapshots taken and their mounts.
pub struct LvmStage {
    planned: Vec<Planned>,
    /// For each component, the index of its volume in `planned`.
    of_component: Vec<usize>,
    snaps: Snapshots,
    id: String,
    secs: f64,
}

impl LvmStage {
    pub fn new() -> Self {
        LvmStage {
            planned: Vec::new(),
            of_component: Vec::new(),
            snaps: Snapshots {
                taken: Vec::new(),
                mounts: Vec::new(),
                dir: None,
            },
            id: String::new(),
            secs: 0.0,
        }
    }

    /// Finds each component's volume; the snapshot steps.
    pub fn plan(&mut self, ctx: &Context) -> Result<Vec<Step>, OpError> {
        let (planned, of_component) = plan_lvm(ctx)?;
        self.planned = planned;
        self.of_component = of_component;
        Ok(self
            .planned
            .iter()
            .map(|p| Step::Snapshot(p.vol.full_name()))
            .collect())
    }

    /// The snapshots are named after the generation.
    pub fn name_snapshots(&mut self, id: &str) {
        self.id = id.to_string();
        for p in &mut self.planned {
            p.name = lvm::snapshot_name(id, &p.vol.lv);
        }
    }

    /// Takes every snapshot (while the services are stopped).
    pub fn take(&mut self, on: Sink) -> Result<(), OpError> {
        let started = Instant::now();
        for p in &self.planned {
            let step = Step::Snapshot(p.vol.full_name());
            on(Event::Started(step.clone()));
            let t = Instant::now();
            lvm::create_snapshot(&p.vol, &p.name, p.bytes).map_err(|e| {
                on(Event::Failed(step.clone(), e.clone()));
                OpError::failed(e)
            })?;
            self.snaps.taken.push((p.vol.vg.clone(), p.name.clone()));
            on(Event::Finished(step, t.elapsed()));
        }
        self.secs = started.elapsed().as_secs_f64();
        Ok(())
    }

    /// Mounts the snapshots; where each component is inside them, in component order.
    pub fn mount(&mut self, ctx: &Context) -> Result<Vec<PathBuf>, OpError> {
        let mounts = mount_all(&self.planned, &self.id, &mut self.snaps)?;
        ctx.inst
            .components
            .iter()
            .zip(&self.of_component)
            .map(|(c, &i)| inside(&mounts[i], &self.planned[i].vol.mount_point, &c.path))
            .collect()
    }

    /// Unmounts and removes every snapshot; problems become warnings.
    pub fn release(&mut self, on: Sink) {
        for w in self.snaps.release() {
            on(Event::Warning(format!("LVM snapshot cleanup: {w}")));
        }
    }

    /// What the manifest records of the snapshots.
    pub fn record(&self) -> SnapshotRecord {
        SnapshotRecord {
            method: "lvm".into(),
            command: self
                .planned
                .iter()
                .map(|p| {
                    format!(
                        "lvcreate --snapshot --name {} {}",
                        p.name,
                        p.vol.full_name()
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            output: String::new(),
            exit_status: Some(0),
            secs: self.secs,
        }
    }
}

/// One LVM volume to snapshot and the components read from it.
struct Planned {
    vol: lvm::Volume,
    bytes: u64,
    name: String,
}

/// Where each component is on LVM; refused (with the reason) when one is not on
/// a logical volume or a volume group lacks the free space for its snapshots.
fn plan_lvm(ctx: &Context) -> Result<(Vec<Planned>, Vec<usize>), OpError> {
    let size = crate::config::size::SnapshotSize::parse(&ctx.snapshot.lvm_snapshot_size)
        .map_err(OpError::Refused)?;
    let mut planned: Vec<Planned> = Vec::new();
    let mut of_component = Vec::new();
    for c in &ctx.inst.components {
        let path = c.path.canonicalize().map_err(|e| {
            OpError::Refused(format!(
                "cannot read {} ({}): {e}",
                c.path.display(),
                c.name
            ))
        })?;
        let vol = lvm::locate(&path)
            .map_err(|e| OpError::Refused(format!("cannot tell where {} is: {e}", path.display())))?
            .ok_or_else(|| {
                OpError::Refused(format!(
                    "{} ({}) is not on an LVM logical volume, so `lvm = true` cannot snapshot it; use a cold backup (without --snapshot) or move it onto LVM",
                    path.display(),
                    c.name
                ))
            })?;
        let i = match planned
            .iter()
            .position(|p| p.vol.full_name() == vol.full_name())
        {
            Some(i) => i,
            None => {
                planned.push(Planned {
                    bytes: size.bytes_for(vol.size),
                    // Named once the generation has its id (`name_snapshots`).
                    name: String::new(),
                    vol,
                });
                planned.len() - 1
            }
        };
        of_component.push(i);
    }
    let mut vgs: Vec<&str> = planned.iter().map(|p| p.vol.vg.as_str()).collect();
    vgs.dedup();
    for vg in vgs {
        let mine: Vec<&Planned> = planned.iter().filter(|p| p.vol.vg == vg).collect();
        let need: u64 = mine.iter().map(|p| p.bytes).sum();
        let free = mine[0].vol.vg_free;
        if need > free {
            return Err(OpError::Refused(format!(
                "volume group {vg} has {} free, but the snapshots of {} need {} (lvm_snapshot_size = {:?}): extend the volume group (vgextend) or set a smaller [snapshot] lvm_snapshot_size. Nothing was stopped",
                crate::units::bytes(free),
                mine.iter().map(|p| p.vol.full_name()).collect::<Vec<_>>().join(", "),
                crate::units::bytes(need),
                ctx.snapshot.lvm_snapshot_size
            )));
        }
    }
    Ok((planned, of_component))
}

/// The snapshots taken and mounted by this run; dropping it unmounts and removes
/// them all, whatever made the run end.
struct Snapshots {
    taken: Vec<(String, String)>,
    mounts: Vec<PathBuf>,
    /// The private folder the mounts are made in (removed empty at the end).
    dir: Option<PathBuf>,
}

impl Snapshots {
    /// Unmounts and removes everything; the problems, for warnings.
    fn release(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        for m in self.mounts.drain(..).rev() {
            match lvm::unmount(&m) {
                // Never recursive: a folder still mounted must not be emptied.
                Ok(()) => drop(std::fs::remove_dir(&m)),
                Err(e) => problems.push(e),
            }
        }
        for (vg, name) in self.taken.drain(..) {
            if let Err(e) = lvm::remove_snapshot(&vg, &name) {
                problems.push(format!(
                    "{e}; remove it with `lvremove -f {vg}/{name}` or `structr-backup recover`"
                ));
            }
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir(&d);
        }
        problems
    }
}

impl Drop for Snapshots {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

/// Mounts every snapshot read-only in a private temporary folder; their paths.
fn mount_all(
    planned: &[Planned],
    id: &str,
    snaps: &mut Snapshots,
) -> Result<Vec<PathBuf>, OpError> {
    use std::os::unix::fs::DirBuilderExt;
    // Owner-only: the snapshots hold credentials (structr.conf) and the store.
    let base = std::env::temp_dir().join(format!("structr-backup-lvm-{id}"));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&base)
        .map_err(|e| {
            OpError::failed(format!(
                "cannot make {} to mount the snapshots in: {e}",
                base.display()
            ))
        })?;
    snaps.dir = Some(base.clone());
    let mut out = Vec::new();
    for (i, p) in planned.iter().enumerate() {
        let at = base.join(i.to_string());
        std::fs::create_dir(&at)
            .map_err(|e| OpError::failed(format!("cannot create {}: {e}", at.display())))?;
        if let Err(e) = lvm::mount_ro(&lvm::device(&p.vol.vg, &p.name), &p.vol.fstype, &at) {
            let _ = std::fs::remove_dir(&at);
            return Err(OpError::failed(e));
        }
        snaps.mounts.push(at.clone());
        out.push(at);
    }
    Ok(out)
}

/// The place of `path` (under `mount_point`) inside the snapshot mounted at `mounted`.
fn inside(mounted: &Path, mount_point: &Path, path: &Path) -> Result<PathBuf, OpError> {
    let real = path
        .canonicalize()
        .map_err(|e| OpError::failed(format!("cannot read {}: {e}", path.display())))?;
    let rel = real.strip_prefix(mount_point).map_err(|_| {
        OpError::failed(format!(
            "{} is not below {}",
            real.display(),
            mount_point.display()
        ))
    })?;
    Ok(mounted.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_is_found_inside_its_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let mp = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(mp.join("srv/neo4j")).unwrap();
        assert_eq!(
            inside(Path::new("/m/0"), &mp, &mp.join("srv/neo4j")).unwrap(),
            Path::new("/m/0/srv/neo4j")
        );
        assert_eq!(
            inside(Path::new("/m/0"), &mp, &mp).unwrap(),
            Path::new("/m/0")
        );
    }
}
