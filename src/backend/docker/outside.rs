//! A container seen from the engine's machine, when the engine runs on this one:
//! its `/proc` and `/sys` through `/proc/PID/root` of its main process (for containers
//! without `cat` or a shell), and the processes of a timed-out exec, killed by pid.

use super::Container;
use crate::backend::BackendError;

impl Container {
    /// Where this machine sees the container's root (`/proc/PID/root`), when the
    /// engine runs here and we may look: the way to read `/proc` and `/sys` of a
    /// container that has no `cat`.
    pub(super) fn root_outside(&self) -> Option<String> {
        let pid = self.host_pid?;
        let root = format!("/proc/{pid}/root");
        (self.engine.is_local() && std::fs::read_dir(format!("{root}/proc/1")).is_ok())
            .then_some(root)
    }

    /// Reads a `/proc` or `/sys` file of the container from outside it.
    pub(super) fn read_outside(&self, path: &str) -> Option<Result<Vec<u8>, BackendError>> {
        if path.contains("/../") {
            return None;
        }
        let root = self.root_outside()?;
        // `/proc/self` would be this process, which is not in the container: the
        // container's main process (its PID 1) stands in for it.
        let inside = if let Some(rest) = path.strip_prefix("/proc/self/") {
            format!("/proc/1/{rest}")
        } else if path == "/proc/mounts" || path.starts_with("/proc/net/") {
            format!("/proc/1/{}", &path["/proc/".len()..])
        } else {
            path.to_string()
        };
        Some(
            std::fs::read(format!("{root}{inside}")).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => BackendError::NotFound(path.to_string()),
                std::io::ErrorKind::PermissionDenied => {
                    BackendError::Denied(format!("cannot read `{path}`"))
                }
                _ => BackendError::Failed(format!("cannot read `{path}`: {e}")),
            }),
        )
    }

    /// Every process of the container, listed from outside it, in the `process`
    /// kind's format; `None` when the container's `/proc` cannot be seen from here.
    pub(super) fn processes_outside(&self) -> Option<Result<Vec<u8>, BackendError>> {
        let proc = format!("{}/proc", self.root_outside()?);
        Some(
            ispec_probe::serve::listing(std::path::Path::new(&proc), &[])
                .map_err(|e| BackendError::Failed(format!("cannot list `/proc`: {e}"))),
        )
    }
}

/// Kills `pid` and every process below it on this machine (read from `/proc`).
pub(super) fn kill_tree(pid: u32) {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let child: u32 = entry.file_name().to_str()?.parse().ok()?;
            let parent = u32::try_from(stat_field(child, 4)?).ok()?;
            Some((child, parent))
        })
        .collect();
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    let _ = std::process::Command::new("kill")
        .arg("-KILL")
        .args(tree.iter().map(u32::to_string))
        .stderr(std::process::Stdio::null())
        .status();
}

/// Field `n` (numbered from 1, as proc(5) does: 4 is the parent's pid, 22 the start
/// time) of `/proc/PID/stat` on this machine.
pub(super) fn stat_field(pid: u32, n: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it follow the last `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(n.checked_sub(3)?)?.parse().ok()
}
