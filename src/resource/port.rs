//! `port`: whether a TCP or UDP port is listening, and on which addresses.
//!
//! The sockets come from the kernel's tables, `/proc/net/{tcp,tcp6,udp,udp6}`, each
//! read once per run for every port check; no `ss` or `netstat` is needed.
//!
//! IPv4 and IPv6 are judged as the kernel serves them, not as the tables are split. A
//! socket bound on the IPv6 wildcard `::` also accepts IPv4 connections unless it set
//! `IPV6_V6ONLY`. That flag is per socket and not shown in `/proc`, so ispec takes the
//! system default, `/proc/sys/net/ipv6/bindv6only`, which programs rarely override.
//! A socket on a v4-mapped address (`::ffff:127.0.0.1`) serves IPv4 only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::expect::{Ty, Value};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};

use super::{Kind, Observed, Options, PropDef, Resource};

pub(super) const KIND: Kind = Kind {
    key: "port",
    props: &[
        PropDef::gate(
            "listening",
            "a socket listens on the port (TCP) or is bound to it (UDP)",
        ),
        PropDef::new(
            "ip",
            Ty::List,
            "the addresses it listens on, e.g. \"0.0.0.0\", \"::\", \"127.0.0.1\"",
        ),
    ],
    options: &[],
    new,
};

/// The transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// Which IP version a check asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    /// `tcp:80`: over IPv4 or IPv6.
    Any,
    /// `tcp4:80`: reachable over IPv4.
    V4,
    /// `tcp6:80`: reachable over IPv6.
    V6,
}

/// A listening (TCP) or bound, unconnected (UDP) socket from a `/proc/net` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Listener {
    ip: IpAddr,
    port: u16,
}

/// What the kernel's tables say for one protocol.
#[derive(Debug, PartialEq, Eq)]
struct Table {
    /// From `/proc/net/tcp` or `/proc/net/udp`.
    v4: Vec<Listener>,
    /// From `/proc/net/tcp6` or `/proc/net/udp6`; empty when IPv6 is off.
    v6: Vec<Listener>,
    /// `/proc/sys/net/ipv6/bindv6only`: whether `::` sockets refuse IPv4 by default.
    v6only: bool,
}

#[derive(Debug)]
struct Port {
    proto: Proto,
    version: Version,
    number: u16,
}

fn new(id: &str, _options: &Options) -> Result<Box<dyn Resource>, String> {
    let Some((proto, port)) = id.split_once(':') else {
        return Err(match id.trim().parse::<u32>() {
            Ok(n) => format!("`{id}` has no protocol; write `tcp:{n}` or `udp:{n}`"),
            Err(_) => format!("`{id}` is not a port; write it as `tcp:80` or `udp:53`"),
        });
    };
    let (proto, version) = match proto {
        "tcp" => (Proto::Tcp, Version::Any),
        "tcp4" => (Proto::Tcp, Version::V4),
        "tcp6" => (Proto::Tcp, Version::V6),
        "udp" => (Proto::Udp, Version::Any),
        "udp4" => (Proto::Udp, Version::V4),
        "udp6" => (Proto::Udp, Version::V6),
        other => {
            return Err(format!(
                "unknown protocol `{other}`; write one of tcp, tcp4, tcp6, udp, udp4, udp6, as in `tcp:80`"
            ));
        }
    };
    let port = match port.parse::<u16>() {
        Ok(n) if n > 0 => n,
        _ => {
            return Err(format!(
                "`{port}` is not a port number; write one from 1 to 65535, as in `tcp:80`"
            ));
        }
    };
    Ok(Box::new(Port {
        proto,
        version,
        number: port,
    }))
}

