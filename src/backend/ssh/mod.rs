//! SSH hosts through libssh2 (`ssh2`): one connection per host, reused by every check
//! of the run, its channels multiplexed so a slow check does not hold the others.
//!
//! `ssh://[USER@]HOST[:PORT]`, completed from `~/.ssh/config` (HostName, User, Port,
//! IdentityFile, ProxyJump). Host keys are checked against `known_hosts`; logins try
//! the agent, then identity files, then a password from `ISPEC_SSH_PASSWORD`.

mod conn;
mod connect;
mod host_key;
mod login;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{Backend, BackendError};
use crate::cmd::{Cmd, Output};
use conn::{Conn, Failure, SUDO_PROMPT, SUDO_STARTED};

pub use connect::{Dest, check_target, parse_target};

/// The environment variable that tags each command's processes (see `Ssh::stop`).
const TAG_VAR: &str = "ISPEC_CHECK";

/// A tag no other command of any run shares: this process, a count, the time.
fn next_tag() -> String {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{n}-{nanos:x}", std::process::id())
}

/// Environment variable holding the password for password logins.
pub const PASSWORD_ENV: &str = "ISPEC_SSH_PASSWORD";
/// Environment variable holding the passphrase of encrypted identity files.
pub const PASSPHRASE_ENV: &str = "ISPEC_SSH_PASSPHRASE";
/// Environment variable holding the password `sudo` asks for, with `--sudo`.
pub const SUDO_PASSWORD_ENV: &str = "ISPEC_SUDO_PASSWORD";

/// How SSH targets are reached.
#[derive(Clone, Debug)]
pub struct SshOptions {
    /// Identity files to try (after the agent), before those of the SSH config.
    pub identities: Vec<PathBuf>,
    /// The OpenSSH client config; `~/.ssh/config` when `None` (if it exists).
    pub config: Option<PathBuf>,
    /// The known hosts file; `~/.ssh/known_hosts` when `None`.
    pub known_hosts: Option<PathBuf>,
    /// Accept (and record) the key of a host not in known hosts, for freshly booted
    /// instances. A *changed* key is refused all the same.
    pub accept_new_host_keys: bool,
    /// Run every command through `sudo`.
    pub sudo: bool,
    /// How long connecting and logging in may take.
    pub connect_timeout: Duration,
}

