//! Network facts: a connection, a name's addresses, an `http://` response, found
//! from inside the target. The probe answers them itself (in the target's network
//! namespace, with the target's `/etc/hosts` and `/etc/resolv.conf`), so a target
//! with no shell, `curl` or `getent` can be checked all the same. Where the probe
//! cannot run, each fact names the program that finds it out instead (`bash`,
//! `curl`, `getent`), which the gathering script or a round trip of its own runs.

use std::net::IpAddr;
use std::time::Duration;

pub use ispec_probe::wire::{Connect, Http, Resolve};
use ispec_probe::wire::{Query, Reply};

use crate::cmd::Cmd;
use crate::host::ProbeError;

/// What the probe is asked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NetQuery {
    /// A TCP or UDP connection.
    Connect(Connect),
    /// A name's addresses.
    Resolve(Resolve),
    /// An `http://` request.
    Http(Http),
}

/// A network fact: the probe's query and the program that answers it without the
/// probe (`None`: nothing does, as for UDP).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Net {
    /// What the probe is asked.
    pub query: NetQuery,
    /// The program run instead where the probe cannot run.
    pub fallback: Option<Cmd>,
}

/// How a connection went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connected {
    /// Accepted (TCP) or not refused (UDP).
    Reachable,
    /// Refused, timed out or unreachable, in words.
    Not(String),
    /// The host name does not resolve on the target, in words.
    NoName(String),
}

/// What the probe found for a [`NetQuery`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetAnswer {
    /// For `Connect`.
    Connect(Connected),
    /// For `Resolve`: the addresses, sorted, or `None` when the name does not exist.
    Resolved(Option<Vec<IpAddr>>),
    /// For `Http`: the last response.
    Response {
        /// The status code.
        status: u16,
        /// `name: value` lines, names in lowercase.
        headers: Vec<String>,
        /// The body.
        body: Vec<u8>,
    },
}

/// Milliseconds for the wire, saturated.
pub fn millis(timeout: Duration) -> u64 {
    u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)
}

impl NetQuery {
    /// The query as the probe reads it.
    pub(crate) fn wire(&self) -> Query {
        match self {
            Self::Connect(c) => Query::Connect(c.clone()),
            Self::Resolve(r) => Query::Resolve(r.clone()),
            Self::Http(h) => Query::Http(h.clone()),
        }
    }

    /// How long the probe may take to answer.
    pub(crate) fn limit(&self) -> Duration {
        Duration::from_millis(match self {
            Self::Connect(c) => c.timeout_ms,
            Self::Resolve(r) => r.timeout_ms,
            Self::Http(h) => h.timeout_ms,
        })
    }

    /// Reads the probe's reply; `timeout` is what a timed-out answer reports.
    pub(crate) fn answer(&self, reply: Reply) -> Result<NetAnswer, ProbeError> {
        let text = |f: &[u8]| String::from_utf8_lossy(f).into_owned();
        let bad = |fields: &[Vec<u8>]| {
            ProbeError::Failed(format!("an answer ispec cannot read: {fields:?}"))
        };
        match (self, reply) {
            (Self::Connect(_), Reply::Ok(fields)) if fields.len() == 2 => {
                Ok(NetAnswer::Connect(match &fields[0][..] {
                    b"reachable" => Connected::Reachable,
                    b"noname" => Connected::NoName(text(&fields[1])),
                    b"refused" | b"timeout" | b"unreachable" => {
                        Connected::Not(plain_words(&text(&fields[1])))
                    }
                    _ => return Err(bad(&fields)),
                }))
            }
            (Self::Resolve(_), Reply::Ok(fields)) if fields.len() == 1 => {
                let ips = text(&fields[0])
                    .lines()
                    .map(|l| l.parse::<IpAddr>().map_err(|_| bad(&fields)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(NetAnswer::Resolved(Some(ips)))
            }
            (Self::Resolve(_), Reply::NotFound) => Ok(NetAnswer::Resolved(None)),
            (Self::Http(_), Reply::Ok(mut fields)) if fields.len() == 3 => {
                let body = fields.pop().unwrap_or_default();
                let headers = text(&fields[1]).lines().map(str::to_string).collect();
                let status = text(&fields[0]).parse().map_err(|_| bad(&fields))?;
                Ok(NetAnswer::Response {
                    status,
                    headers,
                    body,
                })
            }
            (_, Reply::Timeout) => Err(ProbeError::Timeout(self.limit())),
            (_, Reply::Failed(why) | Reply::Denied(why)) => Err(ProbeError::Failed(why)),
            (_, Reply::Ok(fields)) => Err(bad(&fields)),
            (_, other) => Err(ProbeError::Failed(format!(
                "an unexpected answer: {other:?}"
            ))),
        }
    }
}

/// An I/O error's text as a person reads it: `192.168.1.2:80: connection refused`,
/// without Rust's `(os error 111)`.
pub(crate) fn plain_words(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(" (os error ") {
        out.push_str(&rest[..at]);
        rest = rest[at..].split_once(')').map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    // `Connection refused` → `connection refused`, past an address's colon.
    match out.rsplit_once(": ") {
        Some((addr, why)) => format!("{addr}: {}", why.to_lowercase()),
        None => out.to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_plainly() {
        assert_eq!(
            plain_words("192.168.1.2:80: Connection refused (os error 111)"),
            "192.168.1.2:80: connection refused"
        );
        assert_eq!(
            plain_words("Connection timed out (os error 110)"),
            "connection timed out"
        );
        assert_eq!(plain_words("no answer in time"), "no answer in time");
    }

    #[test]
    fn replies_become_answers() {
        let connect = NetQuery::Connect(Connect {
            host: "web".into(),
            port: 80,
            udp: false,
            timeout_ms: 1000,
        });
        let ok = |a: &str, b: &str| Reply::Ok(vec![a.into(), b.into()]);
        assert_eq!(
            connect.answer(ok("reachable", "")).unwrap(),
            NetAnswer::Connect(Connected::Reachable)
        );
        assert_eq!(
            connect.answer(ok("refused", "no")).unwrap(),
            NetAnswer::Connect(Connected::Not("no".into()))
        );
        assert!(connect.answer(ok("maybe", "")).is_err());
        assert_eq!(
            connect.answer(Reply::Timeout).unwrap_err(),
            ProbeError::Timeout(Duration::from_secs(1))
        );
        let resolve = NetQuery::Resolve(Resolve {
            name: "web".into(),
            timeout_ms: 1,
        });
        assert_eq!(
            resolve
                .answer(Reply::Ok(vec![b"10.0.0.2\n::1\n".to_vec()]))
                .unwrap(),
            NetAnswer::Resolved(Some(vec![
                "10.0.0.2".parse().unwrap(),
                "::1".parse().unwrap()
            ]))
        );
        assert_eq!(
            resolve.answer(Reply::NotFound).unwrap(),
            NetAnswer::Resolved(None)
        );
        let http = NetQuery::Http(Http {
            method: "GET".into(),
            url: "http://web/".into(),
            headers: Vec::new(),
            body: None,
            follow: false,
            timeout_ms: 1,
        });
        let reply = Reply::Ok(vec![
            b"200".to_vec(),
            b"server: x\n".to_vec(),
            b"hi".to_vec(),
        ]);
        assert_eq!(
            http.answer(reply).unwrap(),
            NetAnswer::Response {
                status: 200,
                headers: vec!["server: x".into()],
                body: b"hi".to_vec()
            }
        );
    }
}
