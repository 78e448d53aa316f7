//! SSH hosts through libssh2 (`ssh2`): one connection per host, reused by every check
//! of the run, its channels multiplexed so a slow check does not hold the others.
//!
//! `ssh://[USER@]HOST[:PORT]`, completed from `~/.ssh/config` (HostName, User, Port,
//! IdentityFile, ProxyJump). Host keys are checked against `known_hosts`; logins try
//! the agent, then identity files, then a password from `ISPEC_SSH_PASSWORD`.

mod connect;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ssh2::{Channel, ErrorCode, Session};

use super::{Backend, BackendError};
use crate::cmd::{Cmd, Output};

pub use connect::{Dest, parse_target};

/// Environment variable holding the password for password logins.
pub const PASSWORD_ENV: &str = "ISPEC_SSH_PASSWORD";
/// Environment variable holding the passphrase of encrypted identity files.
pub const PASSPHRASE_ENV: &str = "ISPEC_SSH_PASSPHRASE";
/// Environment variable holding the password `sudo` asks for, with `--sudo`.
pub const SUDO_PASSWORD_ENV: &str = "ISPEC_SUDO_PASSWORD";

/// libssh2's "would block" in non-blocking mode.
const EAGAIN: i32 = -37;

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
    session: Arc<Session>,
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
        let session = connect::open(&dest, options)?;
        Ok(Self {
            target: target.to_string(),
            dest,
            options: options.clone(),
            state: Mutex::new(State {
                session: Arc::new(session),
                generation: 0,
                dead: None,
            }),
        })
    }

    fn session(&self) -> Result<(Arc<Session>, u64), BackendError> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cause) = &state.dead {
            return Err(self.unreachable(cause.clone()));
        }
        Ok((Arc::clone(&state.session), state.generation))
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
                state.session = Arc::new(session);
                state.generation += 1;
                Ok(())
            }
            Err(e) => {
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
    /// `sysctl` and `service` live), through `sudo` when asked.
    fn command_line(&self, cmd: &Cmd) -> (String, Option<Vec<u8>>) {
        let line = cmd.to_shell_line();
        if !self.options.sudo {
            return (
                format!(
                    "export LC_ALL=C PATH=\"$PATH:/usr/local/sbin:/usr/sbin:/sbin\"; exec {line}"
                ),
                cmd.input().map(<[u8]>::to_vec),
            );
        }
        // sudo's `secure_path` has the sbin folders; `env` sets the locale past
        // sudo's reset of the environment.
        match std::env::var(SUDO_PASSWORD_ENV) {
            Ok(password) => {
                let mut input = format!("{password}\n").into_bytes();
                input.extend_from_slice(cmd.input().unwrap_or_default());
                (format!("sudo -S -p '' -- env LC_ALL=C {line}"), Some(input))
            }
            Err(_) => (
                format!("sudo -n -- env LC_ALL=C {line}"),
                cmd.input().map(<[u8]>::to_vec),
            ),
        }
    }

    fn exec_once(
        &self,
        session: &Session,
        cmd: &Cmd,
        deadline: Instant,
    ) -> Result<Output, Failure> {
        let (line, input) = self.command_line(cmd);
        let mut channel = retry(deadline, || session.channel_session())?;
        retry(deadline, || channel.exec(&line))?;
        if let Some(input) = input {
            let mut sent = 0;
            while sent < input.len() {
                match channel.write(&input[sent..]) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => pause(deadline)?,
                    // The program exited without reading all of its input.
                    Err(_) => break,
                }
            }
        }
        retry(deadline, || channel.send_eof())?;
        let (stdout, stderr) = drain(&mut channel, deadline)?;
        retry(deadline, || channel.wait_close())?;
        let status = match channel.exit_signal() {
            Ok(signal) if signal.exit_signal.is_some() => None,
            _ => Some(channel.exit_status().map_err(Failure::Ssh)?),
        };
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// What a finished command's output says about ispec's own use of the host.
    fn judge(&self, cmd: &Cmd, out: Output) -> Result<Output, BackendError> {
        let err = out.stderr_text();
        if self.options.sudo
            && out.status == Some(1)
            && (err.contains("a password is required") || err.contains("incorrect password"))
        {
            return Err(BackendError::Denied(format!(
                "sudo on `{}` wants a password: set {SUDO_PASSWORD_ENV}, or allow the user to run sudo without one (NOPASSWD)",
                self.target
            )));
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

/// Why one attempt at a command failed.
enum Failure {
    /// The time limit passed.
    Timeout,
    /// libssh2 reported an error: the connection may be gone.
    Ssh(ssh2::Error),
    /// Reading the output failed.
    Io(std::io::Error),
}

impl Failure {
    /// True if the connection itself failed (dropped, reset), so a new one may help.
    fn is_connection(&self) -> bool {
        match self {
            Self::Ssh(e) => matches!(
                e.code(),
                // SOCKET_SEND, SOCKET_DISCONNECT, SOCKET_TIMEOUT, SOCKET_RECV, and
                // channel or session failures that follow a dead transport.
                ErrorCode::Session(-7 | -13 | -30 | -43 | -21 | -22 | -34)
            ),
            Self::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::NotConnected
            ),
            Self::Timeout => false,
        }
    }

    fn into_error(self, target: &str, timeout: Duration) -> BackendError {
        match self {
            Self::Timeout => BackendError::Timeout(timeout),
            Self::Ssh(e) => BackendError::Failed(format!("ssh to `{target}`: {e}")),
            Self::Io(e) => BackendError::Failed(format!("ssh to `{target}`: {e}")),
        }
    }
}

impl From<ssh2::Error> for Failure {
    fn from(e: ssh2::Error) -> Self {
        Self::Ssh(e)
    }
}

/// Waits a moment before a non-blocking call is tried again, or gives up at `deadline`.
fn pause(deadline: Instant) -> Result<(), Failure> {
    if Instant::now() >= deadline {
        return Err(Failure::Timeout);
    }
    std::thread::sleep(Duration::from_micros(500));
    Ok(())
}

/// Calls a non-blocking libssh2 operation until it stops saying "would block".
fn retry<T>(
    deadline: Instant,
    mut op: impl FnMut() -> Result<T, ssh2::Error>,
) -> Result<T, Failure> {
    loop {
        match op() {
            Ok(value) => return Ok(value),
            Err(e) if e.code() == ErrorCode::Session(EAGAIN) => pause(deadline)?,
            Err(e) => return Err(Failure::Ssh(e)),
        }
    }
}

/// Reads a channel's standard output and error to their ends, taking turns, so a
/// program that fills one while ispec waits on the other never stalls.
fn drain(channel: &mut Channel, deadline: Instant) -> Result<(Vec<u8>, Vec<u8>), Failure> {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut buf = [0u8; 16 * 1024];
    loop {
        let mut progressed = false;
        match channel.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                stdout.extend_from_slice(&buf[..n]);
                progressed = true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(Failure::Io(e)),
        }
        match channel.stderr().read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                stderr.extend_from_slice(&buf[..n]);
                progressed = true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(Failure::Io(e)),
        }
        if !progressed {
            if channel.eof() {
                return Ok((stdout, stderr));
            }
            pause(deadline)?;
        }
    }
}

impl Backend for Ssh {
    fn target(&self) -> &str {
        &self.target
    }

    fn exec(&self, cmd: &Cmd, timeout: Duration) -> Result<Output, BackendError> {
        let deadline = Instant::now() + timeout;
        let (session, generation) = self.session()?;
        let out = match self.exec_once(&session, cmd, deadline) {
            Ok(out) => out,
            Err(failure) if failure.is_connection() => {
                // A dropped connection is made again once; then the command is tried
                // again on it.
                self.reconnect(generation)?;
                let (session, _) = self.session()?;
                self.exec_once(&session, cmd, deadline)
                    .map_err(|f| f.into_error(&self.target, timeout))?
            }
            Err(failure) => return Err(failure.into_error(&self.target, timeout)),
        };
        self.judge(cmd, out)
    }
}