/// Parses a hex address as the kernel prints it: IPv4 as one 32-bit word, IPv6 as four,
/// each word in the host's byte order (little-endian on x86 and ARM targets).
fn parse_addr(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| {
        hex.get(i * 8..i * 8 + 8)
            .and_then(|w| u32::from_str_radix(w, 16).ok())
            .map(u32::to_le_bytes)
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// Parses `ADDR:PORT` from a `/proc/net` table (the port in hex, host order).
fn parse_endpoint(text: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = text.split_once(':')?;
    Some((parse_addr(addr)?, u16::from_str_radix(port, 16).ok()?))
}

/// Parses one `/proc/net/{tcp,tcp6,udp,udp6}` table into the sockets that serve a
/// port: TCP in state `0A` (LISTEN); UDP in state `07` (unconnected) with no remote
/// address, as a connected UDP socket only talks to its peer.
fn parse_table(text: &str, proto: Proto) -> Result<Vec<Listener>, String> {
    let mut listeners = Vec::new();
    // The first line is the column header.
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let bad = || format!("unexpected `/proc/net/{}` line {line:?}", proto.name());
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_slot, local, remote, state, ..] = fields[..] else {
            return Err(bad());
        };
        let (ip, port) = parse_endpoint(local).ok_or_else(bad)?;
        let (remote_ip, remote_port) = parse_endpoint(remote).ok_or_else(bad)?;
        let serves = match proto {
            Proto::Tcp => state == "0A",
            Proto::Udp => state == "07" && remote_ip.is_unspecified() && remote_port == 0,
        };
        if serves && !listeners.contains(&Listener { ip, port }) {
            listeners.push(Listener { ip, port });
        }
    }
    Ok(listeners)
}

