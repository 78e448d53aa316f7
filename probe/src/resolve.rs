//! Name resolution the target's way, without the target's C library: numeric
//! addresses as they are, then the target's `/etc/hosts`, then DNS to the
//! `nameserver`s of its `/etc/resolv.conf` (with its `search`, `ndots`, `timeout` and
//! `attempts`), A and AAAA. NSS modules (LDAP, mDNS, systemd-resolved's own socket)
//! are not consulted: what `/etc/nsswitch.conf` adds beyond `files dns` is not seen.
//!
//! Like `getaddrinfo` with `AI_ADDRCONFIG`, IPv6 addresses are asked for and kept
//! only when the target has an IPv6 address other than loopback and link-local.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

mod message;

pub use message::{Answer, decode_answer, encode_query};
use message::{TYPE_A, TYPE_AAAA};

/// What resolving a name found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// Its addresses, deduplicated and sorted; never empty.
    Found(Vec<IpAddr>),
    /// The name has no address.
    NoSuchName,
    /// No nameserver gave an answer, and why.
    Failed(String),
}

/// Resolves `name` before `deadline`, reading the target's files.
pub fn resolve(name: &str, deadline: Instant) -> Resolved {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Resolved::Found(vec![ip]);
    }
    let v6 = has_ipv6(&std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default());
    let keep = |ip: &IpAddr| v6 || ip.is_ipv4();
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let found: Vec<IpAddr> = hosts_lookup(&hosts, name)
        .into_iter()
        .filter(keep)
        .collect();
    if !found.is_empty() {
        return Resolved::Found(sorted(found));
    }
    let conf = Conf::parse(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default());
    let mut failure = None;
    for candidate in conf.candidates(name) {
        match conf.ask(&candidate, v6, deadline) {
            Ok(found) if !found.is_empty() => return Resolved::Found(sorted(found)),
            Ok(_) => {}
            Err(why) => failure = Some(why),
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    failure.map_or(Resolved::NoSuchName, Resolved::Failed)
}

fn sorted(mut ips: Vec<IpAddr>) -> Vec<IpAddr> {
    ips.sort();
    ips.dedup();
    ips
}

/// Returns true if and only if `/proc/net/if_inet6` (as `text`) lists an address
/// that is neither loopback nor link-local.
pub fn has_ipv6(text: &str) -> bool {
    text.lines().any(|line| {
        let hex = line.split_whitespace().next().unwrap_or("");
        hex.len() == 32 && hex != "00000000000000000000000000000001" && !hex.starts_with("fe80")
    })
}

/// The addresses `/etc/hosts` (as `text`) gives `name`, in file order.
pub fn hosts_lookup(text: &str, name: &str) -> Vec<IpAddr> {
    let name = name.strip_suffix('.').unwrap_or(name);
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let ip = words.next()?.parse::<IpAddr>().ok()?;
            words.any(|w| w.eq_ignore_ascii_case(name)).then_some(ip)
        })
        .collect()
}

/// What `/etc/resolv.conf` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conf {
    /// The servers, in order (`127.0.0.1` when the file names none, as glibc does).
    pub nameservers: Vec<IpAddr>,
    /// Domains appended to a name with fewer than `ndots` dots.
    pub search: Vec<String>,
    /// `options ndots:N` (default 1).
    pub ndots: usize,
    /// `options timeout:N`, per try (default 5 s).
    pub timeout: Duration,
    /// `options attempts:N` (default 2).
    pub attempts: u32,
}

