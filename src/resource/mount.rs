//! `mount`: what is mounted on a mount point: source, filesystem and options.
//!
//! The mount table is `/proc/mounts` (or `/proc/self/mounts`, the file it links to),
//! read once per run for every mount check and parsed here, so no `findmnt` or
//! `mount` binary is needed on the target.

use crate::expect::{Ty, Value};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};

use super::{Kind, Observed, Options, PropDef, Resource};

pub(super) const KIND: Kind = Kind {
    key: "mount",
    props: &[
        PropDef::gate("exists", "something is mounted on the path"),
        PropDef::new(
            "source",
            Ty::Str,
            "what is mounted: a device such as \"/dev/sda1\", or a name such as \"tmpfs\"",
        ),
        PropDef::new("filesystem", Ty::Str, "the filesystem type, e.g. \"ext4\""),
        PropDef::new(
            "opts",
            Ty::List,
            "the mount options, e.g. \"rw\", \"relatime\", \"size=65536k\"",
        ),
    ],
    options: &[],
    new,
};

#[derive(Debug)]
struct Mount {
    point: String,
}

fn new(id: &str, _options: &Options) -> Result<Box<dyn Resource>, String> {
    if !id.starts_with('/') {
        return Err(format!(
            "`{id}` is not an absolute path; write the mount point from `/`"
        ));
    }
    if id.contains('\0') {
        return Err("a path cannot contain a NUL byte".into());
    }
    // `/proc/` and `/proc` name one mount point; the table writes the latter.
    let trimmed = id.trim_end_matches('/');
    Ok(Box::new(Mount {
        point: if trimmed.is_empty() { "/" } else { trimmed }.to_string(),
    }))
}

/// One line of the mount table.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    source: String,
    point: String,
    filesystem: String,
    opts: Vec<String>,
}

/// Parses `/proc/mounts`: `SOURCE POINT FSTYPE OPTS FREQ PASSNO`, one mount a line,
/// in the order they were mounted.
fn parse_mounts(text: &str) -> Result<Vec<Entry>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [source, point, filesystem, opts, ..] = fields[..] else {
                return Err(format!("unexpected mount table line: {line:?}"));
            };
            Ok(Entry {
                source: unescape(source),
                point: unescape(point),
                filesystem: unescape(filesystem),
                opts: opts.split(',').map(unescape).collect(),
            })
        })
        .collect()
}

/// Undoes the kernel's escaping of space, tab, newline and backslash as `\040`,
/// `\011`, `\012` and `\134` (three octal digits; anything else is kept as is).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)) && d[0] <= b'3');
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push(d.iter().fold(0u8, |n, b| n * 8 + (b - b'0')));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The visible mount on `point`: when several are stacked there, the last one
/// mounted hides the others, and the table lists it last.
fn visible<'a>(entries: &'a [Entry], point: &str) -> Option<&'a Entry> {
    entries.iter().rev().find(|e| e.point == point)
}

