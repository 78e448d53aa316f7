//! The local machine: programs run with `std::process`, files read with `std::fs`.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::Duration;

use wait_timeout::ChildExt;

use super::{Backend, BackendError};
use crate::cmd::{Cmd, Output};

/// The machine ispec runs on.
#[derive(Debug, Default)]
pub struct Local;

impl Local {
    /// The local backend.
    pub fn new() -> Self {
        Self
    }
}

impl Backend for Local {
    fn target(&self) -> &'static str {
        "local"
    }

    fn exec(&self, cmd: &Cmd, timeout: Duration) -> Result<Output, BackendError> {
        let mut child = Command::new(cmd.program())
            .args(cmd.argv_tail())
            .stdin(if cmd.input().is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Tools' messages (`No such file`, `Permission denied`) are read by
            // parsers; the C locale keeps them in English on every machine.
            .env("LC_ALL", "C")
            // Its own process group, so a timeout can stop the children it started too.
            .process_group(0)
            .spawn()
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => BackendError::ToolMissing(cmd.program().to_string()),
                ErrorKind::PermissionDenied => {
                    BackendError::Denied(format!("cannot run `{}`", cmd.program()))
                }
                _ => BackendError::Failed(format!("cannot run `{}`: {e}", cmd.program())),
            })?;
        if let (Some(input), Some(mut stdin)) = (cmd.input(), child.stdin.take()) {
            let input = input.to_vec();
            thread::spawn(move || {
                // A program that exits without reading its input is not an error.
                let _ = stdin.write_all(&input);
            });
        }
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let status = match child.wait_timeout(timeout) {
            Ok(Some(status)) => status,
            Ok(None) => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                return Err(BackendError::Timeout(timeout));
            }
            Err(e) => return Err(BackendError::Failed(format!("waiting for `{cmd}`: {e}"))),
        };
        Ok(Output {
            status: status.code(),
            stdout: stdout.collect(),
            stderr: stderr.collect(),
        })
    }

    fn read_file(&self, path: &str, _timeout: Duration) -> Result<Vec<u8>, BackendError> {
        std::fs::read(path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => BackendError::NotFound(path.to_string()),
            ErrorKind::PermissionDenied => BackendError::Denied(format!("cannot read `{path}`")),
            _ => BackendError::Failed(format!("cannot read `{path}`: {e}")),
        })
    }

    fn is_local(&self) -> bool {
        true
    }
}

/// How long output is still gathered after the command exited. A program that leaves a
/// child behind (`nginx` daemonizing, `sleep 60 &`) passes it the pipe, which then never
/// closes; what was written until the grace ran out is the output.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// A pipe read on its own thread into a shared buffer.
struct Drain {
    buf: Arc<Mutex<Vec<u8>>>,
    closed: mpsc::Receiver<()>,
}

impl Drain {
    /// What was read once the pipe closed, or once [`EXIT_GRACE`] ran out.
    fn collect(self) -> Vec<u8> {
        let _ = self.closed.recv_timeout(EXIT_GRACE);
        std::mem::take(&mut *self.buf.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Drain {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let (tx, closed) = mpsc::channel();
    let shared = Arc::clone(&buf);
    thread::spawn(move || {
        if let Some(mut pipe) = pipe {
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(&chunk[..n]);
            }
        }
        let _ = tx.send(());
    });
    Drain { buf, closed }
}

/// Stops every process of the group a timed-out command started.
fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .arg("-KILL")
        .arg("--")
        .arg(format!("-{pid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(10);

    #[test]
    fn runs_argv_and_captures_output() {
        let out = Local
            .exec(&Cmd::new("printf").arg("%s|").arg("a b"), T)
            .unwrap();
        assert_eq!(out.stdout, b"a b|");
        assert!(out.success());
        let out = Local.exec(&Cmd::shell("echo err >&2; exit 3"), T).unwrap();
        assert_eq!(out.status, Some(3));
        assert_eq!(out.stderr_text(), "err");
        let out = Local.exec(&Cmd::new("cat").stdin("fed"), T).unwrap();
        assert_eq!(out.stdout, b"fed");
        // Messages that parsers read are in English whatever the machine's locale.
        let out = Local.exec(&Cmd::shell("printf %s \"$LC_ALL\""), T).unwrap();
        assert_eq!(out.stdout, b"C");
    }

    #[test]
    fn a_child_left_behind_does_not_hold_the_command() {
        let started = std::time::Instant::now();
        let out = Local
            .exec(&Cmd::shell("sleep 5 & echo $!; exit 0"), T)
            .unwrap();
        let pid = out.stdout_text().trim().to_string();
        // The test's own leftover: stopped by its pid.
        let _ = Command::new("kill").arg(&pid).status();
        assert!(pid.parse::<u32>().is_ok(), "{pid:?}");
        assert!(out.success());
        assert!(started.elapsed() < Duration::from_secs(4));
        let big = Local
            .exec(&Cmd::shell("head -c 3000000 /dev/zero"), T)
            .unwrap();
        assert_eq!(big.stdout.len(), 3_000_000);
    }

    #[test]
    fn missing_program_and_timeout_are_errors() {
        assert!(matches!(
            Local.exec(&Cmd::new("ispec-no-such-tool"), T),
            Err(BackendError::ToolMissing(_))
        ));
        let started = std::time::Instant::now();
        let err = Local
            .exec(
                &Cmd::shell("sleep 30; echo late"),
                Duration::from_millis(300),
            )
            .unwrap_err();
        assert!(matches!(err, BackendError::Timeout(_)));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn reads_files() {
        assert!(matches!(
            Local.read_file("/nonexistent/ispec", T),
            Err(BackendError::NotFound(_))
        ));
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), b"data").unwrap();
        let path = file.path().to_str().unwrap();
        assert_eq!(Local.read_file(path, T).unwrap(), b"data");
    }
}
