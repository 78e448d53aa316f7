//! `Host`: a backend plus memoized facts. What resource probes call.
//!
//! Many checks share one read of the target: the first check that asks for
//! `/etc/passwd` (or `dpkg-query -W`, or `/proc/net/tcp`) reads it, every other check
//! that asks while it is being read waits for that same read, and later ones get the
//! stored answer. A retry (`within`) asks [`Host::fresh`] for a view with an empty memo.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::backend::{Backend, BackendError, FileMeta, ImageInfo};
use crate::cmd::{Cmd, Output};
use crate::os::{Family, OsInfo, parse_os_release};

/// Why a fact could not be gathered; becomes an *error* result, never a pass.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// A program the check needs is missing on the target.
    #[error("`{0}` is not installed on the target")]
    ToolMissing(String),
    /// The target refused.
    #[error("permission denied: {0}")]
    Denied(String),
    /// The check has no implementation for this OS or target.
    #[error("{what} checks are not supported on `{on}`")]
    Unsupported {
        /// The kind or property.
        what: String,
        /// The OS or target that lacks it.
        on: String,
    },
    /// Gathering took longer than the check's timeout.
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// Anything else, in words.
    #[error("{0}")]
    Failed(String),
}

impl ProbeError {
    /// A check that has no implementation on `on`.
    pub fn unsupported(what: impl Into<String>, on: &impl ToString) -> Self {
        Self::Unsupported {
            what: what.into(),
            on: on.to_string(),
        }
    }
}

impl From<BackendError> for ProbeError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::ToolMissing(p) => Self::ToolMissing(p),
            BackendError::Denied(m) => Self::Denied(m),
            BackendError::Timeout(d) => Self::Timeout(d),
            other => Self::Failed(other.to_string()),
        }
    }
}

type Slot<T> = Arc<OnceLock<Result<T, ProbeError>>>;
type Read = Option<Arc<Vec<u8>>>;

#[derive(Default)]
struct Memo {
    runs: Mutex<HashMap<Cmd, Slot<Arc<Output>>>>,
    reads: Mutex<HashMap<String, Slot<Read>>>,
}

struct Shared {
    backend: Box<dyn Backend>,
    os: OnceLock<Result<OsInfo, ProbeError>>,
    round_trips: AtomicU64,
}

/// A target as resources see it.
#[derive(Clone)]
pub struct Host {
    shared: Arc<Shared>,
    memo: Arc<Memo>,
    timeout: Duration,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("target", &self.target())
            .finish_non_exhaustive()
    }
}

impl Host {
    /// Wraps a backend. Every call made through this host (and the views made from it)
    /// shares one memo and one round-trip counter.
    pub fn new(backend: Box<dyn Backend>) -> Self {
        Self {
            shared: Arc::new(Shared {
                backend,
                os: OnceLock::new(),
                round_trips: AtomicU64::new(0),
            }),
            memo: Arc::default(),
            timeout: Duration::from_secs(30),
        }
    }

    /// This machine, through the local backend.
    pub fn local() -> Self {
        Self::new(Box::new(crate::backend::Local::new()))
    }

    /// The same host with another time limit for each call.
    #[must_use]
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    /// The same host with an empty memo, so a retry observes the target anew.
    #[must_use]
    pub fn fresh(&self) -> Self {
        Self {
            memo: Arc::default(),
            ..self.clone()
        }
    }

    /// The target as the user wrote it.
    pub fn target(&self) -> &str {
        self.shared.backend.target()
    }

    /// Returns true if and only if the target is this machine.
    pub fn is_local(&self) -> bool {
        self.shared.backend.is_local()
    }

    /// The time limit for each call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many times the backend was called so far.
    pub fn round_trips(&self) -> u64 {
        self.shared.round_trips.load(Ordering::Relaxed)
    }

    /// The target's OS, read once from `/etc/os-release` (or `/usr/lib/os-release`).
    pub fn os(&self) -> Result<OsInfo, ProbeError> {
        self.shared
            .os
            .get_or_init(|| {
                for path in ["/etc/os-release", "/usr/lib/os-release"] {
                    if let Some(text) = self.read_opt(path)? {
                        return Ok(parse_os_release(&String::from_utf8_lossy(&text)));
                    }
                }
                Ok(OsInfo::unknown())
            })
            .clone()
    }

