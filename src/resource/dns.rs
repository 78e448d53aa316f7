//! `dns`: whether a host name resolves, and to which addresses, as the target sees it.
//!
//! On the local machine resolution goes through this machine's resolver
//! (`getaddrinfo` by `ToSocketAddrs`, in-process: `/etc/hosts`, then DNS, as
//! `/etc/nsswitch.conf` says). On any other target ispec's probe resolves the name
//! there, from the target's `/etc/hosts` and then DNS to the target's
//! `/etc/resolv.conf` servers, without NSS modules (see [`crate::gather::net`]).
//! Where the probe cannot run, `getent ahosts NAME` runs there, which glibc and
//! Alpine's musl-utils both provide with the same layout.

use std::collections::BTreeSet;
use std::net::{IpAddr, ToSocketAddrs};

use crate::cmd::{Cmd, Output};
use crate::expect::{Ty, Value};
use crate::gather::net::{Net, NetAnswer, NetQuery, Resolve, millis};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};

use super::{Kind, Observed, Options, PropDef, Resource};

pub(super) const KIND: Kind = Kind {
    key: "dns",
    props: &[
        PropDef::gate("resolvable", "the name resolves to at least one address"),
        PropDef::new(
            "addrs",
            Ty::List,
            "the IP addresses it resolves to, deduplicated and sorted",
        ),
    ],
    options: &[],
    new,
};

#[derive(Debug)]
struct Dns {
    name: String,
}

fn new(id: &str, _options: &Options) -> Result<Box<dyn Resource>, String> {
    check_name(id)?;
    Ok(Box::new(Dns {
        name: id.to_string(),
    }))
}

/// Accepts an IP address or a host name made of dot-separated labels of letters,
/// digits, `-` and `_` (a leading `-` would read as an option to `getent`).
fn check_name(id: &str) -> Result<(), String> {
    if id.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let name = id.strip_suffix('.').unwrap_or(id);
    let fix = "write a host name such as `db.example.org`";
    if name.is_empty() || name.len() > 253 {
        return Err(format!("`{id}` is not a host name; {fix}"));
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(format!("`{id}` is not a host name; {fix}"));
        }
    }
    Ok(())
}

impl Dns {
    fn getent(&self) -> Cmd {
        Cmd::new("getent").arg("ahosts").arg(&self.name)
    }

    /// The lookup as a network fact: by the probe, or else by `getent`.
    fn net(&self, timeout: std::time::Duration) -> Net {
        Net {
            query: NetQuery::Resolve(Resolve {
                name: self.name.clone(),
                timeout_ms: millis(timeout),
            }),
            fallback: Some(self.getent()),
        }
    }
}