fn table(host: &Host) -> Result<String, ProbeError> {
    for path in ["/proc/mounts", "/proc/self/mounts"] {
        if let Some(bytes) = host.read_opt(path)? {
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Err(ProbeError::Failed(
        "cannot read the mount table: neither /proc/mounts nor /proc/self/mounts exists \
         on the target"
            .into(),
    ))
}

impl Resource for Mount {
    fn facts(&self, _wanted: &[&'static str], _ask: &Ask<'_>) -> Vec<Fact> {
        vec![Fact::Read("/proc/mounts".into())]
    }

    fn probe(&self, host: &Host, wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        let entries = parse_mounts(&table(host)?).map_err(ProbeError::Failed)?;
        let mut seen = Observed::new();
        let Some(entry) = visible(&entries, &self.point) else {
            seen.set("exists", Value::Bool(false));
            for prop in wanted.iter().filter(|p| **p != "exists") {
                seen.fail(
                    prop,
                    ProbeError::Failed(format!("nothing is mounted on `{}`", self.point)),
                );
            }
            return Ok(seen);
        };
        seen.set("exists", Value::Bool(true));
        seen.set("source", Value::Str(entry.source.clone()));
        seen.set("filesystem", Value::Str(entry.filesystem.clone()));
        seen.set("opts", Value::List(entry.opts.clone()));
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(os: &str) -> Vec<Entry> {
        parse_mounts(
            &std::fs::read_to_string(format!(
                "{}/fixtures/probes/mount/{os}/proc-mounts.txt",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn parses_debian() {
        let all = entries("debian-12");
        let root = visible(&all, "/").unwrap();
        assert_eq!(
            (root.source.as_str(), root.filesystem.as_str()),
            ("/dev/vda", "ext4")
        );
        assert_eq!(root.opts[..2], ["rw", "relatime"]);
        assert_eq!(visible(&all, "/proc").unwrap().filesystem, "proc");
        assert_eq!(
            visible(&all, "/sys/fs/cgroup/unified").unwrap().filesystem,
            "cgroup2"
        );
        assert!(visible(&all, "/etc").is_none());
    }

    #[test]
    fn parses_rocky_and_the_last_mount_wins() {
        let all = entries("rocky-9");
        assert_eq!(visible(&all, "/").unwrap().source, "/dev/mapper/rl-root");
        assert_eq!(visible(&all, "/boot/efi").unwrap().filesystem, "vfat");
        // systemd's automount point, then the filesystem mounted over it on first use.
        let binfmt = visible(&all, "/proc/sys/fs/binfmt_misc").unwrap();
        assert_eq!(binfmt.filesystem, "binfmt_misc");
        assert_eq!(binfmt.source, "binfmt_misc");
        let disk = visible(&all, "/run/media/rocky/My Disk").unwrap();
        assert!(disk.opts.contains(&"uhelper=udisks2".to_string()));
    }

    #[test]
    fn parses_alpine_and_unescapes() {
        let all = entries("alpine-3.19");
        let root = visible(&all, "/").unwrap();
        assert_eq!(root.filesystem, "overlay");
        assert!(root.opts.iter().any(|o| o.starts_with("upperdir=")));
        assert_eq!(visible(&all, "/sys").unwrap().opts[0], "ro");
        assert_eq!(visible(&all, "/srv/my data").unwrap().source, "/dev/sda1");
        let odd = visible(&all, "/srv/tab\tand\nnewline\\back").unwrap();
        assert_eq!(odd.opts, ["ro", "relatime"]);
        assert_eq!(unescape(r"a\\b\9x\04"), r"a\\b\9x\04");
        assert!(parse_mounts("proc /proc").is_err());
    }

    #[test]
    fn ids_are_absolute_and_trailing_slashes_ignored() {
        assert!(
            new("proc", &Options::new())
                .unwrap_err()
                .contains("absolute")
        );
        let host = Host::local();
        for id in ["/proc", "/proc/"] {
            let seen = new(id, &Options::new())
                .unwrap()
                .probe(&host, &["filesystem"])
                .unwrap();
            assert_eq!(seen.get("filesystem").unwrap(), &Value::Str("proc".into()));
        }
        let seen = new("///", &Options::new())
            .unwrap()
            .probe(&host, &["exists"])
            .unwrap();
        assert_eq!(seen.get("exists").unwrap(), &Value::Bool(true));
        let dir = tempfile::tempdir().unwrap();
        let seen = new(dir.path().to_str().unwrap(), &Options::new())
            .unwrap()
            .probe(&host, &["exists", "source"])
            .unwrap();
        assert_eq!(seen.get("exists").unwrap(), &Value::Bool(false));
        assert!(seen.get("source").is_err());
    }

    #[test]
    fn one_read_serves_every_mount_check() {
        let host = Host::local();
        for id in ["/", "/proc", "/sys", "/nonexistent/ispec"] {
            new(id, &Options::new())
                .unwrap()
                .probe(&host, &["exists", "opts"])
                .unwrap();
        }
        assert_eq!(host.round_trips(), 1);
    }
}
