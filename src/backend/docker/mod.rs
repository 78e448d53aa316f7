//! Docker containers through the Engine API (bollard): an existing container
//! (`docker://NAME`) or a throwaway one started from an image (`--image IMAGE`).
//!
//! Commands run as execs through the API; files are read through the archive
//! endpoint, so reading a file or its metadata needs no shell, `cat` or `stat` in the
//! container.

mod archive;
mod engine;
pub mod network;
mod outside;
mod owned;
mod ready;
mod throwaway;

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{Backend, BackendError, FileMeta, ImageInfo};
use crate::cmd::{Cmd, Output};

pub(crate) use archive::tmpfs_mounts;
pub(crate) use engine::Engine;
pub use owned::{Cleaned, FinishOnDrop, LABEL, Leftover, Owned, clean};
pub(crate) use throwaway::parse_port;
pub use throwaway::{ContainerSpec, Wait};

/// A running container, reached through the engine.
#[derive(Debug)]
pub struct Container {
    engine: Engine,
    /// The container's id.
    id: String,
    /// The target as the user wrote it.
    target: String,
    /// Who runs commands: `--user`, or the container's default user when `None`.
    user: Option<String>,
    /// The main process's pid on the engine's machine, for `/proc` and `/sys` reads
    /// from outside when the container has no `cat`.
    host_pid: Option<i64>,
    /// tmpfs mount points: the archive endpoint does not see into them.
    tmpfs: Vec<String>,
    /// Removes the container when this backend is dropped, for throwaway containers.
    guard: Mutex<Option<throwaway::Guard>>,
    /// A throwaway container's name.
    name: Option<String>,
    /// Its image's CPU architecture, once asked (`amd64`, `arm64`, ...).
    arch: std::sync::OnceLock<String>,
}

impl Container {
    /// Connects to an existing, running container by name or id.
    pub fn connect(name: &str, user: Option<String>) -> Result<Self, BackendError> {
        let engine = Engine::connect()?;
        let target = format!("docker://{name}");
        let inspect = engine.block_on(Duration::from_secs(30), async {
            engine
                .api
                .inspect_container(name, None)
                .await
                .map_err(|e| BackendError::Unreachable {
                    target: target.clone(),
                    cause: if engine::status(&e) == Some(404) {
                        format!(
                            "no container `{name}` on the engine at `{}`; `docker ps` lists the running ones",
                            engine.address
                        )
                    } else {
                        engine::message(&e)
                    },
                })
        })?;
        let tmpfs = tmpfs_mounts(&inspect);
        let state = inspect.state.unwrap_or_default();
        if state.running != Some(true) {
            return Err(BackendError::Unreachable {
                target,
                cause: format!(
                    "the container is not running (status {}); start it, or check an image with `--image`",
                    state
                        .status
                        .map_or_else(|| "unknown".into(), |s| s.to_string())
                ),
            });
        }
        Ok(Self {
            engine,
            id: inspect.id.unwrap_or_else(|| name.to_string()),
            target,
            user,
            host_pid: state.pid.filter(|p| *p > 0),
            tmpfs,
            guard: Mutex::new(None),
            name: None,
            arch: std::sync::OnceLock::new(),
        })
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    async fn exec_async(
        &self,
        cmd: &Cmd,
        user: Option<String>,
        started: &Mutex<Option<String>>,
    ) -> Result<Output, BackendError> {
        let api = &self.engine.api;
        let failed = |e: bollard::errors::Error| {
            BackendError::Failed(format!("exec in {}: {}", self.target, engine::message(&e)))
        };
        // 404: the container was removed; 409: it stopped.
        let gone = |e: bollard::errors::Error| match engine::status(&e) {
            Some(404 | 409) => BackendError::Unreachable {
                target: self.target.clone(),
                cause: format!("the container is gone: {}", engine::message(&e)),
            },
            _ => failed(e),
        };
        let exec = api
            .create_exec(
                &self.id,
                CreateExecOptions {
                    cmd: Some(cmd.argv()),
                    attach_stdin: Some(cmd.input().is_some()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    env: Some(vec!["LC_ALL=C".to_string()]),
                    user,
                    ..Default::default()
                },
            )
            .await
            .map_err(gone)?;
        *started.lock().unwrap_or_else(PoisonError::into_inner) = Some(exec.id.clone());
        let attached = api
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: Some(64 * 1024),
                }),
            )
            .await
            .map_err(failed)?;
        let StartExecResults::Attached {
            mut output,
            mut input,
        } = attached
        else {
            return Err(BackendError::Failed("the exec did not attach".into()));
        };
        if let Some(bytes) = cmd.input() {
            // A program that exits without reading its input is not an error.
            let _ = input.write_all(bytes).await;
            let _ = input.shutdown().await;
        }
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        while let Some(chunk) = output.next().await {
            match chunk.map_err(failed)? {
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    stdout.extend_from_slice(&message);
                }
                LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
                LogOutput::StdIn { .. } => {}
            }
        }
        let inspect = api.inspect_exec(&exec.id).await.map_err(failed)?;
        let status = inspect.exit_code.and_then(|c| i32::try_from(c).ok());
        if matches!(status, Some(126 | 127)) && exec_failed(&stdout, &stderr) {
            return Err(BackendError::ToolMissing(cmd.program().to_string()));
        }
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Runs `cmd` as `user` (the container's default user when `None`).
    fn exec_as(
        &self,
        cmd: &Cmd,
        user: Option<String>,
        timeout: Duration,
    ) -> Result<Output, BackendError> {
        let started = Mutex::new(None);
        let result = self
            .engine
            .block_on(timeout, self.exec_async(cmd, user, &started));
        if matches!(result, Err(BackendError::Timeout(_))) {
            if let Some(exec) = started
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                self.stop_exec(&exec);
            }
        }
        result
    }

    /// Stops a timed-out exec and the processes it started. The engine has no call for
    /// that: on a local engine its processes are killed by pid from outside; on a
    /// remote one they run on until they end.
    fn stop_exec(&self, exec: &str) {
        if !self.engine.is_local() {
            return;
        }
        let pid = self
            .engine
            .block_on(Duration::from_secs(5), async {
                self.engine
                    .api
                    .inspect_exec(exec)
                    .await
                    .map_err(|e| BackendError::Failed(engine::message(&e)))
            })
            .ok()
            .and_then(|inspect| inspect.pid)
            .and_then(|pid| u32::try_from(pid).ok())
            .filter(|pid| *pid > 1);
        if let Some(pid) = pid {
            outside::kill_tree(pid);
        }
    }

    fn image_id(&self) -> Result<String, BackendError> {
        self.engine.block_on(Duration::from_secs(30), async {
            let c = self
                .engine
                .api
                .inspect_container(&self.id, None)
                .await
                .map_err(|e| BackendError::Failed(engine::message(&e)))?;
            c.image
                .ok_or_else(|| BackendError::Failed("the engine names no image".into()))
        })
    }
}

