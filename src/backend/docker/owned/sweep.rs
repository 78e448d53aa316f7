//! Who owns what ispec left on an engine, and the sweep that removes what a run that
//! has ended (killed, or `ispec clean`) left behind.

use std::collections::HashMap;

use bollard::query_parameters::ListContainersOptionsBuilder;

use super::super::engine::{self, Engine};
use super::{LABEL, LABEL_IMAGE, LABEL_KEEP, LABEL_OWNER, REMOVE_TIMEOUT, Removal, remove};
use crate::backend::BackendError;

/// This process as an owner label value: `HOSTNAME:PID:STARTTIME`. The start time
/// (from `/proc/self/stat`) tells a live owner from a reused pid.
pub(crate) fn owner_id() -> String {
    let pid = std::process::id();
    format!("{}:{pid}:{}", hostname(), start_time(pid).unwrap_or(0))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// A process's start time in clock ticks since boot.
fn start_time(pid: u32) -> Option<u64> {
    super::super::outside::stat_field(pid, 22)
}

/// True unless the owner is a run on this machine that has ended. Owners on other
/// machines (a shared engine) are taken to be alive.
pub(crate) fn owner_alive(owner: &str) -> bool {
    let mut parts = owner.split(':');
    let (Some(host), Some(pid), Some(started)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if host != hostname() {
        return true;
    }
    match (pid.parse::<u32>(), started.parse::<u64>()) {
        (Ok(pid), Ok(started)) => start_time(pid) == Some(started),
        _ => false,
    }
}

/// A container `ispec clean` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leftover {
    /// Its name.
    pub name: String,
    /// The image it was started from.
    pub image: String,
    /// Whether it was kept on purpose (`--keep`).
    pub kept: bool,
}

/// What `ispec clean` removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cleaned {
    /// The containers.
    pub containers: Vec<Leftover>,
    /// The names of the suite networks.
    pub networks: Vec<String>,
}

/// Removes ispec's containers whose run has ended (kept ones too when `kept`, and
/// those of live runs too when `all`) that carry every one of `labels`
/// (`KEY` or `KEY=VALUE`), then the suite networks of such runs that no container
/// uses any more. Returns what was removed.
pub fn clean(kept: bool, all: bool, labels: &[String]) -> Result<Cleaned, BackendError> {
    let engine = Engine::connect()?;
    sweep(&engine, kept, all, labels)
}

/// The label filter for ispec's objects that carry every one of `labels`.
pub(crate) fn label_filter(labels: &[String]) -> HashMap<String, Vec<String>> {
    let mut wanted = vec![LABEL.to_string()];
    wanted.extend(labels.iter().cloned());
    HashMap::from([("label".to_string(), wanted)])
}

pub(crate) fn sweep(
    engine: &Engine,
    kept: bool,
    all: bool,
    labels: &[String],
) -> Result<Cleaned, BackendError> {
    let listed = engine.block_on(REMOVE_TIMEOUT, async {
        let filters = label_filter(labels);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        engine
            .api
            .list_containers(Some(options))
            .await
            .map_err(|e| BackendError::Failed(engine::message(&e)))
    })?;
    let mut containers = Vec::new();
    for container in listed {
        let labels = container.labels.unwrap_or_default();
        let is_kept = labels.contains_key(LABEL_KEEP);
        let owner = labels.get(LABEL_OWNER).map_or("", String::as_str);
        if !all && (owner_alive(owner) || (is_kept && !kept)) {
            continue;
        }
        let Some(name) = container
            .names
            .and_then(|n| n.first().cloned())
            .map(|n| n.trim_start_matches('/').to_string())
            .or(container.id)
        else {
            continue;
        };
        if remove(engine, &name)? == Removal::AlreadyGone {
            continue;
        }
        containers.push(Leftover {
            name,
            image: labels.get(LABEL_IMAGE).cloned().unwrap_or_default(),
            kept: is_kept,
        });
    }
    // Networks after the containers that were on them.
    let networks = super::super::network::sweep(engine, all, labels)?;
    Ok(Cleaned {
        containers,
        networks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_a_live_owner() {
        assert!(owner_alive(&owner_id()));
        let pid = std::process::id();
        assert!(!owner_alive(&format!("{}:{pid}:1", hostname())));
        assert!(owner_alive("some-other-machine:1:1"));
        assert!(!owner_alive("garbage"));
    }
}