impl Conf {
    /// Reads `/etc/resolv.conf` text; later `search` and `domain` lines win.
    pub fn parse(text: &str) -> Self {
        let mut conf = Self {
            nameservers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
            timeout: Duration::from_secs(5),
            attempts: 2,
        };
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    // A scoped IPv6 address (`fe80::1%eth0`) is used without its scope.
                    let ip: Option<IpAddr> =
                        words.next().and_then(|w| w.split('%').next()?.parse().ok());
                    conf.nameservers.extend(ip);
                }
                Some("search" | "domain") => {
                    conf.search = words
                        .map(|d| d.trim_end_matches('.').to_string())
                        .filter(|d| !d.is_empty())
                        .collect();
                }
                Some("options") => {
                    for option in words {
                        let (key, value) = option.split_once(':').unwrap_or((option, ""));
                        let Ok(n) = value.parse::<u32>() else {
                            continue;
                        };
                        match key {
                            "ndots" => conf.ndots = n.min(15) as usize,
                            "timeout" => conf.timeout = Duration::from_secs(n.clamp(1, 30).into()),
                            "attempts" => conf.attempts = n.clamp(1, 5),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if conf.nameservers.is_empty() {
            conf.nameservers.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        conf
    }

    /// The names to ask for, in order: as written first when it has `ndots` dots or
    /// more, else after the search domains; a name ending in `.` only as written.
    pub fn candidates(&self, name: &str) -> Vec<String> {
        if let Some(absolute) = name.strip_suffix('.') {
            return vec![absolute.to_string()];
        }
        let searched = self.search.iter().map(|d| format!("{name}.{d}"));
        if name.matches('.').count() >= self.ndots {
            std::iter::once(name.to_string()).chain(searched).collect()
        } else {
            searched.chain(std::iter::once(name.to_string())).collect()
        }
    }

    /// Asks the servers for `name`'s A (and AAAA) records: `Ok` with none when the
    /// name or its records do not exist, `Err` when no server answered.
    fn ask(&self, name: &str, v6: bool, deadline: Instant) -> Result<Vec<IpAddr>, String> {
        let mut types = vec![TYPE_A];
        if v6 {
            types.push(TYPE_AAAA);
        }
        let mut why = String::from("no nameserver");
        for _ in 0..self.attempts {
            for server in &self.nameservers {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(format!("no answer in time ({why})"));
                }
                let addr = SocketAddr::new(*server, 53);
                match exchange(addr, name, &types, self.timeout.min(left)) {
                    Ok(found) => return Ok(found),
                    Err(e) => why = format!("nameserver {server}: {e}"),
                }
            }
        }
        Err(why)
    }
}

/// Sends one query per record type to `server` and gathers the answers. Each type
/// is judged on its own: a server that fails one (`SERVFAIL`, `NOTIMP` or
/// `FORMERR` for AAAA, or no answer to it) but gives addresses for another still
/// resolves the name. It is an error only when a type failed and no address came,
/// as then "no such name" cannot be told from "could not ask".
fn exchange(
    server: SocketAddr,
    name: &str,
    types: &[u16],
    wait: Duration,
) -> Result<Vec<IpAddr>, String> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).map_err(|e| e.to_string())?;
    socket.connect(server).map_err(|e| e.to_string())?;
    let base = u16::try_from(std::process::id() & 0x7fff).unwrap_or(1) ^ 0x2a5a;
    let mut pending: Vec<(u16, u16)> = Vec::new();
    for (i, ty) in types.iter().enumerate() {
        let id = base.wrapping_add(u16::try_from(i).unwrap_or(0));
        socket
            .send(&encode_query(id, name, *ty)?)
            .map_err(|e| e.to_string())?;
        pending.push((id, *ty));
    }
    let deadline = Instant::now() + wait;
    let mut found = Vec::new();
    let mut failed: Option<String> = None;
    let mut buf = [0u8; 1500];
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            failed.get_or_insert_with(|| "no answer".into());
            break;
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                failed.get_or_insert_with(|| "no answer".into());
                break;
            }
            Err(e) => return Err(e.to_string()),
        };
        let Ok(answer) = decode_answer(&buf[..n]) else {
            continue;
        };
        let Some(at) = pending.iter().position(|(id, _)| *id == answer.id) else {
            continue;
        };
        let (id, ty) = pending.remove(at);
        let answer = if answer.truncated {
            over_tcp(server, &encode_query(id, name, ty)?, deadline)
                .and_then(|bytes| decode_answer(&bytes))
        } else {
            Ok(answer)
        };
        match answer.and_then(|a| records(&a)) {
            Ok(addrs) => found.extend(addrs),
            Err(why) => {
                failed.get_or_insert(why);
            }
        }
    }
    match failed {
        Some(why) if found.is_empty() => Err(why),
        _ => Ok(found),
    }
}

