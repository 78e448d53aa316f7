//! The flags that say how targets are reached: throwaway containers and checks in
//! containers (`--image`, `--env`, `--wait-*`, ...) and SSH hosts (`--identity`,
//! `--sudo`, ...). `run` has both; `add` has the SSH ones.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::backend::docker::{ContainerSpec, Wait, parse_port};

/// How `ssh://` targets are reached.
#[derive(Debug, Args)]
#[command(next_help_heading = "SSH")]
pub(super) struct SshArgs {
    /// An identity (private key) file to log in with, tried after the agent (repeatable).
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    pub(super) identities: Vec<PathBuf>,
    /// The OpenSSH client config to read [default: ~/.ssh/config].
    #[arg(long, value_name = "FILE")]
    pub(super) ssh_config: Option<PathBuf>,
    /// The known hosts file to check host keys against [default: ~/.ssh/known_hosts].
    #[arg(long, value_name = "FILE")]
    pub(super) known_hosts: Option<PathBuf>,
    /// Accept and record the host key of a host not in known hosts (a changed key is
    /// still refused).
    #[arg(long)]
    pub(super) accept_new_host_key: bool,
    /// Run every check's commands as root through `sudo` (password: ISPEC_SUDO_PASSWORD).
    #[arg(long)]
    pub(super) sudo: bool,
    /// How long connecting and logging in to a host may take.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::spec::parse_duration)]
    pub(super) connect_timeout: Duration,
}

impl SshArgs {
    pub(super) fn options(&self) -> crate::backend::ssh::SshOptions {
        crate::backend::ssh::SshOptions {
            identities: self.identities.clone(),
            config: self.ssh_config.clone(),
            known_hosts: self.known_hosts.clone(),
            accept_new_host_keys: self.accept_new_host_key,
            sudo: self.sudo,
            connect_timeout: self.connect_timeout,
        }
    }
}

/// Throwaway containers (`--image`) and how checks run in containers.
#[derive(Debug, Args)]
#[command(next_help_heading = "Containers")]
pub(super) struct ContainerArgs {
    /// Start a throwaway container from IMAGE, check it, remove it (repeatable).
    #[arg(long = "image", value_name = "IMAGE")]
    pub(super) images: Vec<String>,
    /// Set an environment variable in the container; `KEY` alone passes this machine's
    /// value (repeatable).
    #[arg(short, long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub(super) env: Vec<String>,
    /// Replace the image's command, split like a shell would, e.g. `"nginx -g 'daemon off;'"`.
    #[arg(long, value_name = "COMMAND")]
    pub(super) cmd: Option<String>,
    /// Replace the image's entrypoint, split like a shell would.
    #[arg(long, value_name = "COMMAND")]
    pub(super) entrypoint: Option<String>,
    /// Run checks (and a throwaway container) as this user, e.g. `www-data` or `1000:1000`.
    #[arg(short, long, value_name = "USER")]
    pub(super) user: Option<String>,
    /// Publish a port: `80`, `8080:80`, `IP:8080:80/udp`; on 127.0.0.1 unless an IP is given.
    #[arg(short, long = "publish", value_name = "PORT", value_parser = parse_publish)]
    pub(super) publish: Vec<String>,
    /// Mount a volume or folder: `SOURCE:DEST[:ro]` (repeatable).
    #[arg(short, long = "volume", value_name = "SRC:DEST")]
    pub(super) volumes: Vec<String>,
    /// Mount a tmpfs: `DEST[:OPTIONS]` (repeatable).
    #[arg(long, value_name = "DEST")]
    pub(super) tmpfs: Vec<String>,
    /// Run the throwaway container privileged.
    #[arg(long)]
    pub(super) privileged: bool,
    /// Add a label to throwaway containers, e.g. the CI job's id (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub(super) labels: Vec<String>,
    /// Before checking, wait until this TCP port listens inside the container.
    #[arg(long, value_name = "PORT")]
    pub(super) wait_port: Option<u16>,
    /// Before checking, wait until the container prints a line containing TEXT.
    #[arg(long, value_name = "TEXT")]
    pub(super) wait_log: Option<String>,
    /// Before checking, wait for the image's HEALTHCHECK to pass (the default when it
    /// has one and nothing else is waited for); `--wait-health=false` skips it.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub(super) wait_health: Option<bool>,
    /// How long the container may take to become ready [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = crate::spec::parse_duration)]
    pub(super) wait_within: Option<Duration>,
    /// Leave throwaway containers running afterwards, and print how to get in.
    #[arg(long)]
    pub(super) keep: bool,
}

impl ContainerArgs {
    /// The throwaway container for `image`, as the flags shape it.
    pub(super) fn spec(&self, image: &str) -> Result<ContainerSpec, String> {
        let split = |flag: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| shell_words::split(t).map_err(|e| format!("`--{flag}`: {e}")))
                .transpose()
        };
        Ok(ContainerSpec {
            image: image.to_string(),
            env: self.env.clone(),
            cmd: split("cmd", &self.cmd)?,
            entrypoint: split("entrypoint", &self.entrypoint)?,
            user: self.user.clone(),
            ports: self.publish.clone(),
            volumes: self.volumes.clone(),
            tmpfs: self.tmpfs.clone(),
            privileged: self.privileged,
            labels: self.labels.clone(),
            wait: Wait {
                port: self.wait_port,
                log: self.wait_log.clone(),
                health: self.wait_health,
                within: self.wait_within.unwrap_or(Wait::default().within),
            },
            keep: self.keep,
            ..ContainerSpec::default()
        })
    }

    /// Applies the flags to a suite's image target: lists (env, ports, volumes, tmpfs,
    /// labels) add to what the suite says, the rest replace it when given.
    pub(super) fn apply(&self, spec: &mut ContainerSpec) -> Result<(), String> {
        let flags = self.spec(&spec.image)?;
        spec.env.extend(flags.env);
        spec.ports.extend(flags.ports);
        spec.volumes.extend(flags.volumes);
        spec.tmpfs.extend(flags.tmpfs);
        spec.labels.extend(flags.labels);
        spec.cmd = flags.cmd.or(spec.cmd.take());
        spec.entrypoint = flags.entrypoint.or(spec.entrypoint.take());
        spec.user = flags.user.or(spec.user.take());
        spec.privileged |= flags.privileged;
        spec.keep |= flags.keep;
        spec.wait.port = flags.wait.port.or(spec.wait.port);
        spec.wait.log = flags.wait.log.or(spec.wait.log.take());
        spec.wait.health = flags.wait.health.or(spec.wait.health);
        if let Some(within) = self.wait_within {
            spec.wait.within = within;
        }
        Ok(())
    }
}

fn parse_label(s: &str) -> Result<String, String> {
    match s.split_once('=') {
        Some((key, _)) if !key.is_empty() => Ok(s.to_string()),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

/// `KEY=VALUE`, or `KEY` alone for this machine's value of it (as `docker run -e`).
fn parse_env(s: &str) -> Result<String, String> {
    match s.split_once('=') {
        Some((key, _)) if !key.is_empty() => Ok(s.to_string()),
        None if !s.is_empty() => std::env::var(s)
            .map(|value| format!("{s}={value}"))
            .map_err(|_| format!("`{s}` is not set here; write `{s}=VALUE`")),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

fn parse_publish(s: &str) -> Result<String, String> {
    parse_port(s).map(|_| s.to_string())
}
