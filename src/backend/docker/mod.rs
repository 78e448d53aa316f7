//! Docker containers through the Engine API (bollard): an existing container
//! (`docker://NAME`) or a throwaway one started from an image (`--image IMAGE`).
//!
//! Commands run as execs through the API; files are read through the archive
//! endpoint, so reading a file or its metadata needs no shell, `cat` or `stat` in the
//! container.

mod engine;
mod owned;
mod throwaway;

use std::io::Read;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{Backend, BackendError, FileMeta, ImageInfo};
use crate::cmd::{Cmd, Output};

pub(crate) use engine::Engine;
pub use owned::{LABEL, Leftover, Owned, clean};
pub(crate) use throwaway::parse_port;
pub use throwaway::{ContainerSpec, Wait};

/// How many symlinks a file read follows before giving up.
const MAX_LINKS: usize = 16;

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
    guard: Option<throwaway::Guard>,
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
            guard: None,
        })
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    async fn exec_async(
        &self,
        cmd: &Cmd,
        started: &Mutex<Option<String>>,
    ) -> Result<Output, BackendError> {
        let api = &self.engine.api;
        let failed = |e: bollard::errors::Error| {
            BackendError::Failed(format!("exec in {}: {}", self.target, engine::message(&e)))
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
                    user: self.user.clone(),
                    ..Default::default()
                },
            )
            .await
            .map_err(failed)?;
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
            kill_tree(pid);
        }
    }

    /// The first entry of the archive the engine makes of `path`: its header and,
    /// for a regular file, its content. Directories are not downloaded.
    async fn archive_entry(&self, path: &str) -> Result<Option<Entry>, BackendError> {
        let options = DownloadFromContainerOptionsBuilder::new()
            .path(path)
            .build();
        let mut stream = self
            .engine
            .api
            .download_from_container(&self.id, Some(options));
        let mut tar = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => tar.extend_from_slice(&bytes),
                Err(e) if engine::status(&e) == Some(404) => return Ok(None),
                Err(e) if engine::status(&e) == Some(403) => {
                    return Err(BackendError::Denied(format!("cannot read `{path}`")));
                }
                Err(e) => {
                    return Err(BackendError::Failed(format!(
                        "cannot read `{path}` in {}: {}",
                        self.target,
                        engine::message(&e)
                    )));
                }
            }
            // Stop as soon as the first header shows a directory: no need for the tree.
            if tar.len() >= 512
                && tar::Header::from_byte_slice(&tar[..512])
                    .entry_type()
                    .is_dir()
            {
                break;
            }
        }
        Entry::first(&tar, path).map(Some)
    }

    /// True if the archive endpoint shows `path` as it is: not in `/proc`, `/sys` or
    /// a tmpfs mount.
    fn archive_sees(&self, path: &str) -> bool {
        !(below(path, "/proc") || below(path, "/sys") || self.tmpfs.iter().any(|t| below(path, t)))
    }

    /// Where this machine sees the container's root (`/proc/PID/root`), when the
    /// engine runs here and we may look: the way to read `/proc` and `/sys` of a
    /// container that has no `cat`.
    fn root_outside(&self) -> Option<String> {
        let pid = self.host_pid?;
        let root = format!("/proc/{pid}/root");
        (self.engine.is_local() && std::fs::read_dir(format!("{root}/proc/1")).is_ok())
            .then_some(root)
    }

    /// Reads a `/proc` or `/sys` file of the container from outside it.
    fn read_outside(&self, path: &str) -> Option<Result<Vec<u8>, BackendError>> {
        if path.contains("/../") {
            return None;
        }
        let root = self.root_outside()?;
        // `/proc/self` would be this process, which is not in the container: the
        // container's main process (its PID 1) stands in for it.
        let inside = if let Some(rest) = path.strip_prefix("/proc/self/") {
            format!("/proc/1/{rest}")
        } else if path == "/proc/mounts" || path.starts_with("/proc/net/") {
            format!("/proc/1/{}", &path["/proc/".len()..])
        } else {
            path.to_string()
        };
        Some(
            std::fs::read(format!("{root}{inside}")).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => BackendError::NotFound(path.to_string()),
                std::io::ErrorKind::PermissionDenied => {
                    BackendError::Denied(format!("cannot read `{path}`"))
                }
                _ => BackendError::Failed(format!("cannot read `{path}`: {e}")),
            }),
        )
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

/// The container's tmpfs mount points, from `--tmpfs` and `--mount type=tmpfs`.
pub(crate) fn tmpfs_mounts(inspect: &bollard::models::ContainerInspectResponse) -> Vec<String> {
    let mut points: Vec<String> = inspect
        .host_config
        .as_ref()
        .and_then(|h| h.tmpfs.as_ref())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    points.extend(
        inspect
            .mounts
            .iter()
            .flatten()
            .filter(|m| m.typ.as_deref() == Some("tmpfs"))
            .filter_map(|m| m.destination.clone()),
    );
    points
}

/// True if `path` is `point` or below it.
fn below(path: &str, point: &str) -> bool {
    let point = point.trim_end_matches('/');
    path == point
        || path
            .strip_prefix(point)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Kills `pid` and every process below it on this machine (read from `/proc`).
fn kill_tree(pid: u32) {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let child: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let parent = stat[stat.rfind(')')? + 2..]
                .split(' ')
                .nth(1)?
                .parse()
                .ok()?;
            Some((child, parent))
        })
        .collect();
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    let _ = std::process::Command::new("kill")
        .arg("-KILL")
        .args(tree.iter().map(u32::to_string))
        .stderr(std::process::Stdio::null())
        .status();
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

