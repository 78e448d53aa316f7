//! One live SSH connection shared by the threads of a run: every libssh2 call on it is
//! made under one lock, and each command runs on a channel of its own.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ssh2::{Channel, ErrorCode, Session};

use super::BackendError;
use crate::cmd::Output;

/// libssh2's "would block" in non-blocking mode.
const EAGAIN: i32 = -37;
/// libssh2's error when the server refuses to open a channel.
const CHANNEL_FAILURE: i32 = -21;

/// The prompt `sudo -S` is given, so ispec sees when it wants the password.
pub(super) const SUDO_PROMPT: &str = "[ispec-sudo-password]";
/// What the command run through `sudo -S` first writes to standard error: sudo let
/// it start.
pub(super) const SUDO_STARTED: &str = "[ispec-sudo-started]";

/// A logged-in session in non-blocking mode.
pub(super) struct Conn {
    session: Session,
    /// Held around every libssh2 call on the session, and while a channel is freed.
    /// `ssh2` serializes its own calls, but frees a channel without taking the
    /// session's lock (rust-lang/ssh2-rs#322): a channel dropped while another thread
    /// sends mixes two packets on the wire, and the server drops the connection ("Bad
    /// packet length").
    io: Mutex<()>,
    /// Held from opening a channel to its command's start. libssh2 keeps the state of
    /// a channel being opened in the session, and a thread waiting for the reply to
    /// its `exec` request that reads the reply meant for another channel gives up
    /// ("Failed waiting for channel success"): so one at a time.
    startup: Mutex<()>,
    /// How many channels are open. A server refuses channels past its limit
    /// (OpenSSH's `MaxSessions`, 10 unless set lower): while some are open, a
    /// refused one is waited for rather than an error.
    open: AtomicUsize,
}

impl Conn {
    /// Wraps a session that is logged in and non-blocking.
    pub(super) fn new(session: Session) -> Self {
        Self {
            session,
            io: Mutex::new(()),
            startup: Mutex::new(()),
            open: AtomicUsize::new(0),
        }
    }

    /// Runs one libssh2 call under the connection's lock.
    fn call<T>(&self, op: impl FnOnce() -> T) -> T {
        let _io = self.io.lock().unwrap_or_else(PoisonError::into_inner);
        op()
    }

    /// Calls a non-blocking libssh2 operation until it stops saying "would block".
    fn retry<T>(
        &self,
        deadline: Instant,
        mut op: impl FnMut() -> Result<T, ssh2::Error>,
    ) -> Result<T, Failure> {
        loop {
            match self.call(&mut op) {
                Ok(value) => return Ok(value),
                Err(e) if e.code() == ErrorCode::Session(EAGAIN) => pause(deadline)?,
                Err(e) => return Err(Failure::Ssh(e)),
            }
        }
    }

    /// Runs the shell command `line` on a new channel, feeding it `input`, and
    /// collects its output and exit status. With `sudo_password`, `line` runs a
    /// command through `sudo -S` as `Ssh::command_line` writes it.
    pub(super) fn run(
        &self,
        line: &str,
        input: Option<&[u8]>,
        sudo_password: Option<&str>,
        deadline: Instant,
    ) -> Result<Output, Failure> {
        let mut channel = {
            let _one = self.startup.lock().unwrap_or_else(PoisonError::into_inner);
            let mut channel = self.open_channel(deadline)?;
            if let Err(e) = self.retry(deadline, || channel.exec(line)) {
                self.dispose(channel);
                return Err(e);
            }
            channel
        };
        let ran = self.finish(&mut channel, input, sudo_password, deadline);
        self.dispose(channel);
        ran
    }

