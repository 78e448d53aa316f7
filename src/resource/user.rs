//! `user`: an account from `/etc/passwd`, its ids, home, shell and groups.
//!
//! This module owns `/etc/passwd`: its parser and its one read per run serve the
//! `user` kind and the `process` kind's `users` property. Group memberships come from
//! the `group` module, which owns `/etc/group`. Accounts that only come from NSS
//! services (LDAP, SSSD) are not in the files and are not seen.

use crate::expect::{Ty, Value};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};

use super::group::{self, GroupEntry};
use super::{Kind, Observed, Options, PropDef, Resource, wants};

pub(super) const KIND: Kind = Kind {
    key: "user",
    props: &[
        PropDef::gate("exists", "the user is in /etc/passwd"),
        PropDef::new("uid", Ty::Int, "the user id"),
        PropDef::new("gid", Ty::Int, "the primary group's id"),
        PropDef::new("home", Ty::Str, "the home directory"),
        PropDef::new("shell", Ty::Str, "the login shell"),
        PropDef::new(
            "groups",
            Ty::List,
            "the primary group's name and every group that lists the user as a member",
        ),
    ],
    options: &[],
    new,
};

/// The path this module reads, once per run.
pub(super) const PASSWD_PATH: &str = "/etc/passwd";

/// One line of `/etc/passwd`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PasswdEntry {
    /// The user name.
    pub(super) name: String,
    /// The user id.
    pub(super) uid: i64,
    /// The primary group's id.
    pub(super) gid: i64,
    /// The home directory.
    pub(super) home: String,
    /// The login shell.
    pub(super) shell: String,
}

/// Parses `/etc/passwd`: `name:password:uid:gid:gecos:home:shell`. Blank lines,
/// comments and NIS compat lines are skipped; any other malformed line is an error.
pub(super) fn parse_passwd(text: &str) -> Result<Vec<PasswdEntry>, String> {
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if group::skippable(line) {
            continue;
        }
        let bad = || format!("`{PASSWD_PATH}` line {}: unexpected {line:?}", n + 1);
        let fields: Vec<&str> = line.split(':').collect();
        let [name, _password, uid, gid, _gecos, home, shell] = fields[..] else {
            return Err(bad());
        };
        entries.push(PasswdEntry {
            name: name.to_string(),
            uid: uid.parse().map_err(|_| bad())?,
            gid: gid.parse().map_err(|_| bad())?,
            home: home.to_string(),
            shell: shell.to_string(),
        });
    }
    Ok(entries)
}

/// The target's `/etc/passwd`, read once per run; `None` if the file does not exist
/// (a `FROM scratch` image).
pub(super) fn passwd(host: &Host) -> Result<Option<Vec<PasswdEntry>>, ProbeError> {
    let Some(bytes) = host.read_opt(PASSWD_PATH)? else {
        return Ok(None);
    };
    parse_passwd(&String::from_utf8_lossy(&bytes))
        .map(Some)
        .map_err(ProbeError::Failed)
}

/// The groups of `user` as `id -Gn` shows them: the primary group first (its gid as a
/// number when `/etc/group` has no such group), then every group listing the user.
fn groups_of(user: &PasswdEntry, groups: &[GroupEntry]) -> Vec<String> {
    let primary = groups
        .iter()
        .find(|g| g.gid == user.gid)
        .map_or_else(|| user.gid.to_string(), |g| g.name.clone());
    let mut names = vec![primary];
    for g in groups {
        if g.members.contains(&user.name) && !names.contains(&g.name) {
            names.push(g.name.clone());
        }
    }
    names
}

#[derive(Debug)]
struct User {
    name: String,
}

fn new(id: &str, _options: &Options) -> Result<Box<dyn Resource>, String> {
    group::check_name(id, "user")?;
    Ok(Box::new(User {
        name: id.to_string(),
    }))
}

