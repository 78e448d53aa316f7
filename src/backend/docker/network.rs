//! A suite's private network: created (labelled like ispec's containers) before the
//! suite's first throwaway container starts, and removed after the last one goes.
//! On it, Docker's embedded DNS answers each container's target name.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bollard::models::{ContainerStateStatusEnum, NetworkCreateRequest};
use bollard::query_parameters::ListNetworksOptionsBuilder;

use super::engine::{self, Engine};
use super::owned::{self, LABEL, LABEL_OWNER, Owned};
use crate::backend::BackendError;

const TIMEOUT: Duration = Duration::from_secs(30);

/// Names networks of this process apart.
static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// Creates a private bridge network for one suite run, registered in `owned` so it is
/// removed with the run's containers (also on Ctrl-C), with ispec's labels and
/// `labels` (`KEY=value`, e.g. the CI job's). Returns its name.
pub fn create(owned: &Arc<Owned>, labels: &[String]) -> Result<String, BackendError> {
    let engine = Engine::connect()?;
    // Leftovers of killed runs go first, as before a container starts.
    owned.sweep_once(&engine);
    let name = format!(
        "ispec-{}-net-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    );
    let failed = |cause: String| BackendError::Unreachable {
        target: "the suite's network".into(),
        cause,
    };
    // In flight until the engine answers: see `Owned::creating`.
    let Some(_creating) = owned.creating() else {
        return Err(failed("interrupted".into()));
    };
    if !owned.register_network(&engine, &name) {
        return Err(failed("interrupted".into()));
    }
    let mut all_labels = HashMap::from([
        (LABEL.to_string(), "true".to_string()),
        (LABEL_OWNER.to_string(), owned::owner_id()),
    ]);
    for label in labels {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        all_labels
            .entry(key.to_string())
            .or_insert_with(|| value.to_string());
    }
    let request = NetworkCreateRequest {
        name: name.clone(),
        driver: Some("bridge".into()),
        labels: Some(all_labels),
        ..Default::default()
    };
    engine
        .block_on(TIMEOUT, async {
            engine
                .api
                .create_network(request)
                .await
                .map_err(|e| BackendError::Failed(engine::message(&e)))
        })
        .map_err(|e| failed(format!("cannot create network `{name}`: {e}")))?;
    Ok(name)
}

/// Puts every container of `specs` on one new private network (none is created when
/// `specs` is empty): what a suite's image targets get. See [`create`].
pub fn join<'a>(
    owned: &Arc<Owned>,
    labels: &[String],
    specs: impl IntoIterator<Item = &'a mut super::ContainerSpec>,
) -> Result<(), BackendError> {
    let mut specs = specs.into_iter().peekable();
    if specs.peek().is_none() {
        return Ok(());
    }
    let name = create(owned, labels)?;
    for spec in specs {
        spec.network = Some(name.clone());
    }
    Ok(())
}

/// Removes a network; one already gone is not an error. A container still leaving it
/// (removal is asynchronous in the engine) is waited for, a little.
pub(crate) fn remove(engine: &Engine, name: &str) -> Result<(), BackendError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    engine.block_on(TIMEOUT, async {
        loop {
            match engine.api.remove_network(name).await {
                Ok(()) => return Ok(()),
                Err(e) if engine::status(&e) == Some(404) => return Ok(()),
                // 403 "has active endpoints": a removed container is still leaving.
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    return Err(BackendError::Failed(format!(
                        "cannot remove network `{name}`: {}; remove it with `docker network rm {name}` or `ispec clean`",
                        engine::message(&e)
                    )));
                }
            }
        }
    })
}

/// Removes ispec's networks that carry every one of `labels`, whose run has ended
/// (all of them when `all`) and that no container uses any more. Returns their names.
pub(crate) fn sweep(
    engine: &Engine,
    all: bool,
    labels: &[String],
) -> Result<Vec<String>, BackendError> {
    let listed = engine.block_on(TIMEOUT, async {
        let filters = owned::label_filter(labels);
        let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
        engine
            .api
            .list_networks(Some(options))
            .await
            .map_err(|e| BackendError::Failed(engine::message(&e)))
    })?;
    let mut removed = Vec::new();
    for network in listed {
        let labels = network.labels.unwrap_or_default();
        let owner = labels.get(LABEL_OWNER).map_or("", String::as_str);
        let Some(name) = network.name else { continue };
        if !all && owned::owner_alive(owner) {
            continue;
        }
        // A kept container may still use it: the engine refuses, and it stays. One
        // that was just removed may still be listed while it leaves: not a user.
        let users = engine.block_on(TIMEOUT, async {
            let on_it: Vec<String> = engine
                .api
                .inspect_network(&name, None)
                .await
                .ok()
                .and_then(|n| n.containers)
                .map(|c| c.into_keys().collect())
                .unwrap_or_default();
            let mut users = 0;
            for id in on_it {
                match engine.api.inspect_container(&id, None).await {
                    Err(e) if engine::status(&e) == Some(404) => {}
                    Ok(c)
                        if c.state.as_ref().and_then(|s| s.status).is_some_and(|s| {
                            matches!(
                                s,
                                ContainerStateStatusEnum::REMOVING | ContainerStateStatusEnum::DEAD
                            )
                        }) => {}
                    _ => users += 1,
                }
            }
            Ok(users)
        })?;
        if users == 0 && remove(engine, &name).is_ok() {
            removed.push(name);
        }
    }
    Ok(removed)
}
