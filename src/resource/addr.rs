//! `addr`: whether a TCP or UDP address can be reached from the target.
//!
//! TCP is reachable when a connection is accepted within the time limit. UDP has no
//! handshake: a datagram is sent on a connected socket and an ICMP "port unreachable"
//! (seen as `ECONNREFUSED`) means not reachable, while silence for up to a second
//! counts as reachable, since an open UDP port usually says nothing. So
//! `reachable = true` for UDP only proves that nothing refused.
//!
//! On the local machine ispec connects itself. On other targets (containers, SSH
//! hosts) the connection is made from inside the target, so the answer is the
//! target's own view of the network: by ispec's probe, in the target's network
//! namespace, with the host name resolved from the target's `/etc/hosts` and
//! `/etc/resolv.conf` (see [`crate::gather::net`]), TCP and UDP alike. Where the probe
//! cannot run, TCP is tried with bash's `/dev/tcp` under coreutils' `timeout` (a
//! target without them gives an error result naming the missing tool), and UDP is
//! not checked: no common tool tells a refusal from silence.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use ispec_probe::net::{self, Refusal, UDP_WAIT};

use crate::cmd::{Cmd, Output};
use crate::expect::{Ty, Value};
use crate::gather::net::{Connect, Connected, Net, NetAnswer, NetQuery, millis, plain_words};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};

use super::{Kind, Observed, Options, PropDef, Resource, dns};

pub(super) const KIND: Kind = Kind {
    key: "addr",
    props: &[PropDef::new(
        "reachable",
        Ty::Bool,
        "a TCP connection is accepted, or a UDP datagram is not refused",
    )],
    options: &[],
    new,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
}

#[derive(Debug, PartialEq, Eq)]
struct Addr {
    proto: Proto,
    host: String,
    port: u16,
}

fn new(id: &str, _options: &Options) -> Result<Box<dyn Resource>, String> {
    Ok(Box::new(parse_id(id)?))
}

/// Parses `tcp://HOST:PORT` or `udp://HOST:PORT` (`[::1]` for an IPv6 address).
fn parse_id(id: &str) -> Result<Addr, String> {
    let fix = "write `tcp://HOST:PORT` or `udp://HOST:PORT` (IPv6 as `tcp://[::1]:PORT`)";
    let (proto, rest) = if let Some(rest) = id.strip_prefix("tcp://") {
        (Proto::Tcp, rest)
    } else if let Some(rest) = id.strip_prefix("udp://") {
        (Proto::Udp, rest)
    } else {
        return Err(format!("`{id}` has no `tcp://` or `udp://`; {fix}"));
    };
    let Some((host, port)) = rest.rsplit_once(':') else {
        return Err(format!("`{id}` has no port; {fix}"));
    };
    let port = match port.parse::<u16>() {
        Ok(p) if p > 0 => p,
        _ => return Err(format!("`{port}` is not a port from 1 to 65535; {fix}")),
    };
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) if v6.parse::<std::net::Ipv6Addr>().is_ok() => v6,
        Some(_) => return Err(format!("`{host}` is not an IPv6 address; {fix}")),
        None if host.contains(':') => {
            return Err(format!("`{host}` needs brackets, as in `[::1]`; {fix}"));
        }
        None => host,
    };
    let bad_char = |c: char| c.is_whitespace() || c.is_control() || "/?#@[]".contains(c);
    if host.is_empty() || host.contains(bad_char) {
        return Err(format!("`{id}` has no valid host; {fix}"));
    }
    Ok(Addr {
        proto,
        host: host.to_string(),
        port,
    })
}

impl Resource for Addr {
    fn facts(&self, _wanted: &[&'static str], ask: &Ask<'_>) -> Vec<Fact> {
        vec![Fact::Net(self.net(ask.timeout))]
    }

    fn probe(&self, host: &Host, _wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        if !host.is_local() {
            return self.probe_inside(host);
        }
        let deadline = Instant::now() + host.timeout();
        let targets: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| ProbeError::Failed(format!("cannot resolve `{}`: {e}", self.host)))?
            .collect();
        let mut reachable = false;
        let mut why = Vec::new();
        for target in targets {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // The probe's own connections, made here: one behaviour on every target.
            let tried = match self.proto {
                Proto::Tcp => net::tcp_one(target, deadline).map(drop),
                Proto::Udp => net::udp_one(target, left.min(UDP_WAIT)),
            };
            match tried {
                Ok(()) => {
                    reachable = true;
                    break;
                }
                Err(Refusal::Said(_, said)) => why.push(plain_words(&said)),
                Err(Refusal::NoName(e) | Refusal::Failed(e)) => {
                    return Err(ProbeError::Failed(plain_words(&e)));
                }
            }
        }
        let mut seen = Observed::new();
        if !reachable && !why.is_empty() {
            seen.note("reachable", why.join("; "));
        }
        seen.set("reachable", Value::Bool(reachable));
        Ok(seen)
    }
}

