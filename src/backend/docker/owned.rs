//! What ispec starts, it owns: labels that mark its containers, a registry of the
//! live ones (so Ctrl-C and SIGTERM can remove them), and the sweep that removes
//! what a killed run left behind.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bollard::query_parameters::RemoveContainerOptionsBuilder;

use super::engine::{self, Engine};
use crate::backend::{BackendError, ImageInfo};

mod sweep;

pub use sweep::{Cleaned, Leftover, clean};
pub(crate) use sweep::{label_filter, owner_alive, owner_id, sweep};

/// Every container ispec creates carries this label.
pub const LABEL: &str = "io.ispec.managed";
/// Which run owns the container: `HOSTNAME:PID:STARTTIME`.
pub(crate) const LABEL_OWNER: &str = "io.ispec.owner";
/// Set on containers started with `--keep`: sweeps leave them, `ispec clean` removes them.
pub(crate) const LABEL_KEEP: &str = "io.ispec.keep";
/// The image the container was started from, for `ispec clean`'s listing.
pub(crate) const LABEL_IMAGE: &str = "io.ispec.image";

const REMOVE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an interrupt waits for creations already sent to the engine to return, so
/// what they create is registered (or found by its owner label) and removed.
const CREATES_WAIT: Duration = Duration::from_secs(15);

/// The containers this process created and has not removed yet.
#[derive(Debug, Default)]
pub struct Owned {
    state: Mutex<State>,
    /// Signalled when a creation returns.
    created: Condvar,
    /// Whether this run already swept what killed runs left behind.
    swept: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    containers: Vec<Registered>,
    /// Networks the run created: removed after their containers.
    networks: Vec<(Engine, String)>,
    /// Creations (containers, networks) sent to the engine that have not returned.
    creating: usize,
    /// Every engine this run created something on, for the sweep by owner label.
    engines: Vec<Engine>,
    closing: bool,
}

/// A creation in flight (see [`Owned::creating`]); dropping it says it returned.
#[must_use = "the creation counts as in flight until this is dropped"]
pub(crate) struct Creating(Arc<Owned>);

impl Drop for Creating {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.creating -= 1;
        self.0.created.notify_all();
    }
}

#[derive(Clone, Debug)]
struct Registered {
    engine: Engine,
    name: String,
    /// Started with `--keep`: left running by [`Owned::finish`].
    keep: bool,
}