    /// Opens a session channel; when the server refuses it while this connection has
    /// others open, waits for one of them to close and asks again (for a moment after
    /// the last close, as the server frees a session only once it has seen the close).
    fn open_channel(&self, deadline: Instant) -> Result<Channel, Failure> {
        let mut grace: Option<Instant> = None;
        loop {
            let open = self.open.load(Ordering::SeqCst);
            match self.retry(deadline, || self.session.channel_session()) {
                Ok(channel) => {
                    self.open.fetch_add(1, Ordering::SeqCst);
                    return Ok(channel);
                }
                Err(Failure::Ssh(e))
                    if e.code() == ErrorCode::Session(CHANNEL_FAILURE)
                        && (open > 0 || grace.is_some_and(|g| Instant::now() < g)) =>
                {
                    while open > 0 && self.open.load(Ordering::SeqCst) >= open {
                        pause(deadline)?;
                    }
                    if open == 0 {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    grace = Some(Instant::now() + Duration::from_secs(2));
                }
                Err(failure) => return Err(failure),
            }
        }
    }

    /// Feeds a started command its input, then reads its output to the end.
    fn finish(
        &self,
        channel: &mut Channel,
        input: Option<&[u8]>,
        sudo_password: Option<&str>,
        deadline: Instant,
    ) -> Result<Output, Failure> {
        let (early_out, early_err) = match sudo_password {
            Some(password) => self.answer_sudo(channel, password, deadline)?,
            None => (Vec::new(), Vec::new()),
        };
        if let Some(input) = input {
            self.write_all(channel, input, deadline)?;
        }
        self.retry(deadline, || channel.send_eof())?;
        let (mut stdout, mut stderr) = self.drain(channel, deadline)?;
        stdout.splice(0..0, early_out);
        stderr.splice(0..0, early_err);
        self.retry(deadline, || channel.wait_close())?;
        let status = self.call(|| match channel.exit_signal() {
            Ok(signal) if signal.exit_signal.is_some() => Ok(None),
            _ => channel.exit_status().map(Some),
        });
        Ok(Output {
            status: status.map_err(Failure::Ssh)?,
            stdout,
            stderr,
        })
    }

    /// Writes `data` to the channel's standard input; stops early, without an error,
    /// if the program exits without reading it all.
    fn write_all(
        &self,
        channel: &mut Channel,
        data: &[u8],
        deadline: Instant,
    ) -> Result<(), Failure> {
        let mut sent = 0;
        while sent < data.len() {
            match self.call(|| channel.write(&data[sent..])) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => pause(deadline)?,
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// Until the command behind `sudo -S` starts: gives sudo the password when (and
    /// only if) it prompts for it. Returns what came on standard output and error
    /// before the command started (a chatty login shell, sudo's complaints), without
    /// sudo's prompts and the start marker. A second prompt (a wrong password) gets
    /// no answer: the end of input makes sudo give up.
    fn answer_sudo(
        &self,
        channel: &mut Channel,
        password: &str,
        deadline: Instant,
    ) -> Result<(Vec<u8>, Vec<u8>), Failure> {
        let (mut out, mut kept, mut pending) = (Vec::new(), Vec::new(), Vec::new());
        let mut answered = false;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(at) = find(&pending, SUDO_STARTED.as_bytes()) {
                kept.extend_from_slice(&pending[..at]);
                // The marker's line, newline included.
                let end = (at + SUDO_STARTED.len() + 1).min(pending.len());
                kept.extend_from_slice(&pending[end..]);
                return Ok((out, kept));
            }
            if let Some(at) = find(&pending, SUDO_PROMPT.as_bytes()) {
                kept.extend_from_slice(&pending[..at]);
                pending.drain(..at + SUDO_PROMPT.len());
                if answered {
                    kept.append(&mut pending);
                    return Ok((out, kept));
                }
                self.write_all(channel, format!("{password}\n").as_bytes(), deadline)?;
                answered = true;
                continue;
            }
            let progressed = self.read_turn(channel, &mut buf, [&mut out, &mut pending])?;
            if !progressed {
                // sudo ended without starting the command.
                if self.call(|| channel.eof()) {
                    kept.append(&mut pending);
                    return Ok((out, kept));
                }
                pause(deadline)?;
            }
        }
    }

    /// Reads a channel's standard output and error to their ends, taking turns, so a
    /// program that fills one while ispec waits on the other never stalls.
    fn drain(
        &self,
        channel: &mut Channel,
        deadline: Instant,
    ) -> Result<(Vec<u8>, Vec<u8>), Failure> {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut buf = [0u8; 16 * 1024];
        loop {
            if !self.read_turn(channel, &mut buf, [&mut stdout, &mut stderr])? {
                if self.call(|| channel.eof()) {
                    return Ok((stdout, stderr));
                }
                pause(deadline)?;
            }
        }
    }

    /// Reads what is there of standard output, then of standard error, into `into`;
    /// returns true if anything came.
    fn read_turn(
        &self,
        channel: &mut Channel,
        buf: &mut [u8],
        into: [&mut Vec<u8>; 2],
    ) -> Result<bool, Failure> {
        let mut progressed = false;
        for (stream, out) in into.into_iter().enumerate() {
            let read = self.call(|| {
                channel
                    .stream(i32::try_from(stream).unwrap_or_default())
                    .read(buf)
                    .map_err(|e| self.io_failure(e))
            });
            match read {
                Ok(n) if n > 0 => {
                    out.extend_from_slice(&buf[..n]);
                    progressed = true;
                }
                // Nothing yet, or "would block".
                Ok(_) | Err(None) => {}
                Err(Some(failure)) => return Err(failure),
            }
        }
        Ok(progressed)
    }

    /// What an I/O error of a channel read means: `None` for "would block", else the
    /// libssh2 error behind it (`ssh2` keeps only its message in the `io::Error`), so
    /// a dropped connection is told from other failures. Called under the lock, right
    /// after the failed call.
    fn io_failure(&self, e: std::io::Error) -> Option<Failure> {
        if e.kind() == std::io::ErrorKind::WouldBlock {
            return None;
        }
        Some(ssh2::Error::last_session_error(&self.session).map_or(Failure::Io(e), Failure::Ssh))
    }

    /// Closes a channel and frees it under the lock (see `io`). The close is waited
    /// for briefly: once its message is sent the channel may go, and a command that
    /// timed out may never answer it.
    fn dispose(&self, mut channel: Channel) {
        let deadline = Instant::now() + Duration::from_millis(200);
        let _ = self.retry(deadline, || channel.close());
        self.call(|| drop(channel));
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Why one attempt at a command failed.
pub(super) enum Failure {
    /// The time limit passed.
    Timeout,
    /// libssh2 reported an error: the connection may be gone.
    Ssh(ssh2::Error),
    /// Reading the output failed.
    Io(std::io::Error),
}

impl Failure {
    /// True if the connection itself failed (dropped, reset), so a new one may help.
    pub(super) fn is_connection(&self) -> bool {
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

    /// The backend error for a command on `target` that failed this way.
    pub(super) fn into_error(self, target: &str, timeout: Duration) -> BackendError {
        match self {
            Self::Timeout => BackendError::Timeout(timeout),
            Self::Ssh(e) => BackendError::Failed(format!("ssh to `{target}`: {e}")),
            Self::Io(e) => BackendError::Failed(format!("ssh to `{target}`: {e}")),
        }
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