impl Addr {
    /// The program that connects from inside a non-local target where the probe
    /// cannot, within [`inside_limit`].
    fn inside_cmd(&self, timeout: Duration) -> Cmd {
        let secs = inside_limit(timeout).as_secs().to_string();
        Cmd::new("timeout")
            .arg(secs)
            .arg("bash")
            .arg("-c")
            .arg(r#"exec 3<>"/dev/tcp/$1/$2""#)
            .arg("ispec")
            .arg(&self.host)
            .arg(self.port.to_string())
    }

    /// The connection as a network fact: made by the probe, or else (TCP only) by
    /// [`Addr::inside_cmd`], both within [`inside_limit`].
    fn net(&self, timeout: Duration) -> Net {
        Net {
            query: NetQuery::Connect(Connect {
                host: self.host.clone(),
                port: self.port,
                udp: self.proto == Proto::Udp,
                timeout_ms: millis(inside_limit(timeout)),
            }),
            fallback: (self.proto == Proto::Tcp).then(|| self.inside_cmd(timeout)),
        }
    }

    /// Connects from inside a non-local target.
    fn probe_inside(&self, host: &Host) -> Result<Observed, ProbeError> {
        if let Some(answer) = host.gathered_net(&self.net(host.timeout()).query) {
            let mut seen = Observed::new();
            let reachable = match answer? {
                NetAnswer::Connect(Connected::Reachable) => true,
                NetAnswer::Connect(Connected::Not(why)) => {
                    seen.note("reachable", why);
                    false
                }
                NetAnswer::Connect(Connected::NoName(_)) => return Err(self.no_name()),
                other => {
                    return Err(ProbeError::Failed(format!(
                        "an unexpected answer: {other:?}"
                    )));
                }
            };
            seen.set("reachable", Value::Bool(reachable));
            return Ok(seen);
        }
        if self.proto == Proto::Udp {
            return Err(ProbeError::unsupported("udp addr", &host.target()));
        }
        let limit = inside_limit(host.timeout());
        let out = host.run_memo(&self.inside_cmd(host.timeout()))?;
        let mut seen = Observed::new();
        let (reachable, why) = self.judge_bash(&out, limit, host.target())?;
        if let Some(why) = why {
            seen.note("reachable", why);
        }
        seen.set("reachable", Value::Bool(reachable));
        Ok(seen)
    }
}

impl Addr {
    fn no_name(&self) -> ProbeError {
        ProbeError::Failed(format!("cannot resolve `{}` on the target", self.host))
    }

    /// Reads what `bash`'s `/dev/tcp` ([`Addr::inside_cmd`]) said: reachable or not
    /// and why. Only bash's own `connect:` failure (refused, reset, no route) or no
    /// answer in time is "not reachable"; a name that does not resolve, a bash
    /// without `/dev/tcp` or anything else unknown is an error, never a
    /// `reachable = false` pass.
    fn judge_bash(
        &self,
        out: &Output,
        limit: Duration,
        target: &str,
    ) -> Result<(bool, Option<String>), ProbeError> {
        let err = out.stderr_text();
        let connect = err.lines().find(|l| l.contains("connect:"));
        match out.status {
            Some(0) => Ok((true, None)),
            Some(124) => Ok((
                false,
                Some(format!(
                    "no answer within {}",
                    humantime::format_duration(limit)
                )),
            )),
            // bash says `bash: connect: Connection refused` and more; the cause is
            // what follows the last colon.
            Some(1) if connect.is_some() => {
                let cause = connect
                    .unwrap_or_default()
                    .rsplit(':')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_lowercase();
                Ok((false, (!cause.is_empty()).then_some(cause)))
            }
            Some(1) if dns::is_no_such_name(&err) || dns::is_resolver_failure(&err) => {
                Err(self.no_name())
            }
            Some(127) => Err(ProbeError::ToolMissing("bash".into())),
            _ if err.contains("/dev/tcp") && err.contains("No such file or directory") => {
                Err(ProbeError::unsupported(
                    "`addr` (bash there has no `/dev/tcp`, and ispec's probe could not run)",
                    &target,
                ))
            }
            _ => Err(ProbeError::Failed(format!(
                "cannot try `{}:{}` from the target: {}",
                self.host,
                self.port,
                err.trim()
            ))),
        }
    }
}

/// How long a connection from inside a target may take: half the check's time limit
/// (1 to 10 s), so that a silent drop ends as "not reachable" before the batch's own
/// limit turns it into an error.
fn inside_limit(timeout: Duration) -> Duration {
    Duration::from_secs((timeout.as_secs() / 2).clamp(1, 10))
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, UdpSocket};

