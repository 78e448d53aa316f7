//! Throwaway containers: created from an image with ispec's labels, started, waited
//! on until ready, and removed when the backend is dropped (pass, fail, error,
//! panic) or by [`Owned::remove_all`] on Ctrl-C and SIGTERM.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkingConfig, PortBinding,
};
use bollard::query_parameters::CreateContainerOptionsBuilder;

use super::Container;
use super::engine::{self, Engine};
use super::owned::{self, LABEL, LABEL_IMAGE, LABEL_KEEP, LABEL_OWNER, Owned};
use crate::backend::BackendError;

/// How to start a throwaway container, and when it is ready.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// The image, e.g. `web:candidate`.
    pub image: String,
    /// `KEY=value` environment entries.
    pub env: Vec<String>,
    /// Replaces the image's command.
    pub cmd: Option<Vec<String>>,
    /// Replaces the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// The user the container (and every check) runs as.
    pub user: Option<String>,
    /// Published ports: `CONTAINER[/PROTO]`, `HOST:CONTAINER[/PROTO]` or
    /// `IP:HOST:CONTAINER[/PROTO]`; without an IP they are published on 127.0.0.1.
    pub ports: Vec<String>,
    /// Bind mounts and volumes: `SOURCE:DEST[:ro]`.
    pub volumes: Vec<String>,
    /// tmpfs mounts: `DEST[:OPTIONS]`.
    pub tmpfs: Vec<String>,
    /// Run privileged (off unless asked for).
    pub privileged: bool,
    /// Extra labels, `KEY=value`, e.g. the CI job that started the container.
    pub labels: Vec<String>,
    /// When the container is ready for checks.
    pub wait: Wait,
    /// Leave the container running after the run, for debugging.
    pub keep: bool,
    /// Its name in a suite (`[target.NAME]`): the target's name in reports and, on
    /// the suite's network, its host name.
    pub name: Option<String>,
    /// The network to join (a suite's private network), reachable there by `name`.
    pub network: Option<String>,
}

/// Readiness: what must hold before the first check runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    /// A TCP port that must be listening inside the container.
    pub port: Option<u16>,
    /// Text a line of the container's output must contain.
    pub log: Option<String>,
    /// Wait for the image's HEALTHCHECK to report healthy. `None`: when the image has
    /// one and nothing else is waited for.
    pub health: Option<bool>,
    /// How long readiness may take.
    pub within: Duration,
}

impl Default for Wait {
    fn default() -> Self {
        Self {
            port: None,
            log: None,
            health: None,
            within: Duration::from_secs(60),
        }
    }
}

/// Removes the container it guards when dropped, unless it is kept.
#[derive(Debug)]
pub(crate) struct Guard {
    engine: Engine,
    name: String,
    owned: Arc<Owned>,
    keep: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        // A kept container stays registered as kept, so its network stays too.
        if !self.keep {
            let _ = owned::remove(&self.engine, &self.name);
            self.owned.forget(&self.name);
        }
    }
}

/// Names containers of this process apart.
static SEQUENCE: AtomicU32 = AtomicU32::new(0);

impl Container {
    /// Starts a throwaway container from `spec` and waits until it is ready; the
    /// container is removed when the returned backend is dropped (unless `spec.keep`),
    /// or by `owned` on an interrupt. `say` hears what is happening, for progress.
    pub fn start(
        spec: &ContainerSpec,
        owned: &Arc<Owned>,
        say: &dyn Fn(&str),
    ) -> Result<Self, BackendError> {
        let engine = Engine::connect()?;
        let target = spec
            .name
            .clone()
            .unwrap_or_else(|| format!("image:{}", spec.image));
        let unreachable = |cause: String| BackendError::Unreachable {
            target: target.clone(),
            cause,
        };
        // Leftovers of runs that were killed before they could clean up.
        owned.sweep_once(&engine);
        let image = match owned::inspect_image(&engine, &spec.image, Duration::from_secs(30)) {
            Ok(image) => image,
            Err(BackendError::NotFound(_)) => {
                return Err(unreachable(format!(
                    "the image is not on the engine at `{}`; build it, or `docker pull {}` first",
                    engine.address, spec.image
                )));
            }
            Err(e) => return Err(unreachable(e.to_string())),
        };
        let name = format!(
            "ispec-{}-{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        // In flight from before it is registered until the engine answers: an
        // interrupt waits for the answer, so the container cannot land after it.
        let Some(creating) = owned.creating() else {
            return Err(unreachable("interrupted".into()));
        };
        if !owned.register(&engine, &name) {
            return Err(unreachable("interrupted".into()));
        }
        let mut guard = Guard {
            engine: engine.clone(),
            name: name.clone(),
            owned: Arc::clone(owned),
            keep: false,
        };
        say(&format!("creating a container from {}", spec.image));
        let body = create_body(spec).map_err(&unreachable)?;
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        let created = engine.block_on(Duration::from_secs(60), async {
            engine
                .api
                .create_container(Some(options), body)
                .await
                .map_err(|e| BackendError::Failed(engine::message(&e)))
        });
        drop(creating);
        let id = created
            .map_err(|e| unreachable(format!("cannot create the container: {e}")))?
            .id;
        engine
            .block_on(Duration::from_secs(60), async {
                engine
                    .api
                    .start_container(&id, None)
                    .await
                    .map_err(|e| BackendError::Failed(engine::message(&e)))
            })
            .map_err(|e| unreachable(format!("cannot start the container: {e}")))?;
        let mut container = Self {
            engine,
            id,
            target: target.clone(),
            user: None,
            host_pid: None,
            tmpfs: Vec::new(),
            guard: std::sync::Mutex::new(None),
            name: None,
            arch: std::sync::OnceLock::new(),
        };
        let inspect = container.inspect()?;
        container.tmpfs = super::tmpfs_mounts(&inspect);
        container.host_pid = inspect.state.and_then(|s| s.pid).filter(|p| *p > 0);
        let health = spec.wait.health.unwrap_or(
            !image.healthcheck.is_empty() && spec.wait.port.is_none() && spec.wait.log.is_none(),
        );
        if let Err(cause) = container.wait_ready(&spec.wait, health, say) {
            if spec.keep {
                // Kept for a look at why it never got ready.
                guard.keep = true;
                owned.keep(&name);
                return Err(unreachable(format!(
                    "not ready: {cause}\n  = kept container {name}: get in with `docker exec -it {name} sh`, \
                     remove it with `docker rm -fv {name}` or `ispec clean`"
                )));
            }
            return Err(unreachable(format!("not ready: {cause}")));
        }
        guard.keep = spec.keep;
        if spec.keep {
            owned.keep(&name);
        }
        container.name = Some(guard.name.clone());
        container.guard = std::sync::Mutex::new(Some(guard));
        Ok(container)
    }

    /// The container's name, e.g. `ispec-4242-0`.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(super) fn inspect(
        &self,
    ) -> Result<bollard::models::ContainerInspectResponse, BackendError> {
        self.engine.block_on(Duration::from_secs(30), async {
            self.engine
                .api
                .inspect_container(&self.id, None)
                .await
                .map_err(|e| BackendError::Failed(engine::message(&e)))
        })
    }
}

