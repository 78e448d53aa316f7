//! Backends move bytes to and from a target: run a program, read a file. They know
//! nothing of resources; [`crate::host::Host`] adds memoization on top.

#[cfg(test)]
mod elsewhere;
mod local;

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

    /// Returns true if and only if the target is this machine, so network checks
    /// (`http`, `addr`, `dns`) can run in-process and still see the target's view.
    fn is_local(&self) -> bool {
        false
    }
}

/// Opens a backend for a target URI: `local`, or a scheme a later backend adds.
pub fn connect(target: &str) -> Result<Box<dyn Backend>, ConnectError> {
    let scheme = target
        .split_once("://")
        .or_else(|| target.split_once(':'))
        .map_or(target, |(scheme, _)| scheme);
    match scheme {
        "local" => Ok(Box::new(Local::new())),
        "docker" | "ssh" | "image" => Err(ConnectError::NotYet(target.to_string())),
        _ => Err(ConnectError::UnknownScheme(target.to_string())),
    }
}

/// A target URI that names no backend this build has.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The scheme is not one ispec knows.
    #[error(
        "unknown target `{0}`: write `local`, `docker://CONTAINER` or `ssh://[USER@]HOST[:PORT]`"
    )]
    UnknownScheme(String),
    /// The scheme is known but this build cannot use it yet.
    #[error("target `{0}` needs a backend this build does not have yet; use `local`")]
    NotYet(String),
    /// The backend exists but the target could not be reached.
    #[error(transparent)]
    Backend(#[from] BackendError),
}