impl Default for SshOptions {
    fn default() -> Self {
        Self {
            identities: Vec::new(),
            config: None,
            known_hosts: None,
            accept_new_host_keys: false,
            sudo: false,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// An SSH host.
pub struct Ssh {
    target: String,
    dest: Dest,
    options: SshOptions,
    state: Mutex<State>,
}

impl std::fmt::Debug for Ssh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ssh")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// The live connection, or why there is none any more.
struct State {
    conn: Arc<Conn>,
    /// Counts reconnections, so several checks that saw the same connection drop
    /// reconnect once.
    generation: u64,
    /// Set when a dropped connection could not be made again: every later check of
    /// this host is an error with this cause.
    dead: Option<String>,
}

impl Ssh {
    /// Connects and logs in to `target` (`ssh://[USER@]HOST[:PORT]`).
    pub fn connect(target: &str, options: &SshOptions) -> Result<Self, BackendError> {
        let dest = parse_target(target, options)?;
        let conn = Conn::new(connect::open(&dest, options)?);
        Ok(Self {
            target: target.to_string(),
            dest,
            options: options.clone(),
            state: Mutex::new(State {
                conn: Arc::new(conn),
                generation: 0,
                dead: None,
            }),
        })
    }

    fn conn(&self) -> Result<(Arc<Conn>, u64), BackendError> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cause) = &state.dead {
            return Err(self.unreachable(cause.clone()));
        }
        Ok((Arc::clone(&state.conn), state.generation))
    }

    /// Connects again after the connection of `generation` dropped; once, however many
    /// checks saw it drop.
    fn reconnect(&self, generation: u64) -> Result<(), BackendError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cause) = &state.dead {
            return Err(self.unreachable(cause.clone()));
        }
        if state.generation != generation {
            return Ok(());
        }
        match connect::open(&self.dest, &self.options) {
            Ok(session) => {
                state.conn = Arc::new(Conn::new(session));
                state.generation += 1;
                Ok(())
            }
            Err(e) => {
                let e = match e {
                    BackendError::Unreachable { cause, .. } => cause,
                    other => other.to_string(),
                };
                let cause = format!("the connection dropped and could not be made again: {e}");
                state.dead = Some(cause.clone());
                Err(self.unreachable(cause))
            }
        }
    }

    fn unreachable(&self, cause: String) -> BackendError {
        BackendError::Unreachable {
            target: self.target.clone(),
            cause,
        }
    }

    /// The command line the remote shell runs: in the C locale (parsers read the
    /// tools' English messages) with the `sbin` folders on `PATH` (where `ip`,
    /// `sysctl` and `service` live), through `sudo` when asked; and the password
    /// `sudo` gets if it asks for one.
    ///
    /// The command's environment carries `ISPEC_CHECK=TAG`, by which a command that
    /// outlives its time limit (and what it started) is found and stopped.
    fn command_line(&self, cmd: &Cmd, tag: &str) -> (String, Option<String>) {
        let line = cmd.to_shell_line();
        if !self.options.sudo {
            return (
                format!(
                    "export LC_ALL=C {TAG_VAR}={tag} PATH=\"$PATH:/usr/local/sbin:/usr/sbin:/sbin\"; exec {line}"
                ),
                None,
            );
        }
        // sudo's `secure_path` has the sbin folders; `env` sets the locale (and the
        // tag) past sudo's reset of the environment.
        match std::env::var(SUDO_PASSWORD_ENV) {
            // `sudo -S` reads a password only when it wants one: sent blindly, the
            // password would be the command's input wherever sudo does not ask
            // (NOPASSWD). So it is sent only after sudo's prompt, and the command's
            // input only once a marker says the command started (see `Conn::run`).
            Ok(password) => (
                format!(
                    "sudo -S -p '{SUDO_PROMPT}' -- /bin/sh -c 'echo {SUDO_STARTED} >&2; exec \"$@\"' ispec env LC_ALL=C {TAG_VAR}={tag} {line}"
                ),
                Some(password),
            ),
            Err(_) => (
                format!("sudo -n -- env LC_ALL=C {TAG_VAR}={tag} {line}"),
                None,
            ),
        }
    }

    /// Stops the processes of a command that outlived its time limit: sshd does not
    /// when the channel closes. They are found by the tag in their environment (which
    /// children inherit), and killed as the user (or root, with `--sudo`) ran them.
    fn stop(&self, conn: &Conn, tag: &str) {
        let script = format!(
            "for p in /proc/[0-9]*; do grep -qsxz '{TAG_VAR}={tag}' \"$p/environ\" && kill -KILL \"${{p#/proc/}}\" 2>/dev/null; done; true"
        );
        let (line, password) = self.command_line(&Cmd::shell(script), &next_tag());
        let deadline = Instant::now() + Duration::from_secs(5);
        let _ = conn.run(&line, None, password.as_deref(), deadline);
    }

    /// What a finished command's output says about ispec's own use of the host.
    fn judge(&self, cmd: &Cmd, out: Output) -> Result<Output, BackendError> {
        let err = out.stderr_text();
        if self.options.sudo && out.status == Some(1) {
            let target = &self.target;
            let refused = if err.contains("incorrect password") {
                Some(format!(
                    "sudo on `{target}` refused the password in {SUDO_PASSWORD_ENV}"
                ))
            } else if err.contains("a password is required") {
                Some(format!(
                    "sudo on `{target}` wants a password: set {SUDO_PASSWORD_ENV}, or allow the user to run sudo without one (NOPASSWD)"
                ))
            } else if err.contains("is not in the sudoers file")
                || err.contains("is not allowed to execute")
            {
                Some(format!(
                    "`{}` may not use sudo on `{target}`: {}",
                    self.dest.user,
                    err.trim()
                ))
            } else {
                None
            };
            if let Some(why) = refused {
                return Err(BackendError::Denied(why));
            }
        }
        // The login shell did not find sudo (bash: "sudo: command not found", dash:
        // "sudo: not found").
        if self.options.sudo
            && out.status == Some(127)
            && (err.contains("sudo: command not found") || err.contains("sudo: not found"))
        {
            return Err(BackendError::ToolMissing("sudo".to_string()));
        }
        // The shell (or `env`) could not find the program itself; a program that
        // exits 127 for reasons of its own says something else.
        let program = cmd.program();
        if out.status == Some(127)
            && err.contains(program)
            && (err.contains("not found") || err.contains("No such file"))
        {
            return Err(BackendError::ToolMissing(program.to_string()));
        }
        Ok(out)
    }
}

impl Backend for Ssh {
    fn target(&self) -> &str {
        &self.target
    }

    fn transport(&self) -> super::Transport {
        super::Transport::Ssh
    }

    fn exec(&self, cmd: &Cmd, timeout: Duration) -> Result<Output, BackendError> {
        let deadline = Instant::now() + timeout;
        let tag = next_tag();
        let (line, password) = self.command_line(cmd, &tag);
        let sudo = password.as_deref();
        let (mut conn, generation) = self.conn()?;
        let mut ran = conn.run(&line, cmd.input(), sudo, deadline);
        if matches!(&ran, Err(failure) if failure.is_connection()) {
            // A dropped connection is made again once; then the command is tried
            // again on it.
            self.reconnect(generation)?;
            conn = self.conn()?.0;
            ran = conn.run(&line, cmd.input(), sudo, deadline);
        }
        match ran {
            Ok(out) => self.judge(cmd, out),
            Err(Failure::Timeout) => {
                self.stop(&conn, &tag);
                Err(Failure::Timeout.into_error(&self.target, timeout))
            }
            Err(failure) => Err(failure.into_error(&self.target, timeout)),
        }
    }
}