impl Resource for User {
    fn facts(&self, _wanted: &[&'static str], _ask: &Ask<'_>) -> Vec<Fact> {
        vec![
            Fact::Read(PASSWD_PATH.into()),
            Fact::Read(super::group::GROUP_PATH.into()),
        ]
    }

    fn probe(&self, host: &Host, wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        let entries = passwd(host)?.ok_or_else(|| {
            ProbeError::Failed(format!("`{PASSWD_PATH}` does not exist on the target"))
        })?;
        let mut seen = Observed::new();
        let Some(user) = entries.into_iter().find(|u| u.name == self.name) else {
            seen.set("exists", Value::Bool(false));
            for prop in wanted.iter().filter(|p| **p != "exists") {
                seen.fail(
                    prop,
                    ProbeError::Failed(format!("user `{}` does not exist", self.name)),
                );
            }
            return Ok(seen);
        };
        seen.set("exists", Value::Bool(true));
        seen.set("uid", Value::Int(user.uid));
        seen.set("gid", Value::Int(user.gid));
        if wants(wanted, "groups") {
            seen.put(
                "groups",
                group::groups(host).map(|groups| Value::List(groups_of(&user, &groups))),
            );
        }
        seen.set("home", Value::Str(user.home));
        seen.set("shell", Value::Str(user.shell));
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(kind: &str, os: &str, file: &str) -> String {
        crate::resource::fixture(kind, os, file)
    }

    fn user(os: &str, name: &str) -> (PasswdEntry, Vec<String>) {
        let entry = parse_passwd(&fixture("user", os, "passwd"))
            .unwrap()
            .into_iter()
            .find(|u| u.name == name)
            .unwrap();
        let groups = groups_of(
            &entry,
            &group::parse_group(&fixture("group", os, "group")).unwrap(),
        );
        (entry, groups)
    }

    #[test]
    fn parses_debian_passwd() {
        let (root, groups) = user("debian-12", "root");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(
            (root.home.as_str(), root.shell.as_str()),
            ("/root", "/bin/bash")
        );
        assert_eq!(groups, ["root"]);
        let (nobody, groups) = user("debian-12", "nobody");
        assert_eq!((nobody.uid, nobody.home.as_str()), (65534, "/nonexistent"));
        assert_eq!(groups, ["nogroup"]);
        let (postgres, groups) = user("debian-12", "postgres");
        assert_eq!(groups, ["postgres", "ssl-cert"]);
        assert_eq!(postgres.shell, "/bin/bash");
    }

    #[test]
    fn parses_rocky_and_alpine_passwd() {
        let (rocky, groups) = user("rocky-9", "rocky");
        assert_eq!(rocky.uid, 1000);
        assert_eq!(groups, ["rocky", "adm", "wheel", "systemd-journal"]);
        let (root, groups) = user("alpine-3.19", "root");
        assert_eq!(root.shell, "/bin/sh");
        assert_eq!(
            groups,
            [
                "root", "bin", "daemon", "sys", "adm", "disk", "wheel", "floppy", "dialout",
                "tape", "video"
            ]
        );
        // Alpine's `guest` has primary gid 100 (`users`), which also lists `games`.
        let (_, groups) = user("alpine-3.19", "guest");
        assert_eq!(groups, ["users"]);
    }

    #[test]
    fn a_primary_gid_without_a_group_shows_as_a_number() {
        let entry = &parse_passwd("svc:x:990:4242::/srv:/bin/false\n").unwrap()[0];
        assert_eq!(groups_of(entry, &[]), ["4242"]);
    }

    #[test]
    fn refuses_malformed_lines() {
        assert!(
            parse_passwd("root:x:0:0:root:/root\n")
                .unwrap_err()
                .contains("line 1")
        );
        assert!(parse_passwd("root:x:zero:0:root:/root:/bin/sh\n").is_err());
        assert_eq!(parse_passwd("# comment\n+::::::\n\n").unwrap(), []);
    }

    #[test]
    fn observes_local_root() {
        let host = Host::local();
        let seen = new("root", &Options::new())
            .unwrap()
            .probe(&host, &["groups", "home"])
            .unwrap();
        assert_eq!(seen.get("uid").unwrap(), &Value::Int(0));
        assert_eq!(seen.get("home").unwrap(), &Value::Str("/root".into()));
        let Value::List(groups) = seen.get("groups").unwrap() else {
            panic!("groups is a list");
        };
        assert_eq!(groups[0], "root");
        let gone = new("ispec-no-such-user", &Options::new())
            .unwrap()
            .probe(&host, &["exists", "uid"])
            .unwrap();
        assert_eq!(gone.get("exists").unwrap(), &Value::Bool(false));
        assert!(gone.get("uid").is_err());
    }
}
