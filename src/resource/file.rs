//! `file`: existence, type, permissions, ownership, size, age, content and checksum.
//!
//! Metadata comes from one `stat -c` (GNU coreutils and BusyBox both speak it); the
//! content is read only when a content property is asserted, and hashed here.

use std::time::{SystemTime, UNIX_EPOCH};

use md5::Md5;
use sha2::{Digest, Sha256, Sha512};

use crate::backend::FileMeta;
use crate::cmd::Cmd;
use crate::expect::{Ty, Value};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};

use super::{Kind, Observed, Options, PropDef, Resource, wants};

pub(super) const KIND: Kind = Kind {
    key: "file",
    props: &[
        PropDef::gate("exists", "the path exists (a dangling symlink exists)"),
        PropDef::new(
            "type",
            Ty::Str,
            "file, directory, symlink, socket, pipe, block-device or character-device",
        ),
        PropDef::new("mode", Ty::Mode, "permission bits in octal, e.g. \"0644\""),
        PropDef::new("owner", Ty::Str, "the owning user's name"),
        PropDef::new("group", Ty::Str, "the owning group's name"),
        PropDef::new("uid", Ty::Int, "the owning user's id"),
        PropDef::new("gid", Ty::Int, "the owning group's id"),
        PropDef::new("size", Ty::Int, "size in bytes"),
        PropDef::new("mtime-age", Ty::Int, "seconds since the last modification"),
        PropDef::new(
            "linked-to",
            Ty::Str,
            "a symlink's target, as stored in the link",
        ),
        PropDef::new("contains", Ty::Patterns, "the content holds every pattern"),
        PropDef::new("content", Ty::Str, "the whole content"),
        PropDef::new(
            "sha256",
            Ty::Str,
            "the SHA-256 of the content, lowercase hex",
        ),
        PropDef::new(
            "sha512",
            Ty::Str,
            "the SHA-512 of the content, lowercase hex",
        ),
        PropDef::new("md5", Ty::Str, "the MD5 of the content, lowercase hex"),
    ],
    options: &[],
    new,
};

/// The properties that need the file's content read.
const CONTENT_PROPS: [&str; 5] = ["contains", "content", "sha256", "sha512", "md5"];

#[derive(Debug)]
struct File {
    path: String,
}

fn new(id: &str, _options: &Options) -> Result<Box<dyn Resource>, String> {
    if !id.starts_with('/') {
        return Err(format!("`{id}` is not an absolute path; write it from `/`"));
    }
    if id.contains('\0') {
        return Err("a path cannot contain a NUL byte".into());
    }
    Ok(Box::new(File {
        path: id.to_string(),
    }))
}

/// What `stat -c` (or the backend's native stat) tells of a path.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    kind: &'static str,
    mode: u32,
    /// `None` when the target has no name for the id (no `/etc/passwd` entry).
    owner: Option<String>,
    group: Option<String>,
    uid: i64,
    gid: i64,
    size: i64,
    mtime: i64,
    /// A symlink's target, when the stat told it.
    link: Option<String>,
}

const STAT_FORMAT: &str = "%F|%a|%U|%G|%u|%g|%s|%Y";

/// Parses one line of `stat -c '%F|%a|%U|%G|%u|%g|%s|%Y'`.
fn parse_stat(line: &str) -> Result<Stat, String> {
    let fields: Vec<&str> = line.trim_end().split('|').collect();
    let [kind, mode, owner, group, uid, gid, size, mtime] = fields[..] else {
        return Err(format!("unexpected `stat` output: {line:?}"));
    };
    let num = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| format!("unexpected `stat` output: {line:?}"))
    };
    Ok(Stat {
        kind: file_type(kind),
        link: None,
        mode: u32::from_str_radix(mode, 8)
            .map_err(|_| format!("unexpected `stat` mode: {mode:?}"))?,
        owner: Some(owner.to_string()),
        group: Some(group.to_string()),
        uid: num(uid)?,
        gid: num(gid)?,
        size: num(size)?,
        mtime: num(mtime)?,
    })
}

fn file_type(stat_name: &str) -> &'static str {
    match stat_name {
        "regular file" | "regular empty file" => "file",
        "directory" => "directory",
        "symbolic link" => "symlink",
        "socket" => "socket",
        "fifo" => "pipe",
        "block special file" => "block-device",
        "character special file" => "character-device",
        _ => "unknown",
    }
}

