//! A connection to a Docker Engine (or Podman's Docker-compatible API) through
//! bollard, with the async runtime it needs hidden behind blocking calls.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;

use crate::backend::BackendError;

/// How long connecting and negotiating the API version may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected engine. Cheap to clone: clones share the connection and the runtime.
#[derive(Clone)]
pub(crate) struct Engine {
    pub(crate) api: Docker,
    runtime: Arc<tokio::runtime::Runtime>,
    /// Where the engine listens, for messages.
    pub(crate) address: String,
    /// The engine is Podman's Docker-compatible service. Its archive endpoint
    /// follows symlinks and reports files as owned by the container's user, so file
    /// metadata is not read through it.
    pub(crate) podman: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Connects to `DOCKER_HOST` (`unix://` or `tcp://`), or the local socket when it
    /// is unset, and negotiates the API version with the engine so that engines from
    /// Debian's 20.10 (API 1.41) to current releases are spoken to in their own version.
    pub(crate) fn connect() -> Result<Self, BackendError> {
        let address = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
        let unreachable = |cause: String| BackendError::Unreachable {
            target: address.clone(),
            cause,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ispec-docker")
            .enable_all()
            .build()
            .map_err(|e| unreachable(format!("cannot start the async runtime: {e}")))?;
        let api = {
            let _entered = runtime.enter();
            Docker::connect_with_host(&address).map_err(|e| {
                unreachable(format!(
                    "{e}; check that the Docker daemon is running and `DOCKER_HOST` (unix:///PATH or tcp://HOST:PORT) is right"
                ))
            })?
        };
        let negotiated = runtime.block_on(async {
            tokio::time::timeout(CONNECT_TIMEOUT, api.negotiate_version()).await
        });
        let api = match negotiated {
            Ok(Ok(api)) => api,
            Ok(Err(e)) => {
                let socket = address.strip_prefix("unix://").unwrap_or_default();
                let denied = !socket.is_empty()
                    && std::os::unix::net::UnixStream::connect(socket)
                        .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied);
                return Err(unreachable(if denied {
                    format!(
                        "permission denied on `{socket}`; run as a member of the `docker` group (or root)"
                    )
                } else {
                    format!(
                        "{e}; check that the Docker daemon is running (`systemctl status docker`), \
                         that you may use its socket (the `docker` group), and `DOCKER_HOST`"
                    )
                }));
            }
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {}; check that the Docker daemon is running and `DOCKER_HOST`",
                    humantime::format_duration(CONNECT_TIMEOUT)
                )));
            }
        };
        let podman = runtime
            .block_on(async { tokio::time::timeout(CONNECT_TIMEOUT, api.version()).await })
            .ok()
            .and_then(Result::ok)
            .and_then(|v| v.components)
            .is_some_and(|c| c.iter().any(|c| c.name.contains("Podman")));
        Ok(Self {
            api,
            runtime: Arc::new(runtime),
            address,
            podman,
        })
    }

    /// Runs a future to completion from a plain (non-async) thread, giving up after
    /// `timeout`.
    pub(crate) fn block_on<T>(
        &self,
        timeout: Duration,
        fut: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        self.runtime
            .block_on(async { tokio::time::timeout(timeout, fut).await })
            .unwrap_or(Err(BackendError::Timeout(timeout)))
    }

    /// True when the engine runs on this machine (a unix socket), so its containers'
    /// processes are visible in this machine's `/proc`.
    pub(crate) fn is_local(&self) -> bool {
        self.address.starts_with("unix://")
    }
}

/// The HTTP status of an engine error, if it was one.
pub(crate) fn status(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The engine's message without bollard's wrapping.
pub(crate) fn message(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}
