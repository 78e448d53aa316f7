//! Files of a container through the engine's archive endpoint (what `docker cp`
//! uses): one request gives a file's metadata (the tar header) and its content, with
//! no program run in the container. The archive does not see `/proc`, `/sys` or tmpfs
//! mounts.

use std::io::Read;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::{Container, engine};
use crate::backend::{BackendError, FileMeta};

/// How many symlinks a file read follows before giving up.
const MAX_LINKS: usize = 16;

/// Names the files this process puts in containers apart.
static PUT: AtomicU32 = AtomicU32::new(0);

impl Container {
    /// Puts `bytes` in the container as an executable file in `/` (root-owned, mode
    /// 0755), through the archive endpoint: no program runs in the container. Returns
    /// its path. A read-only root file system is [`BackendError::Denied`].
    pub(super) fn put_file(&self, bytes: &[u8], timeout: Duration) -> Result<String, BackendError> {
        let name = format!(
            ".ispec-probe-{}-{}",
            std::process::id(),
            PUT.fetch_add(1, Ordering::Relaxed)
        );
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o755);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        let mut tar = tar::Builder::new(Vec::with_capacity(bytes.len() + 2048));
        tar.append_data(&mut header, &name, bytes)
            .and_then(|()| tar.finish())
            .map_err(|e| BackendError::Failed(format!("cannot pack the probe: {e}")))?;
        let tar = tar
            .into_inner()
            .map_err(|e| BackendError::Failed(format!("cannot pack the probe: {e}")))?;
        let options = UploadToContainerOptionsBuilder::new().path("/").build();
        self.engine.block_on(timeout, async {
            self.engine
                .api
                .upload_to_container(&self.id, Some(options), bollard::body_full(tar.into()))
                .await
                .map_err(|e| {
                    let why = format!(
                        "cannot copy the probe into {}: {}",
                        self.target,
                        engine::message(&e)
                    );
                    match engine::status(&e) {
                        Some(400 | 403 | 500) => BackendError::Denied(why),
                        _ => BackendError::Failed(why),
                    }
                })
        })?;
        Ok(format!("/{name}"))
    }

    /// The first entry of the archive the engine makes of `path`: its header and,
    /// for a regular file, its content. Directories are not downloaded.
    pub(super) async fn archive_entry(&self, path: &str) -> Result<Option<Entry>, BackendError> {
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
                // A 404 is a missing path, or a container that went away mid-run:
                // the latter must not read as "the file does not exist".
                Err(e) if engine::status(&e) == Some(404) => {
                    let why = engine::message(&e);
                    if why.to_ascii_lowercase().contains("no such container") {
                        return Err(BackendError::Unreachable {
                            target: self.target.clone(),
                            cause: why,
                        });
                    }
                    return Ok(None);
                }
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
    pub(super) fn archive_sees(&self, path: &str) -> bool {
        !(below(path, "/proc") || below(path, "/sys") || self.tmpfs.iter().any(|t| below(path, t)))
    }

    /// Reads a file through the archive endpoint, following symlinks.
    pub(super) fn read_archived(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<Vec<u8>, BackendError> {
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

/// One archive entry.
pub(super) struct Entry {
    pub(super) meta: FileMeta,
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
}