/// The addresses `port` listens on for a check of `version`, sorted. For IPv4 a
/// dual-stack `::` socket shows as `0.0.0.0` (every IPv4 address); a v4-mapped
/// address always shows in IPv4 form.
fn addresses(table: &Table, version: Version, port: u16) -> Vec<String> {
    let on_port = |list: &[Listener]| -> Vec<IpAddr> {
        list.iter()
            .filter(|l| l.port == port)
            .map(|l| l.ip)
            .collect()
    };
    let mut ips: Vec<IpAddr> = Vec::new();
    if version != Version::V6 {
        ips.extend(on_port(&table.v4));
    }
    for ip in on_port(&table.v6) {
        let IpAddr::V6(v6) = ip else {
            ips.push(ip);
            continue;
        };
        let mapped = v6.to_ipv4_mapped();
        match (version, mapped) {
            (Version::V6, Some(_)) => {}
            (Version::V6 | Version::Any, None) => ips.push(ip),
            (_, Some(v4)) => ips.push(IpAddr::V4(v4)),
            (Version::V4, None) if v6.is_unspecified() && !table.v6only => {
                ips.push(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            }
            (Version::V4, None) => {}
        }
    }
    ips.sort();
    ips.dedup();
    ips.iter().map(ToString::to_string).collect()
}

/// The files [`table`] reads for `proto`.
fn table_files(proto: Proto) -> [String; 3] {
    let name = proto.name();
    [
        format!("/proc/net/{name}"),
        format!("/proc/net/{name}6"),
        "/proc/sys/net/ipv6/bindv6only".to_string(),
    ]
}

/// Reads the tables of `proto` (each file once per run for every port check).
fn table(host: &Host, proto: Proto) -> Result<Table, ProbeError> {
    let name = proto.name();
    let text = |path: &str| -> Result<Option<String>, ProbeError> {
        Ok(host
            .read_opt(path)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    };
    let v4_path = format!("/proc/net/{name}");
    let v4 = text(&v4_path)?.ok_or_else(|| {
        ProbeError::Failed(format!(
            "`{v4_path}` does not exist on the target; port checks need Linux with /proc"
        ))
    })?;
    // No IPv6 table means IPv6 is off (`ipv6.disable=1`): nothing listens over it.
    let v6 = text(&format!("/proc/net/{name}6"))?.unwrap_or_default();
    let v6only = text("/proc/sys/net/ipv6/bindv6only")?.is_some_and(|t| t.trim() == "1");
    Ok(Table {
        v4: parse_table(&v4, proto).map_err(ProbeError::Failed)?,
        v6: parse_table(&v6, proto).map_err(ProbeError::Failed)?,
        v6only,
    })
}

impl Resource for Port {
    fn facts(&self, _wanted: &[&'static str], _ask: &Ask<'_>) -> Vec<Fact> {
        table_files(self.proto)
            .into_iter()
            .map(Fact::Read)
            .collect()
    }

    fn probe(&self, host: &Host, _wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        let ips = addresses(&table(host, self.proto)?, self.version, self.number);
        let mut seen = Observed::new();
        seen.set("listening", Value::Bool(!ips.is_empty()));
        seen.set("ip", Value::List(ips));
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(os: &str, file: &str) -> String {
        crate::resource::fixture("port", os, file)
    }

    /// The tables of `proto` from a fixture folder; as on a target, a missing IPv6
    /// file (and `bindv6only`) means IPv6 is off.
    fn fixture_table(os: &str, proto: Proto) -> Table {
        let dir = format!("{}/fixtures/probes/port/{os}", env!("CARGO_MANIFEST_DIR"));
        let optional =
            |file: &str| std::fs::read_to_string(format!("{dir}/{file}.txt")).unwrap_or_default();
        Table {
            v4: parse_table(&fixture(os, proto.name()), proto).unwrap(),
            v6: parse_table(&optional(&format!("{}6", proto.name())), proto).unwrap(),
            v6only: optional("bindv6only").trim() == "1",
        }
    }

    const V4_HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
    const V6_HEADER: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    fn v6_line(local: &str, state: &str) -> String {
        format!(
            "   0: {local} 00000000000000000000000000000000:0000 {state} 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n"
        )
    }

    /// A crafted table: `v4` and `v6` lines of `ADDR:PORT` in LISTEN state.
    fn crafted(v4: &[&str], v6: &[&str], v6only: bool) -> Table {
        let v4_text: String = std::iter::once(V4_HEADER.to_string())
            .chain(v4.iter().map(|l| {
                format!("   0: {l} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n")
            }))
            .collect();
        let v6_text: String = std::iter::once(V6_HEADER.to_string())
            .chain(v6.iter().map(|l| v6_line(l, "0A")))
            .collect();
        Table {
            v4: parse_table(&v4_text, Proto::Tcp).unwrap(),
            v6: parse_table(&v6_text, Proto::Tcp).unwrap(),
            v6only,
        }
    }

    const ANY6_80: &str = "00000000000000000000000000000000:0050";
    const LOOP6_80: &str = "00000000000000000000000001000000:0050";
    const MAPPED_80: &str = "0000000000000000FFFF00000100007F:0050";
    const LINK6_80: &str = "000080FE00000000FF0F00A877D1B2FE:0050";

    #[test]
    fn decodes_little_endian_addresses() {
        assert_eq!(
            parse_addr("0100007F"),
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(
            parse_addr("0A01A8C0"),
            Some(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)))
        );
        assert_eq!(
            parse_addr("00000000000000000000000001000000"),
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
        assert_eq!(
            parse_addr("0000000000000000FFFF00000100007F").map(|a| a.to_string()),
            Some("::ffff:127.0.0.1".into())
        );
        assert_eq!(
            parse_addr("B80D0120000000000000000001000000").map(|a| a.to_string()),
            Some("2001:db8::1".into())
        );
        assert_eq!(
            parse_addr("000080FE00000000FF0F00A877D1B2FE").map(|a| a.to_string()),
            Some("fe80::a800:fff:feb2:d177".into())
        );
        assert_eq!(parse_addr("0100007"), None);
        assert_eq!(parse_addr("0100007G"), None);
    }

    #[test]
    fn real_debian_tables() {
        let tcp = fixture_table("debian-12", Proto::Tcp);
        assert!(!tcp.v6only);
        // process_api on 0.0.0.0:2024; the test listeners on 18081-18084.
        assert_eq!(addresses(&tcp, Version::Any, 2024), ["0.0.0.0"]);
        assert_eq!(addresses(&tcp, Version::V6, 2024), Vec::<String>::new());
        assert_eq!(addresses(&tcp, Version::V4, 18081), ["127.0.0.1"]);
        assert_eq!(addresses(&tcp, Version::V6, 18081), Vec::<String>::new());
        // `::` with bindv6only=0: dual-stack.
        assert_eq!(addresses(&tcp, Version::Any, 18082), ["::"]);
        assert_eq!(addresses(&tcp, Version::V4, 18082), ["0.0.0.0"]);
        assert_eq!(addresses(&tcp, Version::V6, 18082), ["::"]);
        // `::1`: IPv6 only.
        assert_eq!(addresses(&tcp, Version::V4, 18083), Vec::<String>::new());
        assert_eq!(addresses(&tcp, Version::V6, 18083), ["::1"]);
        // `::ffff:127.0.0.1`: IPv4 only, shown as IPv4.
        assert_eq!(addresses(&tcp, Version::Any, 18084), ["127.0.0.1"]);
        assert_eq!(addresses(&tcp, Version::V4, 18084), ["127.0.0.1"]);
        assert_eq!(addresses(&tcp, Version::V6, 18084), Vec::<String>::new());
        // Established and TIME_WAIT connections are not listeners.
        assert_eq!(tcp.v4.len(), 2);
        assert_eq!(addresses(&tcp, Version::Any, 0xC478), Vec::<String>::new());
        let udp = fixture_table("debian-12", Proto::Udp);
        assert_eq!(addresses(&udp, Version::Any, 18085), ["127.0.0.1"]);
        assert_eq!(addresses(&udp, Version::V4, 18086), ["0.0.0.0"]);
        assert_eq!(addresses(&udp, Version::V6, 18086), ["::"]);
        // The connected UDP client socket does not count.
        assert_eq!(udp.v4.len(), 1);
        assert_eq!(addresses(&udp, Version::Any, 0x98F7), Vec::<String>::new());
    }

    #[test]
    fn crafted_rocky_and_alpine_tables() {
        // Rocky: sshd on 0.0.0.0:22 and [::]:22, chronyd on 127.0.0.1:323 and [::1]:323.
        let tcp = fixture_table("rocky-9", Proto::Tcp);
        assert_eq!(addresses(&tcp, Version::Any, 22), ["0.0.0.0", "::"]);
        assert_eq!(addresses(&tcp, Version::V4, 22), ["0.0.0.0"]);
        assert_eq!(addresses(&tcp, Version::V6, 22), ["::"]);
        let udp = fixture_table("rocky-9", Proto::Udp);
        assert_eq!(addresses(&udp, Version::Any, 323), ["127.0.0.1", "::1"]);
        assert_eq!(addresses(&udp, Version::V6, 323), ["::1"]);
        // Alpine with IPv6 off: no tcp6 file at all.
        let tcp = fixture_table("alpine-3.19", Proto::Tcp);
        assert!(tcp.v6.is_empty());
        assert_eq!(addresses(&tcp, Version::Any, 80), ["0.0.0.0"]);
        assert_eq!(addresses(&tcp, Version::V6, 80), Vec::<String>::new());
        let udp = fixture_table("alpine-3.19", Proto::Udp);
        assert_eq!(addresses(&udp, Version::V4, 53), ["127.0.0.1"]);
    }

    #[test]
    fn dual_stack_follows_bindv6only() {
        let dual = crafted(&[], &[ANY6_80], false);
        assert_eq!(addresses(&dual, Version::Any, 80), ["::"]);
        assert_eq!(addresses(&dual, Version::V4, 80), ["0.0.0.0"]);
        assert_eq!(addresses(&dual, Version::V6, 80), ["::"]);
        let v6only = crafted(&[], &[ANY6_80], true);
        assert_eq!(addresses(&v6only, Version::Any, 80), ["::"]);
        assert_eq!(addresses(&v6only, Version::V4, 80), Vec::<String>::new());
        assert_eq!(addresses(&v6only, Version::V6, 80), ["::"]);
        // A specific IPv6 address never serves IPv4, whatever the default.
        for v6only in [false, true] {
            let t = crafted(&[], &[LOOP6_80, LINK6_80], v6only);
            assert_eq!(addresses(&t, Version::V4, 80), Vec::<String>::new());
            assert_eq!(
                addresses(&t, Version::V6, 80),
                ["::1", "fe80::a800:fff:feb2:d177"]
            );
        }
        // A v4-mapped address serves IPv4 only, and shows as IPv4.
        let mapped = crafted(&[], &[MAPPED_80], true);
        assert_eq!(addresses(&mapped, Version::V4, 80), ["127.0.0.1"]);
        assert_eq!(addresses(&mapped, Version::Any, 80), ["127.0.0.1"]);
        assert_eq!(addresses(&mapped, Version::V6, 80), Vec::<String>::new());
        // Both stacks bound separately, as nginx does with `listen 80; listen [::]:80;`.
        let both = crafted(&["00000000:0050"], &[ANY6_80], true);
        assert_eq!(addresses(&both, Version::Any, 80), ["0.0.0.0", "::"]);
        assert_eq!(addresses(&both, Version::V4, 80), ["0.0.0.0"]);
        assert_eq!(addresses(&both, Version::V6, 80), ["::"]);
        // Another port's listener does not count.
        assert_eq!(addresses(&both, Version::Any, 81), Vec::<String>::new());
    }

    #[test]
    fn udp_needs_an_unconnected_bound_socket() {
        let text = format!(
            "{V4_HEADER}  1: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 0\n  \
             2: 0100007F:0036 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 0\n  \
             3: 0100007F:0037 0100007F:0035 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 0\n"
        );
        let listeners = parse_table(&text, Proto::Udp).unwrap();
        assert_eq!(
            listeners,
            [Listener {
                ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                port: 53
            }]
        );
        let v6 = format!("{V6_HEADER}{}", v6_line(ANY6_80, "07"));
        assert_eq!(parse_table(&v6, Proto::Udp).unwrap().len(), 1);
        // TCP state `07` is CLOSE, not a listener.
        assert!(parse_table(&v6, Proto::Tcp).unwrap().is_empty());
    }

    #[test]
    fn refuses_garbage_tables() {
        let text = format!("{V4_HEADER}   0: nonsense\n");
        assert!(parse_table(&text, Proto::Tcp).is_err());
        let text = format!("{V4_HEADER}   0: 0100007F:XYZ 00000000:0000 0A\n");
        assert!(parse_table(&text, Proto::Tcp).is_err());
        assert_eq!(parse_table("", Proto::Tcp).unwrap(), []);
    }

    #[test]
    fn ids_are_validated() {
        let err = |id: &str| new(id, &Options::new()).unwrap_err();
        assert_eq!(
            err("80"),
            "`80` has no protocol; write `tcp:80` or `udp:80`"
        );
        assert!(err("http").contains("`tcp:80`"));
        assert!(err("sctp:80").contains("unknown protocol `sctp`"));
        assert!(err("tcp:0").contains("1 to 65535"));
        assert!(err("tcp:65536").contains("1 to 65535"));
        assert!(err("tcp:").contains("1 to 65535"));
        assert!(err("tcp:-1").contains("`tcp:80`"));
        for ok in [
            "tcp:80",
            "tcp4:80",
            "tcp6:80",
            "udp:53",
            "udp4:53",
            "udp6:65535",
        ] {
            assert!(new(ok, &Options::new()).is_ok(), "{ok}");
        }
    }

    #[test]
    fn observes_a_local_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let host = Host::local();
        let probe = |id: String| {
            new(&id, &Options::new())
                .unwrap()
                .probe(&host, &["listening", "ip"])
                .unwrap()
        };
        let seen = probe(format!("tcp:{port}"));
        assert_eq!(seen.get("listening").unwrap(), &Value::Bool(true));
        assert_eq!(
            seen.get("ip").unwrap(),
            &Value::List(vec!["127.0.0.1".into()])
        );
        let seen = probe(format!("tcp6:{port}"));
        assert_eq!(seen.get("listening").unwrap(), &Value::Bool(false));
        let before = host.round_trips();
        probe(format!("tcp4:{port}"));
        assert_eq!(host.round_trips(), before, "the tables were read again");
    }
}