    use super::*;

    fn reachable(id: &str) -> bool {
        let host = Host::local().with_timeout(Duration::from_secs(5));
        let seen = new(id, &Options::new())
            .unwrap()
            .probe(&host, &["reachable"])
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        seen.get("reachable").unwrap() == &Value::Bool(true)
    }

    fn closed_tcp_port() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[test]
    fn ids() {
        assert_eq!(
            parse_id("tcp://127.0.0.1:80").unwrap(),
            Addr {
                proto: Proto::Tcp,
                host: "127.0.0.1".into(),
                port: 80
            }
        );
        assert_eq!(parse_id("udp://[::1]:53").unwrap().host, "::1");
        assert_eq!(parse_id("tcp://db.internal:5432").unwrap().port, 5432);
        for (bad, says) in [
            ("127.0.0.1:80", "no `tcp://`"),
            ("tcp://127.0.0.1", "no port"),
            ("tcp://127.0.0.1:0", "not a port"),
            ("tcp://127.0.0.1:99999", "not a port"),
            ("tcp://::1:80", "needs brackets"),
            ("tcp://[nope]:80", "not an IPv6"),
            ("tcp://:80", "no valid host"),
            ("tcp://a b:80", "no valid host"),
        ] {
            let err = parse_id(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn tcp_open_and_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(reachable(&format!("tcp://127.0.0.1:{port}")));
        assert!(!reachable(&format!(
            "tcp://127.0.0.1:{}",
            closed_tcp_port()
        )));
    }

    #[test]
    fn tcp_ipv6_loopback() {
        let listener = TcpListener::bind("[::1]:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(reachable(&format!("tcp://[::1]:{port}")));
    }

    #[test]
    fn udp_open_and_closed() {
        let open = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = open.local_addr().unwrap().port();
        assert!(reachable(&format!("udp://127.0.0.1:{port}")));
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        assert!(!reachable(&format!("udp://127.0.0.1:{closed_port}")));
    }

    #[test]
    fn other_targets_connect_from_inside() {
        let host = Host::new(Box::new(crate::backend::Elsewhere));
        let inside = |id: &str| {
            new(id, &Options::new())
                .unwrap()
                .probe(&host.fresh(), &["reachable"])
        };
        let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = open.local_addr().unwrap().port();
        let seen = inside(&format!("tcp://127.0.0.1:{port}")).unwrap();
        assert_eq!(seen.get("reachable").unwrap(), &Value::Bool(true));
        drop(open);
        let seen = inside(&format!("tcp://127.0.0.1:{port}")).unwrap();
        assert_eq!(seen.get("reachable").unwrap(), &Value::Bool(false));
        assert_eq!(
            inside("udp://127.0.0.1:53").unwrap_err().to_string(),
            "udp addr checks are not supported on `test://elsewhere`"
        );
    }

    #[test]
    fn what_bash_says_is_read_strictly() {
        let addr = parse_id("tcp://db:5432").unwrap();
        let said = |status: i32, stderr: &str| {
            let out = Output {
                status: Some(status),
                stdout: Vec::new(),
                stderr: stderr.as_bytes().to_vec(),
            };
            addr.judge_bash(&out, Duration::from_secs(2), "docker://web")
                .map_err(|e| e.to_string())
        };
        assert_eq!(said(0, ""), Ok((true, None)));
        assert_eq!(
            said(
                1,
                "ispec: connect: Connection refused\nispec: line 1: /dev/tcp/db/5432: Connection refused\n"
            ),
            Ok((false, Some("connection refused".into())))
        );
        assert_eq!(
            said(124, ""),
            Ok((false, Some("no answer within 2s".into())))
        );
        // A name that does not resolve, in glibc's and musl's words, or a resolver
        // that could not be asked: an error, never "not reachable".
        for no_name in [
            "ispec: line 1: db: Name or service not known",
            "ispec: line 1: db: No address associated with hostname",
            "ispec: line 1: db: Name does not resolve",
            "ispec: line 1: db: Temporary failure in name resolution",
            "ispec: line 1: db: Try again",
        ] {
            assert_eq!(
                said(1, no_name),
                Err("cannot resolve `db` on the target".into()),
                "{no_name}"
            );
        }
        assert_eq!(
            said(1, "ispec: line 1: /dev/tcp/db/5432: No such file or directory"),
            Err("`addr` (bash there has no `/dev/tcp`, and ispec's probe could not run) checks are not supported on `docker://web`".into())
        );
        assert!(
            said(1, "something else")
                .unwrap_err()
                .contains("something else")
        );
        assert_eq!(
            said(127, ""),
            Err("`bash` is not installed on the target".into())
        );
    }
}