impl Resource for Dns {
    fn facts(&self, _wanted: &[&'static str], ask: &Ask<'_>) -> Vec<Fact> {
        vec![Fact::Net(self.net(ask.timeout))]
    }

    fn probe(&self, host: &Host, _wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        let gathered = host.gathered_net(&self.net(host.timeout()).query);
        let addrs = if host.is_local() {
            self.resolve_here()?
        } else if let Some(answer) = gathered {
            match answer? {
                NetAnswer::Resolved(ips) => ips.map(|ips| ips.into_iter().collect()),
                other => {
                    return Err(ProbeError::Failed(format!(
                        "an unexpected answer: {other:?}"
                    )));
                }
            }
        } else {
            let out = host.run_memo(&self.getent())?;
            interpret_getent(&out).map_err(ProbeError::Failed)?
        };
        let mut seen = Observed::new();
        let addrs = addrs.unwrap_or_default();
        seen.set("resolvable", Value::Bool(!addrs.is_empty()));
        seen.set(
            "addrs",
            Value::List(addrs.iter().map(ToString::to_string).collect()),
        );
        Ok(seen)
    }
}

impl Dns {
    /// Resolves with this machine's `getaddrinfo`; `None` when the name does not exist.
    fn resolve_here(&self) -> Result<Option<BTreeSet<IpAddr>>, ProbeError> {
        match (self.name.as_str(), 0).to_socket_addrs() {
            Ok(found) => Ok(Some(found.map(|a| a.ip()).collect())),
            Err(e) if is_no_such_name(&e.to_string()) => Ok(None),
            Err(e) => Err(ProbeError::Failed(format!(
                "cannot resolve `{}`: {e}",
                self.name
            ))),
        }
    }
}

/// Returns true if and only if a `getaddrinfo` error says the name has no address,
/// as opposed to a resolver that could not be asked (`Temporary failure in name
/// resolution`), which is an error result and never a `resolvable = false` pass.
/// The texts are glibc's and musl's `gai_strerror` for `EAI_NONAME` and `EAI_NODATA`.
pub(super) fn is_no_such_name(message: &str) -> bool {
    [
        "Name or service not known",
        "No address associated with hostname",
        "Name does not resolve",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// Returns true if and only if `message` says the resolver could not be asked or
/// gave no answer yet (glibc's and musl's `EAI_AGAIN`): the name may exist.
pub(super) fn is_resolver_failure(message: &str) -> bool {
    ["Temporary failure in name resolution", "Try again"]
        .iter()
        .any(|m| message.contains(m))
}

/// Reads `getent ahosts NAME`: status 2 means the name has no address.
fn interpret_getent(out: &Output) -> Result<Option<BTreeSet<IpAddr>>, String> {
    match out.status {
        Some(0) => parse_ahosts(&out.stdout_text()).map(Some),
        Some(2) => Ok(None),
        Some(1) => Err(format!(
            "`getent` on the target has no `ahosts` database: {}",
            out.stderr_text()
        )),
        Some(code) => Err(format!(
            "`getent ahosts` failed with status {code}: {}",
            out.stderr_text()
        )),
        None => Err("`getent ahosts` was killed by a signal".into()),
    }
}

/// Parses `getent ahosts` output: an address, a socket type and maybe a name per
/// line; every address appears once per socket type.
fn parse_ahosts(text: &str) -> Result<BTreeSet<IpAddr>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            line.split_whitespace()
                .next()
                .and_then(|a| a.parse::<IpAddr>().ok())
                .ok_or_else(|| format!("unexpected `getent ahosts` line: {line:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {

    use super::*;

    fn fixture(os: &str, case: &str) -> String {
        crate::resource::fixture("dns", os, case)
    }

    fn strings(set: &BTreeSet<IpAddr>) -> Vec<String> {
        set.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn parses_glibc_and_musl_getent() {
        let debian = parse_ahosts(&fixture("debian-12", "getent-ahosts-localhost")).unwrap();
        assert_eq!(strings(&debian), ["127.0.0.1"]);
        for os in ["rocky-9", "alpine-3.19"] {
            let both = parse_ahosts(&fixture(os, "getent-ahosts-localhost")).unwrap();
            assert_eq!(strings(&both), ["127.0.0.1", "::1"], "{os}");
        }
        assert!(parse_ahosts("not-an-address STREAM x\n").is_err());
    }

    #[test]
    fn getent_statuses() {
        let out = |status, stdout: &str, stderr: &str| Output {
            status: Some(status),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        };
        let found = interpret_getent(&out(
            0,
            &fixture("debian-12", "getent-ahosts-localhost"),
            "",
        ));
        assert_eq!(
            found.unwrap().map(|s| strings(&s)),
            Some(vec!["127.0.0.1".into()])
        );
        assert_eq!(interpret_getent(&out(2, "", "")), Ok(None));
        let usage = interpret_getent(&out(1, "", "Unknown database: ahosts"));
        assert!(usage.unwrap_err().contains("no `ahosts` database"));
    }

    #[test]
    fn failures_to_ask_are_not_answers() {
        assert!(is_no_such_name(
            "failed to lookup address information: Name or service not known"
        ));
        assert!(is_no_such_name("Name does not resolve"));
        assert!(!is_no_such_name(
            "failed to lookup address information: Temporary failure in name resolution"
        ));
    }

    #[test]
    fn names_are_checked() {
        for good in [
            "localhost",
            "db-1.example.org",
            "example.org.",
            "_srv.x",
            "::1",
        ] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-n", "a..b", "a b", "$(id)", "a/b", &"x".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn getent_on_another_target() {
        // `localhost` is in /etc/hosts, so no DNS query leaves the machine.
        let host = Host::new(Box::new(crate::backend::Elsewhere));
        let seen = new("localhost", &Options::new())
            .unwrap()
            .probe(&host, &["addrs"])
            .unwrap();
        assert_eq!(
            seen.get("addrs").unwrap(),
            &Value::List(vec!["127.0.0.1".into()])
        );
        assert_eq!(host.round_trips(), 1);
    }

    #[test]
    fn resolves_localhost_from_etc_hosts() {
        // `localhost` is in /etc/hosts, so no DNS query leaves the machine.
        let host = Host::local();
        let seen = new("localhost", &Options::new())
            .unwrap()
            .probe(&host, &["resolvable", "addrs"])
            .unwrap();
        assert_eq!(seen.get("resolvable").unwrap(), &Value::Bool(true));
        let Value::List(addrs) = seen.get("addrs").unwrap() else {
            panic!("addrs are a list")
        };
        assert!(addrs.contains(&"127.0.0.1".to_string()), "{addrs:?}");
    }
}