impl Owned {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts a creation about to be sent to the engine as in flight until the
    /// returned guard drops: an interrupt waits for it (a little) before removing,
    /// so a container whose creation lands after the removal is not left behind.
    /// `None` when the registry is closing: the caller must not create anything.
    pub(crate) fn creating(self: &Arc<Self>) -> Option<Creating> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.closing {
            return None;
        }
        state.creating += 1;
        Some(Creating(Arc::clone(self)))
    }

    /// Records a container (by name, before it is created, so an interrupt during the
    /// creation still finds it). Returns false when the registry is closing: the
    /// caller must not go on.
    pub(crate) fn register(&self, engine: &Engine, name: &str) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.closing {
            return false;
        }
        state.note_engine(engine);
        state.containers.push(Registered {
            engine: engine.clone(),
            name: name.to_string(),
            keep: false,
        });
        true
    }

    /// Removes what killed runs left behind (containers, then networks) the first time
    /// this run starts something on `engine`; later starts of the run skip it.
    pub(crate) fn sweep_once(&self, engine: &Engine) {
        if !self.swept.swap(true, std::sync::atomic::Ordering::Relaxed) {
            let _ = sweep(engine, false, false, &[]);
        }
    }

    /// Records a network (by name, before it is created). Returns false when the
    /// registry is closing.
    pub(crate) fn register_network(&self, engine: &Engine, name: &str) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.closing {
            return false;
        }
        state.note_engine(engine);
        state.networks.push((engine.clone(), name.to_string()));
        true
    }

    /// Marks a container to be left running when the run finishes.
    pub(crate) fn keep(&self, name: &str) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for c in state.containers.iter_mut().filter(|c| c.name == name) {
            c.keep = true;
        }
    }

    /// A guard that calls [`Owned::finish`] when dropped, so a run's containers go
    /// however it ends, a panic included.
    pub fn finish_on_drop(self: &Arc<Self>) -> FinishOnDrop {
        FinishOnDrop(Arc::clone(self))
    }

    /// Removes every container of the run except the kept ones, then its networks
    /// (unless a kept container is on them): what a run does when it ends, whatever
    /// its outcome. Returns how many containers were removed.
    pub fn finish(&self) -> usize {
        // Entries stay registered until their removal returns, so an interrupt in the
        // meantime still finds them.
        let (containers, networks) = {
            let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let gone: Vec<Registered> = state
                .containers
                .iter()
                .filter(|c| !c.keep)
                .map(Registered::clone)
                .collect();
            let networks = if state.containers.iter().any(|c| c.keep) {
                Vec::new()
            } else {
                state.networks.clone()
            };
            (gone, networks)
        };
        let removed = remove_containers(&containers);
        self.forget_all(&containers);
        remove_networks(&networks);
        self.forget_networks(&networks);
        removed
    }

    fn forget_all(&self, containers: &[Registered]) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .containers
            .retain(|c| !containers.iter().any(|r| r.name == c.name));
    }

    fn forget_networks(&self, networks: &[(Engine, String)]) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .networks
            .retain(|(_, n)| !networks.iter().any(|(_, r)| r == n));
    }

    /// Forgets a container that was removed (or is kept on purpose).
    pub(crate) fn forget(&self, name: &str) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .containers
            .retain(|c| c.name != name);
    }

    /// True once [`Owned::remove_all`] began: the run is being interrupted.
    pub fn is_closing(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closing
    }

    /// Removes every container and network of the run and refuses new ones: what
    /// Ctrl-C and SIGTERM do. Creations already sent to the engine are waited for
    /// (at most 15 s); then the registered containers go, then any other
    /// container or network carrying this run's owner label (a creation that landed
    /// late). Returns how many containers were removed (not those already gone).
    pub fn remove_all(&self) -> usize {
        self.remove_all_waiting(CREATES_WAIT)
    }

    fn remove_all_waiting(&self, wait: Duration) -> usize {
        let (containers, networks, engines) = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.closing = true;
            let until = Instant::now() + wait;
            while state.creating > 0 {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = self
                    .created
                    .wait_timeout(state, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            (
                state.containers.clone(),
                state.networks.clone(),
                state.engines.clone(),
            )
        };
        let mut removed = remove_containers(&containers);
        self.forget_all(&containers);
        let owner = [format!("{LABEL_OWNER}={}", owner_id())];
        for engine in &engines {
            // Everything of this run, kept or not: the run was interrupted.
            if let Ok(late) = sweep(engine, true, true, &owner) {
                removed += late.containers.len();
            }
        }
        remove_networks(&networks);
        self.forget_networks(&networks);
        removed
    }
}

impl State {
    fn note_engine(&mut self, engine: &Engine) {
        if !self.engines.iter().any(|e| e.address == engine.address) {
            self.engines.push(engine.clone());
        }
    }
}

/// Removes containers all at once (each removal waits for its container to stop).
fn remove_containers(containers: &[Registered]) -> usize {
    std::thread::scope(|scope| {
        let removals: Vec<_> = containers
            .iter()
            .map(|c| {
                scope.spawn(|| remove(&c.engine, &c.name).is_ok_and(|r| r == Removal::Removed))
            })
            .collect();
        removals
            .into_iter()
            .filter_map(|r| r.join().ok())
            .filter(|removed| *removed)
            .count()
    })
}

fn remove_networks(networks: &[(Engine, String)]) {
    for (engine, name) in networks {
        if let Err(e) = super::network::remove(engine, name) {
            eprintln!("warning: {e}");
        }
    }
}