impl File {
    fn stat(&self, host: &Host) -> Result<Option<Stat>, ProbeError> {
        if let Some(native) = host.lstat(&self.path) {
            return native?
                .map(|meta| named(host, meta, &self.path))
                .transpose();
        }
        let out = host.run(
            &Cmd::new("stat")
                .arg("-c")
                .arg(STAT_FORMAT)
                .arg("--")
                .arg(&self.path),
        )?;
        if out.success() {
            return parse_stat(&out.stdout_text())
                .map(Some)
                .map_err(ProbeError::Failed);
        }
        let err = out.stderr_text();
        if err.contains("No such file") || err.contains("Not a directory") {
            Ok(None)
        } else if err.contains("Permission denied") {
            Err(ProbeError::Denied(format!("cannot stat `{}`", self.path)))
        } else if out.status == Some(127) {
            Err(ProbeError::ToolMissing("stat".into()))
        } else {
            Err(ProbeError::Failed(format!(
                "`stat {}` failed: {err}",
                self.path
            )))
        }
    }

    fn content(&self, host: &Host) -> Result<Vec<u8>, ProbeError> {
        host.read_opt(&self.path)?
            .map(|bytes| bytes.to_vec())
            .ok_or_else(|| ProbeError::Failed(format!("cannot read `{}`", self.path)))
    }
}

impl Resource for File {
    fn facts(&self, wanted: &[&'static str], _ask: &Ask<'_>) -> Vec<Fact> {
        let mut facts = vec![
            Fact::Lstat(self.path.clone()),
            Fact::Read(super::user::PASSWD_PATH.into()),
            Fact::Read(super::group::GROUP_PATH.into()),
        ];
        if CONTENT_PROPS.iter().any(|p| wants(wanted, p)) {
            facts.push(Fact::Read(self.path.clone()));
        }
        facts
    }

    fn probe(&self, host: &Host, wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        let mut seen = Observed::new();
        let Some(stat) = self.stat(host)? else {
            seen.set("exists", Value::Bool(false));
            for prop in wanted.iter().filter(|p| **p != "exists") {
                seen.fail(
                    prop,
                    ProbeError::Failed(format!("`{}` does not exist", self.path)),
                );
            }
            return Ok(seen);
        };
        seen.set("exists", Value::Bool(true));
        seen.set("type", Value::Str(stat.kind.into()));
        seen.set("mode", Value::Str(format!("{:04o}", stat.mode)));
        let unnamed = |what: &str, id: i64, file: &str| {
            ProbeError::Failed(format!(
                "{what} id {id} has no name on the target (no entry in `{file}`)"
            ))
        };
        match stat.owner {
            Some(name) => seen.set("owner", Value::Str(name)),
            None => seen.fail("owner", unnamed("user", stat.uid, "/etc/passwd")),
        }
        match stat.group {
            Some(name) => seen.set("group", Value::Str(name)),
            None => seen.fail("group", unnamed("group", stat.gid, "/etc/group")),
        }
        seen.set("uid", Value::Int(stat.uid));
        seen.set("gid", Value::Int(stat.gid));
        seen.set("size", Value::Int(stat.size));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        seen.set("mtime-age", Value::Int(now - stat.mtime));
        if wants(wanted, "linked-to") {
            seen.put(
                "linked-to",
                match stat.link {
                    Some(link) => Ok(Value::Str(link)),
                    None => self.link_target(host, stat.kind),
                },
            );
        }
        if CONTENT_PROPS.iter().any(|p| wants(wanted, p)) {
            match self.content(host) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    seen.set("sha256", Value::Str(hex(&Sha256::digest(&bytes))));
                    seen.set("sha512", Value::Str(hex(&Sha512::digest(&bytes))));
                    seen.set("md5", Value::Str(hex(&Md5::digest(&bytes))));
                    seen.set("contains", Value::Str(text.clone()));
                    seen.set("content", Value::Str(text));
                }
                Err(e) => {
                    for p in CONTENT_PROPS {
                        seen.fail(p, e.clone());
                    }
                }
            }
        }
        Ok(seen)
    }
}