    /// The OS family, for resources that choose a tool by it.
    pub fn family(&self) -> Result<Family, ProbeError> {
        Ok(self.os()?.family)
    }

    /// Runs `cmd` now (never memoized): for checks whose program is the check.
    pub fn run(&self, cmd: &Cmd) -> Result<Output, ProbeError> {
        self.shared.round_trips.fetch_add(1, Ordering::Relaxed);
        Ok(self.shared.backend.exec(cmd, self.timeout)?)
    }

    /// Runs `cmd` once for every check that asks for it, e.g. one `dpkg-query` for all
    /// package checks.
    pub fn run_memo(&self, cmd: &Cmd) -> Result<Arc<Output>, ProbeError> {
        let slot = Arc::clone(
            self.memo
                .runs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(cmd.clone())
                .or_default(),
        );
        slot.get_or_init(|| self.run(cmd).map(Arc::new)).clone()
    }

    /// Reads a file once for every check that asks for it; `None` if it does not exist.
    pub fn read_opt(&self, path: &str) -> Result<Option<Arc<Vec<u8>>>, ProbeError> {
        let slot = Arc::clone(
            self.memo
                .reads
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(path.to_string())
                .or_default(),
        );
        slot.get_or_init(|| {
            self.shared.round_trips.fetch_add(1, Ordering::Relaxed);
            match self.shared.backend.read_file(path, self.timeout) {
                Ok(bytes) => Ok(Some(Arc::new(bytes))),
                Err(BackendError::NotFound(_)) => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
        .clone()
    }

    /// A path's metadata read natively by the backend (no `stat` program needed);
    /// `None` when the backend has no native way.
    pub fn lstat(&self, path: &str) -> Option<Result<Option<FileMeta>, ProbeError>> {
        let answer = self.shared.backend.lstat(path, self.timeout)?;
        self.shared.round_trips.fetch_add(1, Ordering::Relaxed);
        Some(answer.map_err(ProbeError::from))
    }

    /// Every process, listed natively by the backend; `None` when it has no way.
    pub fn processes(&self) -> Option<Result<Vec<u8>, ProbeError>> {
        let answer = self.shared.backend.processes(self.timeout)?;
        self.shared.round_trips.fetch_add(1, Ordering::Relaxed);
        Some(answer.map_err(ProbeError::from))
    }

    /// The configuration of an image: `reference`, or the image the target runs;
    /// `None` if the engine has no such image.
    pub fn image(&self, reference: Option<&str>) -> Result<Option<ImageInfo>, ProbeError> {
        self.shared.round_trips.fetch_add(1, Ordering::Relaxed);
        match self.shared.backend.image(reference, self.timeout) {
            Ok(info) => Ok(Some(info)),
            Err(BackendError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a file that must exist.
    pub fn read(&self, path: &str) -> Result<Arc<Vec<u8>>, ProbeError> {
        self.read_opt(path)?
            .ok_or_else(|| ProbeError::Failed(format!("`{path}` does not exist on the target")))
    }

    /// Reads a text file that must exist (invalid UTF-8 replaced).
    pub fn read_text(&self, path: &str) -> Result<String, ProbeError> {
        Ok(String::from_utf8_lossy(&self.read(path)?).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_shared_until_fresh() {
        let host = Host::local();
        let file = tempfile::NamedTempFile::new().unwrap();
        let path = file.path().to_str().unwrap().to_string();
        std::fs::write(&path, "one").unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let host = host.clone();
                let path = path.clone();
                std::thread::spawn(move || host.read_text(&path).unwrap())
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), "one");
        }
        assert_eq!(host.round_trips(), 1);
        std::fs::write(&path, "two").unwrap();
        assert_eq!(host.read_text(&path).unwrap(), "one");
        assert_eq!(host.fresh().read_text(&path).unwrap(), "two");
        assert_eq!(host.read_opt("/nonexistent/ispec").unwrap(), None);
    }

    #[test]
    fn missing_tools_are_probe_errors() {
        let host = Host::local();
        assert_eq!(
            host.run(&Cmd::new("ispec-no-such-tool")).unwrap_err(),
            ProbeError::ToolMissing("ispec-no-such-tool".into())
        );
    }
}
