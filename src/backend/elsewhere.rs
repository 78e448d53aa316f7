//! A test backend: this machine dressed as another target, so the command paths that
//! a Docker or SSH target would take (`curl`, `getent`, ...) run for real in unit tests.

use std::time::Duration;

use super::{Backend, BackendError, Local};
use crate::cmd::{Cmd, Output};

/// Runs commands locally but is not [`Backend::is_local`].
pub(crate) struct Elsewhere;

impl Backend for Elsewhere {
    fn target(&self) -> &'static str {
        "test://elsewhere"
    }

    fn exec(&self, cmd: &Cmd, timeout: Duration) -> Result<Output, BackendError> {
        Local::new().exec(cmd, timeout)
    }
}
