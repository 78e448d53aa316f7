//! [`Target`]: where checks run, and how it is reached.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::RunError;
use crate::backend::docker::{ContainerSpec, Owned};
use crate::backend::{self, Backend, ConnectError, ConnectOptions, TargetSpec};

/// Where checks run: a planned target and how to reach it, as the `ispec` command
/// line has them.
#[derive(Clone, Debug)]
pub struct Target {
    spec: TargetSpec,
    options: ConnectOptions,
}

impl Target {
    fn of(spec: TargetSpec) -> Self {
        Self {
            spec,
            options: ConnectOptions::default(),
        }
    }

    /// The machine this program runs on.
    pub fn local() -> Self {
        Self::of(TargetSpec::Uri("local".into()))
    }

    /// A running Docker container, by name or id (`docker://NAME`).
    pub fn container(name_or_id: impl Into<String>) -> Self {
        Self::of(TargetSpec::Uri(format!("docker://{}", name_or_id.into())))
    }

    /// A throwaway container started from `image`, made ready (its `HEALTHCHECK`,
    /// when it has one; see [`Target::wait_port`]) and removed when the run ends.
    pub fn image(image: impl Into<String>) -> Self {
        Self::image_with(ContainerSpec {
            image: image.into(),
            ..ContainerSpec::default()
        })
    }

    /// A throwaway container described in full (environment, ports, volumes, ...).
    pub fn image_with(spec: ContainerSpec) -> Self {
        Self::of(TargetSpec::Image(Box::new(spec)))
    }

    /// A host over SSH: `ssh://[USER@]HOST[:PORT]` (or `[USER@]HOST[:PORT]`), logged in
    /// as the `ispec` command line would (agent, `~/.ssh` keys, `~/.ssh/config`).
    pub fn ssh(uri: impl Into<String>) -> Self {
        let uri = uri.into();
        let uri = if uri.starts_with("ssh://") {
            uri
        } else {
            format!("ssh://{uri}")
        };
        Self::of(TargetSpec::Uri(uri))
    }

    /// Runs a container target's checks as `user` (`docker exec --user`).
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> Self {
        match &mut self.spec {
            TargetSpec::Image(spec) => spec.user = Some(user.into()),
            _ => self.options.user = Some(user.into()),
        }
        self
    }

    /// A throwaway container is ready once something listens on `port` in it.
    #[must_use]
    pub fn wait_port(mut self, port: u16) -> Self {
        if let TargetSpec::Image(spec) = &mut self.spec {
            spec.wait.port = Some(port);
        }
        self
    }

    /// A throwaway container also carries the label `KEY=VALUE` (as `--label`).
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        if let TargetSpec::Image(spec) = &mut self.spec {
            spec.labels.push(label.into());
        }
        self
    }

    /// An SSH target logs in with this key file first.
    #[must_use]
    pub fn identity(mut self, key: impl Into<PathBuf>) -> Self {
        self.options.ssh.identities.push(key.into());
        self
    }

    /// An SSH target checks host keys against this file instead of
    /// `~/.ssh/known_hosts`.
    #[must_use]
    pub fn known_hosts(mut self, file: impl Into<PathBuf>) -> Self {
        self.options.ssh.known_hosts = Some(file.into());
        self
    }

    /// An SSH target whose host key is not known yet is trusted and recorded.
    #[must_use]
    pub fn accept_new_host_key(mut self) -> Self {
        self.options.ssh.accept_new_host_keys = true;
        self
    }

    /// An SSH target runs its checks through `sudo`.
    #[must_use]
    pub fn sudo(mut self) -> Self {
        self.options.ssh.sudo = true;
        self
    }

    /// The target as reports name it: `local`, `docker://NAME`, `image:IMAGE`, `ssh://…`.
    pub fn name(&self) -> String {
        self.spec.name()
    }

    /// Reaches the target (starting a throwaway container, registered in `owned`).
    pub(super) fn connect(&self, owned: &Arc<Owned>) -> Result<Box<dyn Backend>, RunError> {
        backend::reach(&self.spec, &self.options, owned, &|_| {}).map_err(|e| match e {
            ConnectError::Backend(e) => RunError::Unreachable(e),
            other => RunError::BadTarget(other.to_string()),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
