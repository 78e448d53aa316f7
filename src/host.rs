//! `Host`: a backend plus memoized facts. What resource probes call.
//!
//! Many checks share one read of the target: the first check that asks for
//! `/etc/passwd` (or `dpkg-query -W`, or `/proc/net/tcp`) reads it, every other check
//! that asks while it is being read waits for that same read, and later ones get the
//! stored answer. A retry (`within`) asks [`Host::fresh`] for a view with an empty memo.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use crate::backend::{Backend, BackendError, FileMeta, ImageInfo};
use crate::cmd::{Cmd, Output};
use crate::gather::Mode;
use crate::gather::net::{NetAnswer, NetQuery};
use crate::os::{Family, OsInfo, parse_os_release};

mod bulk;
mod conditions;
mod end;
mod error;
mod stats;
pub use error::ProbeError;
pub use stats::{Phase, Stats};

type Slot<T> = Arc<OnceLock<Result<T, ProbeError>>>;
type Read = Option<Arc<Vec<u8>>>;

#[derive(Default)]
struct Memo {
    runs: Mutex<HashMap<Cmd, Slot<Arc<Output>>>>,
    reads: Mutex<HashMap<String, Slot<Read>>>,
    /// Filled only by gathering in bulk; a miss asks the backend.
    lstats: Mutex<HashMap<String, Result<Option<FileMeta>, ProbeError>>>,
    /// Filled only by gathering in bulk.
    processes: OnceLock<Result<Vec<u8>, ProbeError>>,
    /// Filled only by the probe; a miss runs the fact's fallback program.
    nets: Mutex<HashMap<NetQuery, Result<NetAnswer, ProbeError>>>,
}

/// Returns the slot for `key`, made empty if there was none.
fn slot<K: std::hash::Hash + Eq, T>(map: &Mutex<HashMap<K, Slot<T>>>, key: K) -> Slot<T> {
    Arc::clone(
        map.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default(),
    )
}

struct Shared {
    backend: Box<dyn Backend>,
    os: OnceLock<Result<OsInfo, ProbeError>>,
    round_trips: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    /// How facts are gathered now, and why a faster way was dropped.
    mode: Mutex<(Mode, Option<String>)>,
    phases: Mutex<[Duration; 5]>,
    alone: Mutex<Vec<String>>,
    /// How many programs may run at once on the target.
    jobs: usize,
    /// False once the gathering script turned out not to work here.
    script_works: std::sync::atomic::AtomicBool,
    /// False once the target turned out to have no `gzip` for the probe.
    gzip_works: std::sync::atomic::AtomicBool,
}

