//! Backends move bytes to and from a target: run a program, read a file. They know
//! nothing of resources; [`crate::host::Host`] adds memoization on top.

pub mod docker;
#[cfg(test)]
mod elsewhere;
mod local;
pub mod ssh;

use std::time::Duration;

use crate::cmd::{Cmd, Output};

#[cfg(test)]
pub(crate) use elsewhere::Elsewhere;
pub use local::Local;

/// Why a backend could not do what was asked.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The target could not be reached or set up at all.
    #[error("cannot reach `{target}`: {cause}")]
    Unreachable {
        /// The target as written.
        target: String,
        /// The underlying cause, and what to check.
        cause: String,
    },
    /// The program does not exist on the target.
    #[error("`{0}` is not installed on the target")]
    ToolMissing(String),
    /// The target refused the operation.
    #[error("permission denied: {0}")]
    Denied(String),
    /// A file that does not exist.
    #[error("`{0}` does not exist")]
    NotFound(String),
    /// The operation took longer than allowed and was stopped.
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// Anything else the transport reported.
    #[error("{0}")]
    Failed(String),
}

/// How a target is reached, as conditions see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// This machine.
    Local,
    /// A container through the Docker (or Podman) API: `docker://` or `--image`.
    Docker,
    /// A host over SSH.
    Ssh,
    /// Anything else (test backends).
    Other,
}

/// A way to reach one target.
///
/// Backends are `Send + Sync` because checks run on several threads at once.
pub trait Backend: Send + Sync {
    /// The target as the user wrote it, e.g. `local` or `docker://web-1`.
    fn target(&self) -> &str;

    /// Runs `cmd` to completion, stopping it after `timeout`.
    ///
    /// A non-zero exit status is an [`Output`], not an error: whether it means
    /// failure is for the caller to judge. A program that does not exist is
    /// [`BackendError::ToolMissing`].
    fn exec(&self, cmd: &Cmd, timeout: Duration) -> Result<Output, BackendError>;

    /// Reads a whole file. The default runs `cat` through [`Backend::exec`].
    fn read_file(&self, path: &str, timeout: Duration) -> Result<Vec<u8>, BackendError> {
        let out = self.exec(&Cmd::new("cat").arg("--").arg(path), timeout)?;
        if out.success() {
            return Ok(out.stdout);
        }
        let err = out.stderr_text();
        if err.contains("No such file") {
            Err(BackendError::NotFound(path.to_string()))
        } else if err.contains("Permission denied") {
            Err(BackendError::Denied(format!("cannot read `{path}`")))
        } else {
            Err(BackendError::Failed(format!("cannot read `{path}`: {err}")))
        }
    }

    /// A path's metadata, without following a final symlink, read natively (without a
    /// `stat` program on the target). `None`: this backend has no native way, so the
    /// caller runs `stat`. `Some(Ok(None))`: the path does not exist.
    fn lstat(
        &self,
        _path: &str,
        _timeout: Duration,
    ) -> Option<Result<Option<FileMeta>, BackendError>> {
        None
    }

    /// Every process of the target, read natively (no shell on the target), as the
    /// `process` kind's listing: `pid NUL euid NUL comm NUL cmdline NUL state NUL fds
    /// NUL` per process, as the probe answers `Query::Processes`. `None`: no native way.
    fn processes(&self, _timeout: Duration) -> Option<Result<Vec<u8>, BackendError>> {
        None
    }

    /// The configuration of an image: `reference`, or the image the target runs when
    /// `None`. Only container backends have images.
    fn image(
        &self,
        _reference: Option<&str>,
        _timeout: Duration,
    ) -> Result<ImageInfo, BackendError> {
        Err(BackendError::Failed(format!(
            "`{}` is not a container; image checks need a `docker://` or `--image` target",
            self.target()
        )))
    }

    /// Copies `bytes`, a program for the CPU `arch` (as `uname -m` names it), into the
    /// target as an executable file without running anything there (ispec's probe),
    /// and returns its path. A target of another CPU is [`BackendError::Failed`].
    /// `None`: this backend has no such way, so the probe goes in through a shell on
    /// the target.
    fn put_executable(
        &self,
        _bytes: &[u8],
        _arch: &str,
        _timeout: Duration,
    ) -> Option<Result<String, BackendError>> {
        None
    }

    /// Runs `cmd` as the target's superuser, where the backend can without a password
    /// (a Docker exec as root): to remove a probe that the check user could not.
    /// `None`: no such way.
    fn exec_as_root(&self, _cmd: &Cmd, _timeout: Duration) -> Option<Result<Output, BackendError>> {
        None
    }

    /// The last `lines` lines the target's main program printed (a container's
    /// standard output and error), for a report to show when its checks failed.
    /// `None`: the target has no such output (a host, this machine).
    fn output_tail(&self, _lines: usize) -> Option<Result<String, BackendError>> {
        None
    }

    /// Ends the session once the run is done with the target: removes a throwaway
    /// container (unless kept). Later calls may fail.
    fn close(&self) {}

    /// Returns true if and only if the target is this machine, so network checks
    /// (`http`, `addr`, `dns`) can run in-process and still see the target's view.
    fn is_local(&self) -> bool {
        false
    }

    /// How the target is reached, for `when` conditions (`docker`, `ssh`, `local`).
    fn transport(&self) -> Transport {
        if self.is_local() {
            Transport::Local
        } else {
            Transport::Other
        }
    }
}

/// What a backend can tell of a path without running `stat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMeta {
    /// `file`, `directory`, `symlink`, `pipe`, `socket`, `block-device`,
    /// `character-device` or `unknown`.
    pub kind: &'static str,
    /// Permission bits, with setuid, setgid and sticky.
    pub mode: u32,
    /// Owner's id.
    pub uid: i64,
    /// Group's id.
    pub gid: i64,
    /// Size in bytes.
    pub size: i64,
    /// Last modification, in seconds since the epoch.
    pub mtime: i64,
    /// A symlink's target, as stored in the link.
    pub link: Option<String>,
}