/// The addresses of one answer, or why the server gave none.
fn records(answer: &Answer) -> Result<Vec<IpAddr>, String> {
    match answer.rcode {
        // NOERROR, or NXDOMAIN: the name has no such records.
        0 | 3 => Ok(answer.addrs.clone()),
        1 => Err("format error".into()),
        2 => Err("server failure".into()),
        4 => Err("not implemented".into()),
        5 => Err("refused".into()),
        other => Err(format!("answer code {other}")),
    }
}

/// The same query over TCP, for an answer too long for UDP, all of it before
/// `deadline` (each read waits only for what is left).
fn over_tcp(server: SocketAddr, query: &[u8], deadline: Instant) -> Result<Vec<u8>, String> {
    let left = || {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err("no answer in time over TCP".to_string())
        } else {
            Ok(left)
        }
    };
    let mut stream = TcpStream::connect_timeout(&server, left()?).map_err(|e| e.to_string())?;
    let len = u16::try_from(query.len()).map_err(|_| "a long query")?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(query);
    stream
        .set_write_timeout(Some(left()?))
        .map_err(|e| e.to_string())?;
    stream.write_all(&out).map_err(|e| e.to_string())?;
    let mut fill = |buf: &mut [u8]| -> Result<(), String> {
        let mut got = 0;
        while got < buf.len() {
            stream
                .set_read_timeout(Some(left()?))
                .map_err(|e| e.to_string())?;
            match stream.read(&mut buf[got..]) {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err("no answer in time over TCP".into());
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    };
    let mut len = [0u8; 2];
    fill(&mut len)?;
    let mut answer = vec![0; usize::from(u16::from_be_bytes(len))];
    fill(&mut answer)?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file() {
        let hosts = "127.0.0.1\tlocalhost\n::1 localhost ip6-localhost # loopback\n\
                     # 10.0.0.9 web\n172.18.0.2\tWeb web.net  \nnot-an-ip web\n";
        let ips = |name| {
            hosts_lookup(hosts, name)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(ips("localhost"), ["127.0.0.1", "::1"]);
        assert_eq!(ips("web"), ["172.18.0.2"]);
        assert_eq!(ips("WEB.net."), ["172.18.0.2"]);
        assert!(ips("ip6").is_empty());
    }

    #[test]
    fn resolv_conf() {
        let conf = Conf::parse(
            "# docker\nsearch example.org corp.\nnameserver 127.0.0.11\nnameserver fe80::1%eth0\n\
             nameserver nonsense\noptions ndots:0 timeout:2 attempts:9 rotate\n",
        );
        assert_eq!(
            conf.nameservers,
            [
                "127.0.0.11".parse::<IpAddr>().unwrap(),
                "fe80::1".parse().unwrap()
            ]
        );
        assert_eq!(conf.search, ["example.org", "corp"]);
        assert_eq!(
            (conf.ndots, conf.timeout, conf.attempts),
            (0, Duration::from_secs(2), 5)
        );
        assert_eq!(
            conf.candidates("web"),
            ["web", "web.example.org", "web.corp"]
        );
        let plain = Conf::parse("search a\n");
        assert_eq!(plain.nameservers, [IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        assert_eq!(plain.candidates("web"), ["web.a", "web"]);
        assert_eq!(plain.candidates("db.x"), ["db.x", "db.x.a"]);
        assert_eq!(plain.candidates("db."), ["db"]);
    }

    #[test]
    fn ipv6_is_had_beyond_loopback_and_link_local() {
        let lo = "00000000000000000000000000000001 01 80 10 80       lo\n";
        let link = "fe800000000000000242acfffe120002 02 40 20 80     eth0\n";
        let global = "fd000000000000000000000000000002 02 40 00 80     eth0\n";
        assert!(!has_ipv6(""));
        assert!(!has_ipv6(&format!("{lo}{link}")));
        assert!(has_ipv6(&format!("{lo}{global}")));
    }

    /// A DNS answer to `query` with `rcode` and the `addrs` as records.
    fn answer_to(query: &[u8], rcode: u8, addrs: &[IpAddr]) -> Vec<u8> {
        let mut out = query[..2].to_vec();
        out.extend_from_slice(&[0x81, 0x80 | rcode, 0, 1, 0]);
        out.push(u8::try_from(addrs.len()).unwrap());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&query[12..]);
        for ip in addrs {
            let (ty, data) = match ip {
                IpAddr::V4(v4) => (TYPE_A, v4.octets().to_vec()),
                IpAddr::V6(v6) => (TYPE_AAAA, v6.octets().to_vec()),
            };
            out.extend_from_slice(&[0xc0, 12]);
            out.extend_from_slice(&ty.to_be_bytes());
            out.extend_from_slice(&[0, 1, 0, 0, 0, 60, 0, u8::try_from(data.len()).unwrap()]);
            out.extend_from_slice(&data);
        }
        out
    }

    /// A nameserver on 127.0.0.1 that answers A queries with 10.0.0.7 and AAAA
    /// queries with `aaaa_rcode` and no record (or not at all, for `None`).
    fn nameserver(aaaa_rcode: Option<u8>) -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let query = &buf[..n];
                let ty = u16::from_be_bytes([query[n - 4], query[n - 3]]);
                let reply = match (ty, aaaa_rcode) {
                    (TYPE_A, _) => answer_to(query, 0, &["10.0.0.7".parse().unwrap()]),
                    (_, Some(rcode)) => answer_to(query, rcode, &[]),
                    (_, None) => continue,
                };
                let _ = socket.send_to(&reply, from);
            }
        });
        addr
    }

    #[test]
    fn a_failed_aaaa_lookup_does_not_fail_the_a_records() {
        let wait = Duration::from_millis(500);
        let a: IpAddr = "10.0.0.7".parse().unwrap();
        // FORMERR, SERVFAIL, NOTIMP, REFUSED, and no answer at all.
        for rcode in [Some(1), Some(2), Some(4), Some(5), None] {
            let server = nameserver(rcode);
            assert_eq!(
                exchange(server, "web", &[TYPE_A, TYPE_AAAA], wait),
                Ok(vec![a]),
                "{rcode:?}"
            );
            // Alone, the failed type is an error, not "no such name".
            assert!(
                exchange(server, "web", &[TYPE_AAAA], wait).is_err(),
                "{rcode:?}"
            );
        }
        // NOERROR with no AAAA record is an answer.
        let server = nameserver(Some(0));
        assert_eq!(exchange(server, "web", &[TYPE_AAAA], wait), Ok(vec![]));
    }

    #[test]
    fn tcp_answers_keep_to_one_deadline() {
        // A server that trickles a long answer, a byte every 100 ms.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut query = [0u8; 64];
            let _ = stream.read(&mut query);
            let _ = stream.write_all(&[0, 200]);
            for _ in 0..200 {
                std::thread::sleep(Duration::from_millis(100));
                if stream.write_all(&[0]).is_err() {
                    return;
                }
            }
        });
        let query = encode_query(1, "web", TYPE_A).unwrap();
        let started = Instant::now();
        let got = over_tcp(server, &query, started + Duration::from_millis(700));
        assert!(got.is_err(), "{got:?}");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn numbers_and_hosts_need_no_server() {
        let soon = Instant::now() + Duration::from_secs(2);
        assert_eq!(
            resolve("::1", soon),
            Resolved::Found(vec!["::1".parse().unwrap()])
        );
        // `localhost` is in /etc/hosts, so no DNS query leaves the machine.
        let Resolved::Found(ips) = resolve("localhost", soon) else {
            panic!()
        };
        assert!(ips.contains(&"127.0.0.1".parse().unwrap()));
    }
}
