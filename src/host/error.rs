//! [`ProbeError`]: why a fact could not be gathered.

use std::time::Duration;

use crate::backend::BackendError;

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
    /// The target went away (a container stopped, a host dropped the connection and
    /// took no new one): no retry can mend it.
    #[error("{0}")]
    Gone(String),
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
            e @ BackendError::Unreachable { .. } => Self::Gone(e.to_string()),
            other => Self::Failed(other.to_string()),
        }
    }
}