/// True if the engine's runtime could not start the program (the message Docker and
/// Podman print when the executable is missing).
fn exec_failed(stdout: &[u8], stderr: &[u8]) -> bool {
    [stdout, stderr].iter().any(|b| {
        let text = String::from_utf8_lossy(b);
        text.contains("executable file not found")
            || (text.contains("exec failed") && text.contains("no such file or directory"))
    })
}

impl Backend for Container {
    fn target(&self) -> &str {
        &self.target
    }

    fn transport(&self) -> super::Transport {
        super::Transport::Docker
    }

    fn exec(&self, cmd: &Cmd, timeout: Duration) -> Result<Output, BackendError> {
        self.exec_as(cmd, self.user.clone(), timeout)
    }

    fn put_executable(
        &self,
        bytes: &[u8],
        arch: &str,
        timeout: Duration,
    ) -> Option<Result<String, BackendError>> {
        // Podman's archive endpoint is not the engine's: the probe goes in by `sh`.
        if self.engine.podman {
            return None;
        }
        // Docker names CPUs as Go does.
        let wanted = match arch {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let arch = match self.arch.get() {
            Some(arch) => arch.clone(),
            None => match self.image(None, timeout) {
                Ok(image) => self.arch.get_or_init(|| image.architecture).clone(),
                Err(e) => return Some(Err(e)),
            },
        };
        if !arch.is_empty() && arch != wanted {
            return Some(Err(BackendError::Failed(format!(
                "the probe is built for {wanted}, the image for {arch}"
            ))));
        }
        Some(self.put_file(bytes, timeout))
    }

    fn output_tail(&self, lines: usize) -> Option<Result<String, BackendError>> {
        Some(self.logs_tail(lines))
    }

    fn close(&self) {
        // A throwaway container goes as soon as its checks are done.
        drop(
            self.guard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    fn exec_as_root(&self, cmd: &Cmd, timeout: Duration) -> Option<Result<Output, BackendError>> {
        Some(self.exec_as(cmd, Some("0:0".into()), timeout))
    }

    fn read_file(&self, path: &str, timeout: Duration) -> Result<Vec<u8>, BackendError> {
        // The archive of a /proc or /sys file is empty (they report size 0), and the
        // archive does not see into tmpfs mounts: read them with `cat`, or, in a
        // container without one, from outside it.
        if !self.archive_sees(path) {
            let via_cat = self.exec(&Cmd::new("cat").arg("--").arg(path), timeout);
            return match via_cat {
                Ok(out) if out.success() => Ok(out.stdout),
                Err(BackendError::ToolMissing(tool)) => self
                    .read_outside(path)
                    .unwrap_or(Err(BackendError::ToolMissing(tool))),
                Ok(out) => {
                    let err = out.stderr_text();
                    Err(if err.contains("No such file") {
                        BackendError::NotFound(path.to_string())
                    } else if err.contains("Permission denied") {
                        BackendError::Denied(format!("cannot read `{path}`"))
                    } else {
                        BackendError::Failed(format!("cannot read `{path}`: {err}"))
                    })
                }
                Err(e) => Err(e),
            };
        }
        self.read_archived(path, timeout)
    }

    fn lstat(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Option<Result<Option<FileMeta>, BackendError>> {
        // Podman's archive follows symlinks and reports the container's user as
        // every file's owner: `stat` in the container tells the truth there.
        if self.engine.podman || !self.archive_sees(path) {
            return None;
        }
        Some(
            self.engine
                .block_on(timeout, self.archive_entry(path))
                .map(|e| e.map(|e| e.meta)),
        )
    }

    fn processes(&self, _timeout: Duration) -> Option<Result<Vec<u8>, BackendError>> {
        self.processes_outside()
    }

    fn image(&self, reference: Option<&str>, timeout: Duration) -> Result<ImageInfo, BackendError> {
        let reference = match reference {
            Some(r) => r.to_string(),
            None => self.image_id()?,
        };
        owned::inspect_image(&self.engine, &reference, timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_messages_mean_missing_programs() {
        assert!(exec_failed(
            b"OCI runtime exec failed: exec failed: container_linux.go:380: starting container process caused: exec: \"stat\": executable file not found in $PATH: unknown\r\n",
            b""
        ));
        assert!(!exec_failed(b"", b"sh: 1: foo: not found"));
    }
}