/// One archive entry.
struct Entry {
    meta: FileMeta,
    content: Vec<u8>,
}

impl Entry {
    fn first(tar: &[u8], path: &str) -> Result<Self, BackendError> {
        let bad = |e: std::io::Error| {
            BackendError::Failed(format!("cannot read the archive of `{path}`: {e}"))
        };
        let mut archive = tar::Archive::new(tar);
        let mut entries = archive.entries().map_err(bad)?;
        let mut entry = entries
            .next()
            .ok_or_else(|| BackendError::Failed(format!("the archive of `{path}` is empty")))?
            .map_err(bad)?;
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => "file",
            tar::EntryType::Directory => "directory",
            tar::EntryType::Symlink => "symlink",
            tar::EntryType::Fifo => "pipe",
            tar::EntryType::Block => "block-device",
            tar::EntryType::Char => "character-device",
            _ => "unknown",
        };
        let num = |v: std::io::Result<u64>| v.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let link = entry
            .link_name()
            .map_err(bad)?
            .map(|l| l.to_string_lossy().into_owned());
        let mut meta = FileMeta {
            kind,
            mode: header.mode().map_err(bad)? & 0o7777,
            uid: num(header.uid()).map_err(bad)?,
            gid: num(header.gid()).map_err(bad)?,
            // The engine may name ids from its own machine's accounts: the target's
            // `/etc/passwd` names them instead.
            owner: None,
            group: None,
            size: num(header.size()).map_err(bad)?,
            mtime: num(header.mtime()).map_err(bad)?,
            link,
        };
        let mut content = Vec::new();
        if kind == "file" {
            entry.read_to_end(&mut content).map_err(bad)?;
        } else if kind == "symlink" {
            meta.size = meta
                .link
                .as_ref()
                .map_or(0, |l| i64::try_from(l.len()).unwrap_or(i64::MAX));
        }
        Ok(Self { meta, content })
    }
}

/// Joins a symlink's target to the folder of the link.
fn resolve_link(path: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_string();
    }
    let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
    format!("{dir}/{target}")
}

impl Backend for Container {
    fn target(&self) -> &str {
        &self.target
    }

    fn exec(&self, cmd: &Cmd, timeout: Duration) -> Result<Output, BackendError> {
        let started = Mutex::new(None);
        let result = self
            .engine
            .block_on(timeout, self.exec_async(cmd, &started));
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
        let mut path = path.to_string();
        for _ in 0..MAX_LINKS {
            let entry = self
                .engine
                .block_on(timeout, self.archive_entry(&path))?
                .ok_or_else(|| BackendError::NotFound(path.clone()))?;
            match (entry.meta.kind, &entry.meta.link) {
                ("file", _) => return Ok(entry.content),
                ("symlink", Some(link)) => path = resolve_link(&path, link),
                (kind, _) => {
                    return Err(BackendError::Failed(format!(
                        "cannot read `{path}`: it is a {kind}"
                    )));
                }
            }
        }
        Err(BackendError::Failed(format!(
            "cannot read `{path}`: more than {MAX_LINKS} symlinks"
        )))
    }

    fn lstat(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Option<Result<Option<FileMeta>, BackendError>> {
        if !self.archive_sees(path) {
            return None;
        }
        Some(
            self.engine
                .block_on(timeout, self.archive_entry(path))
                .map(|e| e.map(|e| e.meta)),
        )
    }

    fn processes(&self, _timeout: Duration) -> Option<Result<Vec<u8>, BackendError>> {
        let proc = format!("{}/proc", self.root_outside()?);
        let entries = match std::fs::read_dir(&proc) {
            Ok(entries) => entries,
            Err(e) => {
                return Some(Err(BackendError::Failed(format!(
                    "cannot list `/proc`: {e}"
                ))));
            }
        };
        let mut listing = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            // A process that exits while it is read is left out.
            let dir = entry.path();
            let Ok(status) = std::fs::read_to_string(dir.join("status")) else {
                continue;
            };
            let Some(uid) = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1))
            else {
                continue;
            };
            let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
                continue;
            };
            let mut args = std::fs::read(dir.join("cmdline")).unwrap_or_default();
            for b in &mut args {
                if *b == 0 {
                    *b = b' ';
                }
            }
            for field in [
                name.as_bytes(),
                uid.as_bytes(),
                comm.lines().next().unwrap_or("").as_bytes(),
                &args,
            ] {
                listing.extend_from_slice(field);
                listing.push(0);
            }
        }
        Some(Ok(listing))
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
    fn links_resolve_against_their_folder() {
        assert_eq!(
            resolve_link("/etc/alternatives/x", "/usr/bin/y"),
            "/usr/bin/y"
        );
        assert_eq!(
            resolve_link(
                "/etc/nginx/sites-enabled/default",
                "../sites-available/default"
            ),
            "/etc/nginx/sites-enabled/../sites-available/default"
        );
    }

    #[test]
    fn runtime_messages_mean_missing_programs() {
        assert!(exec_failed(
            b"OCI runtime exec failed: exec failed: container_linux.go:380: starting container process caused: exec: \"stat\": executable file not found in $PATH: unknown\r\n",
            b""
        ));
        assert!(!exec_failed(b"", b"sh: 1: foo: not found"));
    }
}