/// Removes a run's containers (but kept ones) when dropped: see
/// [`Owned::finish_on_drop`].
#[must_use = "the containers are removed when the guard is dropped"]
pub struct FinishOnDrop(Arc<Owned>);

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// What [`remove`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Removal {
    /// The container was there, and this call removed it.
    Removed,
    /// It was not there (never created, or removed by someone else).
    AlreadyGone,
}

/// Removes a container and its anonymous volumes, stopping it first. A container that
/// is already gone is not an error, but not counted as removed either.
pub(crate) fn remove(engine: &Engine, name: &str) -> Result<Removal, BackendError> {
    engine.block_on(REMOVE_TIMEOUT, async {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match engine.api.remove_container(name, Some(options)).await {
            Ok(()) => Ok(Removal::Removed),
            Err(e) if engine::status(&e) == Some(404) => Ok(Removal::AlreadyGone),
            // 409: another sweep is removing it; wait until it is gone.
            Err(e) if engine::status(&e) == Some(409) => {
                while engine.api.inspect_container(name, None).await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(Removal::AlreadyGone)
            }
            Err(e) => Err(BackendError::Failed(format!(
                "cannot remove container `{name}`: {}",
                engine::message(&e)
            ))),
        }
    })
}

/// An image's configuration; a missing image is [`BackendError::NotFound`].
pub(crate) fn inspect_image(
    engine: &Engine,
    reference: &str,
    timeout: Duration,
) -> Result<ImageInfo, BackendError> {
    let image = engine.block_on(timeout, async {
        engine.api.inspect_image(reference).await.map_err(|e| {
            if engine::status(&e) == Some(404) {
                BackendError::NotFound(format!("image {reference}"))
            } else {
                BackendError::Failed(format!(
                    "cannot inspect image `{reference}`: {}",
                    engine::message(&e)
                ))
            }
        })
    })?;
    let config = image.config.unwrap_or_default();
    let mut labels: Vec<(String, String)> = config.labels.unwrap_or_default().into_iter().collect();
    labels.sort();
    let mut exposed_ports = config.exposed_ports.unwrap_or_default();
    exposed_ports.sort();
    let mut volumes = config.volumes.unwrap_or_default();
    volumes.sort();
    Ok(ImageInfo {
        id: image.id.unwrap_or_default(),
        tags: image.repo_tags.unwrap_or_default(),
        env: config.env.unwrap_or_default(),
        exposed_ports,
        entrypoint: config.entrypoint.unwrap_or_default(),
        cmd: config.cmd.unwrap_or_default(),
        user: config.user.unwrap_or_default(),
        workdir: config.working_dir.unwrap_or_default(),
        labels,
        volumes,
        healthcheck: config
            .healthcheck
            .and_then(|h| h.test)
            .filter(|t| t.first().is_none_or(|t| t != "NONE"))
            .unwrap_or_default(),
        os: image.os.unwrap_or_default(),
        architecture: image.architecture.unwrap_or_default(),
        size: image.size.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupt_waits_for_creations_in_flight_and_then_refuses_new_ones() {
        let owned = Arc::new(Owned::new());
        let creating = owned.creating().expect("not closing yet");
        let interrupt = std::thread::spawn({
            let owned = Arc::clone(&owned);
            move || {
                owned.remove_all_waiting(Duration::from_secs(10));
                Instant::now()
            }
        });
        while !owned.is_closing() {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(owned.creating().is_none(), "no creation once closing");
        std::thread::sleep(Duration::from_millis(200));
        assert!(!interrupt.is_finished(), "waits for the creation in flight");
        let returned = Instant::now();
        drop(creating);
        let ended = interrupt.join().unwrap();
        assert!(ended >= returned);
        assert!(ended - returned < Duration::from_secs(5));
    }

    #[test]
    fn an_interrupt_waits_for_a_creation_that_never_returns_only_so_long() {
        let owned = Arc::new(Owned::new());
        let _stuck = owned.creating().expect("not closing yet");
        let started = Instant::now();
        assert_eq!(owned.remove_all_waiting(Duration::from_millis(200)), 0);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