/// An image's configuration, as the engine reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageInfo {
    /// The image id (`sha256:...`).
    pub id: String,
    /// Its tags, e.g. `web:candidate`.
    pub tags: Vec<String>,
    /// `KEY=value` entries.
    pub env: Vec<String>,
    /// Exposed ports as `80/tcp`.
    pub exposed_ports: Vec<String>,
    /// The entrypoint, empty when none.
    pub entrypoint: Vec<String>,
    /// The default command, empty when none.
    pub cmd: Vec<String>,
    /// The user, empty for root.
    pub user: String,
    /// The working directory, empty for `/`.
    pub workdir: String,
    /// Labels, sorted by key.
    pub labels: Vec<(String, String)>,
    /// Volume mount points.
    pub volumes: Vec<String>,
    /// The health check's test, empty when none.
    pub healthcheck: Vec<String>,
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// Architecture, e.g. `amd64`.
    pub architecture: String,
    /// Size in bytes.
    pub size: i64,
}

/// A target as planned: a URI to connect to, or an image to start a throwaway
/// container from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    /// `local`, `docker://CONTAINER`, `ssh://...`.
    Uri(String),
    /// A throwaway container.
    Image(Box<docker::ContainerSpec>),
    /// An `ssh://` target with options of its own (a suite's `sudo`, `identity`).
    Ssh(Box<SshTarget>),
}

/// An `ssh://` target and the options a suite gave it, over the command line's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SshTarget {
    /// `ssh://[USER@]HOST[:PORT]`.
    pub uri: String,
    /// Run commands through `sudo` (or not), whatever `--sudo` says.
    pub sudo: Option<bool>,
    /// Identity files to try before the command line's.
    pub identities: Vec<std::path::PathBuf>,
}

impl TargetSpec {
    /// The target as reports name it: the URI, or `image:IMAGE`.
    pub fn name(&self) -> String {
        match self {
            Self::Uri(uri) => uri.clone(),
            Self::Image(spec) => spec
                .name
                .clone()
                .unwrap_or_else(|| format!("image:{}", spec.image)),
            Self::Ssh(ssh) => ssh.uri.clone(),
        }
    }
}

/// How to reach a target beyond its URI.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// Who runs commands in a `docker://` container; its default user when `None`.
    pub user: Option<String>,
    /// How `ssh://` targets are reached.
    pub ssh: ssh::SshOptions,
}

impl ConnectOptions {
    /// These options with an `ssh://` target's own over them (its `sudo`, its
    /// identities tried first).
    fn for_ssh(&self, target: &SshTarget) -> Self {
        let mut options = self.clone();
        if let Some(sudo) = target.sudo {
            options.ssh.sudo = sudo;
        }
        let mut identities = target.identities.clone();
        identities.append(&mut options.ssh.identities);
        options.ssh.identities = identities;
        options
    }
}

/// Reaches a planned target: connects to its URI, or starts its throwaway container
/// (registered in `owned`, so it is removed whatever happens; `say` hears what is
/// happening while it starts).
pub fn reach(
    target: &TargetSpec,
    options: &ConnectOptions,
    owned: &std::sync::Arc<docker::Owned>,
    say: &dyn Fn(&str),
) -> Result<Box<dyn Backend>, ConnectError> {
    match target {
        TargetSpec::Uri(uri) => connect(uri, options),
        TargetSpec::Ssh(ssh) => connect(&ssh.uri, &options.for_ssh(ssh)),
        TargetSpec::Image(spec) => Ok(Box::new(docker::Container::start(spec, owned, say)?)),
    }
}

/// Opens a backend for a target URI: `local` or `docker://CONTAINER`. Throwaway
/// containers (`--image`) are started by [`reach`].
pub fn connect(target: &str, options: &ConnectOptions) -> Result<Box<dyn Backend>, ConnectError> {
    let scheme = target
        .split_once("://")
        .or_else(|| target.split_once(':'))
        .map_or(target, |(scheme, _)| scheme);
    match scheme {
        "local" => Ok(Box::new(Local::new())),
        "docker" => {
            let name = target.strip_prefix("docker://").unwrap_or_default();
            if name.is_empty() || name.contains('/') {
                return Err(ConnectError::UnknownScheme(target.to_string()));
            }
            Ok(Box::new(docker::Container::connect(
                name,
                options.user.clone(),
            )?))
        }
        "ssh" => {
            ssh::check_target(target)
                .map_err(|cause| ConnectError::BadTarget(target.to_string(), cause))?;
            Ok(Box::new(ssh::Ssh::connect(target, &options.ssh)?))
        }
        "image" => Err(ConnectError::NotYet(target.to_string())),
        _ => Err(ConnectError::UnknownScheme(target.to_string())),
    }
}

/// A target URI that names no backend this build has.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The scheme is not one ispec knows.
    #[error(
        "unknown target `{0}`: write `local`, `docker://CONTAINER` or `ssh://[USER@]HOST[:PORT]` (or `--image IMAGE` for a throwaway container)"
    )]
    UnknownScheme(String),
    /// The scheme is known but the rest of the URI is malformed.
    #[error("invalid target `{0}`: {1}")]
    BadTarget(String, String),
    /// The scheme is known but this build cannot use it yet.
    #[error("target `{0}` needs a backend this build does not have yet; use `local`")]
    NotYet(String),
    /// The backend exists but the target could not be reached.
    #[error(transparent)]
    Backend(#[from] BackendError),
}