/// The engine's create request for `spec`.
fn create_body(spec: &ContainerSpec) -> Result<ContainerCreateBody, String> {
    let mut labels = HashMap::from([
        (LABEL.to_string(), "true".to_string()),
        (LABEL_OWNER.to_string(), owned::owner_id()),
        (LABEL_IMAGE.to_string(), spec.image.clone()),
    ]);
    for label in &spec.labels {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        labels
            .entry(key.to_string())
            .or_insert_with(|| value.to_string());
    }
    if spec.keep {
        labels.insert(LABEL_KEEP.to_string(), "true".to_string());
    }
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for port in &spec.ports {
        let (ip, host, container) = parse_port(port)?;
        bindings
            .entry(container)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(ip),
                host_port: Some(host),
            });
    }
    let tmpfs: HashMap<String, String> = spec
        .tmpfs
        .iter()
        .map(|t| {
            let (dest, opts) = t.split_once(':').unwrap_or((t, ""));
            (dest.to_string(), opts.to_string())
        })
        .collect();
    // On a suite's network the container answers to its target's name.
    let networking_config = spec.network.as_ref().map(|network| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            network.clone(),
            EndpointSettings {
                aliases: spec.name.clone().map(|n| vec![n]),
                ..Default::default()
            },
        )])),
    });
    Ok(ContainerCreateBody {
        image: Some(spec.image.clone()),
        hostname: spec.network.as_ref().and(spec.name.clone()),
        networking_config,
        env: (!spec.env.is_empty()).then(|| spec.env.clone()),
        cmd: spec.cmd.clone(),
        entrypoint: spec.entrypoint.clone(),
        user: spec.user.clone(),
        labels: Some(labels),
        exposed_ports: (!bindings.is_empty()).then(|| bindings.keys().cloned().collect()),
        host_config: Some(HostConfig {
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            binds: (!spec.volumes.is_empty()).then(|| spec.volumes.clone()),
            tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
            privileged: Some(spec.privileged),
            network_mode: spec.network.clone(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Parses a published port: `80`, `8080:80`, `127.0.0.1:8080:80`, with `/tcp` or
/// `/udp`; returns (host IP, host port, `PORT/PROTO`). No host port: one is chosen.
pub(crate) fn parse_port(text: &str) -> Result<(String, String, String), String> {
    let bad = || {
        format!(
            "`{text}` is not a port to publish; write `80`, `8080:80` or `127.0.0.1:8080:80/tcp`"
        )
    };
    let (ports, proto) = text.split_once('/').unwrap_or((text, "tcp"));
    if proto != "tcp" && proto != "udp" {
        return Err(bad());
    }
    let fields: Vec<&str> = ports.rsplitn(3, ':').collect();
    let (ip, host, container) = match fields[..] {
        [c] => ("127.0.0.1", "", c),
        [c, h] => ("127.0.0.1", h, c),
        [c, h, ip] => (ip.trim_start_matches('[').trim_end_matches(']'), h, c),
        _ => return Err(bad()),
    };
    let valid = |p: &str| p.parse::<u16>().is_ok_and(|n| n > 0);
    if !valid(container)
        || !(host.is_empty() || valid(host))
        || ip.parse::<std::net::IpAddr>().is_err()
    {
        return Err(bad());
    }
    Ok((
        ip.to_string(),
        host.to_string(),
        format!("{container}/{proto}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_publish_on_loopback_unless_told() {
        let p = |s: &str| parse_port(s).unwrap();
        assert_eq!(
            p("80"),
            ("127.0.0.1".into(), String::new(), "80/tcp".into())
        );
        assert_eq!(
            p("8080:80/udp"),
            ("127.0.0.1".into(), "8080".into(), "80/udp".into())
        );
        assert_eq!(
            p("0.0.0.0:8080:80"),
            ("0.0.0.0".into(), "8080".into(), "80/tcp".into())
        );
        assert_eq!(
            p("[::1]:8080:80"),
            ("::1".into(), "8080".into(), "80/tcp".into())
        );
        for bad in ["", "x", "80/sctp", "70000", "a:b:c:d", "nowhere:1:2"] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }
}
