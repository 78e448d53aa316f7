//! `group`: a group from `/etc/group`, its gid and its listed members.
//!
//! This module owns `/etc/group`: its parser and its one read per run serve the
//! `group` kind and the `user` kind's `groups` property alike. Groups that only come
//! from NSS services (LDAP, SSSD) are not in the file and are not seen.

use crate::expect::{Ty, Value};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};

use super::{Kind, Observed, Options, PropDef, Resource};

pub(super) const KIND: Kind = Kind {
    key: "group",
    props: &[
        PropDef::gate("exists", "the group is in /etc/group"),
        PropDef::new("gid", Ty::Int, "the group id"),
        PropDef::new(
            "members",
            Ty::List,
            "the members listed in /etc/group (users whose primary group it is are not listed there)",
        ),
    ],
    options: &[],
    new,
};

/// The path this module reads, once per run.
pub(super) const GROUP_PATH: &str = "/etc/group";

/// One line of `/etc/group`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct GroupEntry {
    /// The group name.
    pub(super) name: String,
    /// The group id.
    pub(super) gid: i64,
    /// The supplementary members, in file order.
    pub(super) members: Vec<String>,
}

/// Parses `/etc/group`: `name:password:gid:member,member`. Blank lines, `#` comments
/// and NIS compat lines (`+`, `-`) are skipped; any other malformed line is an error,
/// because a half-read group database would give wrong answers silently.
pub(super) fn parse_group(text: &str) -> Result<Vec<GroupEntry>, String> {
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if skippable(line) {
            continue;
        }
        let bad = || format!("`{GROUP_PATH}` line {}: unexpected {line:?}", n + 1);
        let fields: Vec<&str> = line.split(':').collect();
        let [name, _password, gid, members] = fields[..] else {
            return Err(bad());
        };
        entries.push(GroupEntry {
            name: name.to_string(),
            gid: gid.parse().map_err(|_| bad())?,
            members: members
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect(),
        });
    }
    Ok(entries)
}

/// Returns true if and only if a line of `/etc/passwd` or `/etc/group` holds no entry:
/// blank, a comment, or an NIS compat marker.
pub(super) fn skippable(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line.starts_with(['#', '+', '-'])
}

/// The target's `/etc/group`, read once per run for every check that needs it.
pub(super) fn groups(host: &Host) -> Result<Vec<GroupEntry>, ProbeError> {
    groups_opt(host)?
        .ok_or_else(|| ProbeError::Failed(format!("`{GROUP_PATH}` does not exist on the target")))
}

/// Like [`groups`]; `None` if the file does not exist (a `FROM scratch` image).
pub(super) fn groups_opt(host: &Host) -> Result<Option<Vec<GroupEntry>>, ProbeError> {
    let Some(bytes) = host.read_opt(GROUP_PATH)? else {
        return Ok(None);
    };
    parse_group(&String::from_utf8_lossy(&bytes))
        .map(Some)
        .map_err(ProbeError::Failed)
}

/// Checks a user or group name as written in a spec: what the account files can hold.
pub(super) fn check_name(id: &str, what: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(format!("the {what} name is empty"));
    }
    if let Some(c) = id.chars().find(|c| *c == ':' || c.is_control()) {
        return Err(format!(
            "a {what} name cannot contain {c:?}; write the name as in `/etc/{}`",
            if what == "user" { "passwd" } else { "group" }
        ));
    }
    Ok(())
}

#[derive(Debug)]
struct Group {
    name: String,
}

fn new(id: &str, _options: &Options) -> Result<Box<dyn Resource>, String> {
    check_name(id, "group")?;
    Ok(Box::new(Group {
        name: id.to_string(),
    }))
}

impl Resource for Group {
    fn facts(&self, _wanted: &[&'static str], _ask: &Ask<'_>) -> Vec<Fact> {
        vec![Fact::Read(GROUP_PATH.into())]
    }

    fn probe(&self, host: &Host, wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        let mut seen = Observed::new();
        let Some(group) = groups(host)?.into_iter().find(|g| g.name == self.name) else {
            seen.set("exists", Value::Bool(false));
            for prop in wanted.iter().filter(|p| **p != "exists") {
                seen.fail(
                    prop,
                    ProbeError::Failed(format!("group `{}` does not exist", self.name)),
                );
            }
            return Ok(seen);
        };
        seen.set("exists", Value::Bool(true));
        seen.set("gid", Value::Int(group.gid));
        seen.set("members", Value::List(group.members));
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(os: &str) -> String {
        crate::resource::fixture("group", os, "group")
    }

    fn find<'a>(entries: &'a [GroupEntry], name: &str) -> &'a GroupEntry {
        entries.iter().find(|g| g.name == name).unwrap()
    }

    #[test]
    fn parses_debian_rocky_and_alpine_group_files() {
        let debian = parse_group(&fixture("debian-12")).unwrap();
        assert_eq!(find(&debian, "root").gid, 0);
        assert!(find(&debian, "root").members.is_empty());
        assert_eq!(find(&debian, "ssl-cert").members, ["postgres"]);
        assert_eq!(find(&debian, "nogroup").gid, 65534);
        let rocky = parse_group(&fixture("rocky-9")).unwrap();
        assert_eq!(find(&rocky, "wheel").members, ["rocky"]);
        assert_eq!(find(&rocky, "nobody").gid, 65534);
        let alpine = parse_group(&fixture("alpine-3.19")).unwrap();
        assert_eq!(find(&alpine, "bin").members, ["root", "bin", "daemon"]);
        assert_eq!(find(&alpine, "nogroup").gid, 65533);
    }

    #[test]
    fn skips_comments_and_refuses_garbage() {
        let entries = parse_group("# local\n\n+:::\nstaff:x:50:a, b,\n").unwrap();
        assert_eq!(
            entries,
            [GroupEntry {
                name: "staff".into(),
                gid: 50,
                members: vec!["a".into(), "b".into()],
            }]
        );
        assert!(parse_group("staff:x:50\n").unwrap_err().contains("line 1"));
        assert!(parse_group("staff:x:fifty:\n").is_err());
    }

    #[test]
    fn names_are_checked() {
        assert!(new("", &Options::new()).is_err());
        assert!(
            new("a:b", &Options::new())
                .unwrap_err()
                .contains("/etc/group")
        );
        assert!(new("a\nb", &Options::new()).is_err());
        assert!(new("www-data", &Options::new()).is_ok());
    }

    #[test]
    fn observes_the_local_root_group() {
        let host = Host::local();
        let seen = new("root", &Options::new())
            .unwrap()
            .probe(&host, &["gid"])
            .unwrap();
        assert_eq!(seen.get("exists").unwrap(), &Value::Bool(true));
        assert_eq!(seen.get("gid").unwrap(), &Value::Int(0));
        let gone = new("ispec-no-such-group", &Options::new())
            .unwrap()
            .probe(&host, &["exists", "gid"])
            .unwrap();
        assert_eq!(gone.get("exists").unwrap(), &Value::Bool(false));
        assert!(gone.get("gid").is_err());
    }
}