/// A target as resources see it.
#[derive(Clone)]
pub struct Host {
    shared: Arc<Shared>,
    memo: Arc<Memo>,
    timeout: Duration,
    /// The target's name in a suite (`[target.NAME]`), for `when` conditions.
    name: Option<Arc<str>>,
    /// Another name `when` conditions know it by: `image:IMAGE` for a suite's image
    /// target, as for `--image IMAGE`.
    alias: Option<Arc<str>>,
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
        Self::gathering(backend, Mode::Probe, 8)
    }

    /// Wraps a backend whose facts are gathered in bulk the `mode` way (the local
    /// machine answers each fact when asked, at no network cost), running at most
    /// `jobs` programs at once.
    pub fn gathering(backend: Box<dyn Backend>, mode: Mode, jobs: usize) -> Self {
        let mode = if backend.is_local() {
            Mode::Local
        } else {
            mode
        };
        Self {
            shared: Arc::new(Shared {
                backend,
                os: OnceLock::new(),
                round_trips: AtomicU64::new(0),
                bytes_sent: AtomicU64::new(0),
                bytes_received: AtomicU64::new(0),
                mode: Mutex::new((mode, None)),
                phases: Mutex::default(),
                alone: Mutex::default(),
                jobs: jobs.max(1),
                script_works: std::sync::atomic::AtomicBool::new(true),
                gzip_works: std::sync::atomic::AtomicBool::new(true),
            }),
            memo: Arc::default(),
            timeout: Duration::from_secs(30),
            name: None,
            alias: None,
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

    /// The target as reports name it: as its suite names it (`[target.NAME]`), else
    /// as the user wrote it.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_else(|| self.target())
    }

    /// The same host named as a suite names it (`[target.NAME]`): in reports, and for
    /// `when` conditions such as `target == "web"`.
    #[must_use]
    pub fn named(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How the target is reached.
    pub fn transport(&self) -> crate::backend::Transport {
        self.shared.backend.transport()
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
                for path in [crate::os::OS_RELEASE, crate::os::OS_RELEASE_FALLBACK] {
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

    /// Runs `cmd` now (never memoized).
    pub fn run(&self, cmd: &Cmd) -> Result<Output, ProbeError> {
        self.alone(|| {
            let line = cmd.to_string();
            match line.char_indices().nth(60) {
                Some((cut, _)) => format!("run {}…", &line[..cut]),
                None => format!("run {line}"),
            }
        });
        Ok(self.exec_counted(cmd, self.timeout)?)
    }

    /// Runs `cmd` on the backend, counting the round trip and the bytes.
    pub(crate) fn exec_counted(
        &self,
        cmd: &Cmd,
        timeout: Duration,
    ) -> Result<Output, BackendError> {
        let out = self.shared.backend.exec(cmd, timeout);
        let received = out.as_ref().map_or(0, |o| o.stdout.len() + o.stderr.len());
        let sent =
            cmd.argv().iter().map(String::len).sum::<usize>() + cmd.input().map_or(0, <[u8]>::len);
        self.count(1, sent, received);
        out
    }

    /// Adds round trips and bytes to the target's counts.
    pub(crate) fn count(&self, round_trips: u64, sent: usize, received: usize) {
        let s = &self.shared;
        s.round_trips.fetch_add(round_trips, Ordering::Relaxed);
        s.bytes_sent.fetch_add(sent as u64, Ordering::Relaxed);
        s.bytes_received
            .fetch_add(received as u64, Ordering::Relaxed);
    }

    /// Runs `cmd` once for every check that asks for it, e.g. one `dpkg-query` for all
    /// package checks, or the program of a `command` check (gathered in bulk).
    pub fn run_memo(&self, cmd: &Cmd) -> Result<Arc<Output>, ProbeError> {
        slot(&self.memo.runs, cmd.clone())
            .get_or_init(|| self.run(cmd).map(Arc::new))
            .clone()
    }

    /// Reads a file once for every check that asks for it; `None` if it does not exist.
    pub fn read_opt(&self, path: &str) -> Result<Option<Arc<Vec<u8>>>, ProbeError> {
        slot(&self.memo.reads, path.to_string())
            .get_or_init(|| {
                self.alone(|| format!("read {path}"));
                self.read_backend(path)
            })
            .clone()
    }

    fn read_backend(&self, path: &str) -> Result<Option<Arc<Vec<u8>>>, ProbeError> {
        match self.shared.backend.read_file(path, self.timeout) {
            Ok(bytes) => {
                self.count(1, 0, bytes.len());
                Ok(Some(Arc::new(bytes)))
            }
            Err(BackendError::NotFound(_)) => {
                self.count(1, 0, 0);
                Ok(None)
            }
            Err(e) => {
                self.count(1, 0, 0);
                Err(e.into())
            }
        }
    }

    /// Notes a fact fetched in a round trip of its own, for `--stats` (on this
    /// machine every fact is, at no network cost: not noted).
    fn alone(&self, fact: impl FnOnce() -> String) {
        if self.shared.backend.is_local() {
            return;
        }
        let mut alone = self
            .shared
            .alone
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if alone.len() < 50 {
            alone.push(fact());
        }
    }

    /// A path's metadata gathered in bulk, or read natively by the backend (no `stat`
    /// program needed); `None` when neither has it, so the caller runs `stat`.
    pub fn lstat(&self, path: &str) -> Option<Result<Option<FileMeta>, ProbeError>> {
        if let Some(gathered) = self
            .memo
            .lstats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
        {
            return Some(gathered.clone());
        }
        let answer = self.shared.backend.lstat(path, self.timeout)?;
        self.alone(|| format!("lstat {path}"));
        self.count(1, 0, 0);
        Some(answer.map_err(ProbeError::from))
    }

    /// Every process as gathered in bulk; `None` if it was not.
    pub fn gathered_processes(&self) -> Option<Result<Vec<u8>, ProbeError>> {
        self.memo.processes.get().cloned()
    }

    /// What the probe found for a network fact; `None` if it was not gathered that
    /// way (the caller then runs the fact's fallback program).
    pub fn gathered_net(&self, query: &NetQuery) -> Option<Result<NetAnswer, ProbeError>> {
        self.memo
            .nets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(query)
            .cloned()
    }

    /// Every process, listed natively by the backend; `None` when it has no way.
    pub fn processes(&self) -> Option<Result<Vec<u8>, ProbeError>> {
        let answer = self.shared.backend.processes(self.timeout)?;
        self.alone(|| "processes".into());
        self.count(1, 0, answer.as_ref().map_or(0, Vec::len));
        Some(answer.map_err(ProbeError::from))
    }

    /// Adds `took` to the time of `phase`.
    pub fn add_phase(&self, phase: Phase, took: Duration) {
        self.shared
            .phases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)[phase as usize] += took;
    }

    /// What the run on this target cost so far.
    pub fn stats(&self) -> Stats {
        let s = &self.shared;
        let (mode, fallback) = s
            .mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Stats {
            mode: mode.to_string(),
            fallback,
            round_trips: s.round_trips.load(Ordering::Relaxed),
            bytes_sent: s.bytes_sent.load(Ordering::Relaxed),
            bytes_received: s.bytes_received.load(Ordering::Relaxed),
            phases: *s.phases.lock().unwrap_or_else(PoisonError::into_inner),
            alone: s
                .alone
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    /// The configuration of an image: `reference`, or the image the target runs;
    /// `None` if the engine has no such image.
    pub fn image(&self, reference: Option<&str>) -> Result<Option<ImageInfo>, ProbeError> {
        self.count(1, 0, 0);
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