impl File {
    fn link_target(&self, host: &Host, kind: &str) -> Result<Value, ProbeError> {
        if kind != "symlink" {
            return Err(ProbeError::Failed(format!(
                "`{}` is a {kind}, not a symlink",
                self.path
            )));
        }
        let out = host.run(&Cmd::new("readlink").arg("--").arg(&self.path))?;
        if out.success() {
            Ok(Value::Str(
                out.stdout_text().trim_end_matches('\n').to_string(),
            ))
        } else {
            Err(ProbeError::Failed(format!(
                "`readlink {}` failed: {}",
                self.path,
                out.stderr_text()
            )))
        }
    }
}

/// A native stat with owner and group named from the target's own account files
/// (read once per run; the engine's names would be those of its own machine). An id
/// the files do not name (an LDAP or SSSD account) is asked of the target's `stat`,
/// which asks its name service; without `stat` it stays unnamed.
fn named(host: &Host, meta: FileMeta, path: &str) -> Result<Stat, ProbeError> {
    let mut owner = super::user::passwd(host)?
        .and_then(|users| users.into_iter().find(|u| u.uid == meta.uid))
        .map(|u| u.name);
    let mut group = super::group::groups_opt(host)?
        .and_then(|groups| groups.into_iter().find(|g| g.gid == meta.gid))
        .map(|g| g.name);
    if owner.is_none() || group.is_none() {
        let asked = host.run(&Cmd::new("stat").arg("-c").arg("%U|%G").arg("--").arg(path));
        if let Ok(out) = &asked
            && out.success()
        {
            let text = out.stdout_text();
            let known = |s: &str| (s != "UNKNOWN").then(|| s.to_string());
            if let Some((u, g)) = text.trim_end().split_once('|') {
                owner = owner.or_else(|| known(u));
                group = group.or_else(|| known(g));
            }
        }
    }
    Ok(Stat {
        kind: meta.kind,
        mode: meta.mode,
        owner,
        group,
        uid: meta.uid,
        gid: meta.gid,
        size: meta.size,
        mtime: meta.mtime,
        link: meta.link,
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(os: &str, case: &str) -> String {
        crate::resource::fixture("file", os, case)
    }

    #[test]
    fn parses_gnu_and_busybox_stat() {
        let gnu = parse_stat(&fixture("debian-12", "stat-passwd")).unwrap();
        assert_eq!(gnu.kind, "file");
        assert_eq!(gnu.mode, 0o644);
        assert_eq!((gnu.owner.as_deref(), gnu.uid), (Some("root"), 0));
        let link = parse_stat(&fixture("alpine-3.19", "stat-symlink")).unwrap();
        assert_eq!(link.kind, "symlink");
        assert_eq!(link.mode, 0o777);
        let dir = parse_stat(&fixture("rocky-9", "stat-dir")).unwrap();
        assert_eq!(dir.kind, "directory");
        assert_eq!(dir.mode, 0o1777);
        assert!(parse_stat("garbage").is_err());
    }

    #[test]
    fn observes_a_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "hello\nworld\n").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let host = Host::local();
        let file = new(path.to_str().unwrap(), &Options::new()).unwrap();
        let seen = file.probe(&host, &["sha256", "content"]).unwrap();
        assert_eq!(
            seen.get("md5").unwrap(),
            &Value::Str("0f723ae7f9bf07744445e93ac5595156".into())
        );
        assert_eq!(seen.get("type").unwrap(), &Value::Str("file".into()));
        assert_eq!(seen.get("size").unwrap(), &Value::Int(12));
        assert_eq!(
            seen.get("sha256").unwrap(),
            &Value::Str("4a1e67f2fe1d1cc7b31d0ca2ec441da4778203a036a77da10344c85e24ff0f92".into())
        );
        let seen = new(link.to_str().unwrap(), &Options::new())
            .unwrap()
            .probe(&host, &["linked-to"])
            .unwrap();
        assert_eq!(
            seen.get("linked-to").unwrap(),
            &Value::Str(path.to_str().unwrap().into())
        );
        let gone = new("/nonexistent/ispec", &Options::new())
            .unwrap()
            .probe(&host, &["exists", "mode"])
            .unwrap();
        assert_eq!(gone.get("exists").unwrap(), &Value::Bool(false));
        assert!(gone.get("mode").is_err());
    }

    #[test]
    fn relative_paths_are_refused() {
        assert!(
            new("etc/passwd", &Options::new())
                .unwrap_err()
                .contains("absolute")
        );
    }
}
