//! Connections from the target's own network namespace: TCP (accepted or not) and
//! UDP (refused or not), to a host resolved the target's way ([`crate::resolve`]).

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::resolve::{Resolved, resolve};
use crate::wire::{Connect, Reply};

/// How long UDP waits for a refusal before it counts silence as reachable: past the
/// ~3 s in which Linux gives up finding a neighbour's hardware address, so a host on
/// the same network that is down is "no route to host", not silence.
pub const UDP_WAIT: Duration = Duration::from_millis(3500);

/// Why no connection was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The name has no address.
    NoName(String),
    /// The network said no: `refused`, `timeout` or `unreachable`, and the words.
    Said(&'static str, String),
    /// The probe could not try (no resolver answered, a socket error).
    Failed(String),
}

/// The `Connect` query's reply.
pub fn connect(query: &Connect) -> Reply {
    let deadline = Instant::now() + Duration::from_millis(query.timeout_ms);
    let verdict = if query.udp {
        udp(&query.host, query.port, deadline)
    } else {
        tcp(&query.host, query.port, deadline).map(drop)
    };
    let ok = |what: &str, why: String| Reply::Ok(vec![what.into(), why.into_bytes()]);
    match verdict {
        Ok(()) => ok("reachable", String::new()),
        Err(Refusal::NoName(why)) => ok("noname", why),
        Err(Refusal::Said(what, why)) => ok(what, why),
        Err(Refusal::Failed(why)) => Reply::Failed(why),
    }
}

/// The `Resolve` query's reply.
pub fn resolve_reply(query: &crate::wire::Resolve) -> Reply {
    match resolve(
        &query.name,
        Instant::now() + Duration::from_millis(query.timeout_ms),
    ) {
        Resolved::Found(ips) => {
            let lines = ips
                .iter()
                .fold(String::new(), |s, ip| s + &ip.to_string() + "\n");
            Reply::Ok(vec![lines.into_bytes()])
        }
        Resolved::NoSuchName => Reply::NotFound,
        Resolved::Failed(why) => Reply::Failed(format!(
            "cannot resolve `{}` on the target: {why}",
            query.name
        )),
    }
}

/// The addresses of `host`, or why there are none.
pub fn addresses(host: &str, deadline: Instant) -> Result<Vec<IpAddr>, Refusal> {
    match resolve(host, deadline) {
        Resolved::Found(ips) => Ok(ips),
        Resolved::NoSuchName => Err(Refusal::NoName(format!(
            "`{host}` does not resolve on the target"
        ))),
        Resolved::Failed(why) => Err(Refusal::Failed(format!(
            "cannot resolve `{host}` on the target: {why}"
        ))),
    }
}

/// The network's no, in a word, or `None` when the error is this side failing to try.
fn said(kind: ErrorKind) -> Option<&'static str> {
    match kind {
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset => Some("refused"),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => Some("timeout"),
        ErrorKind::HostUnreachable
        | ErrorKind::NetworkUnreachable
        | ErrorKind::AddrNotAvailable => Some("unreachable"),
        _ => None,
    }
}

/// A TCP connection to the first address of `host` that accepts one.
pub fn tcp(host: &str, port: u16, deadline: Instant) -> Result<TcpStream, Refusal> {
    let mut last = Refusal::Said("timeout", format!("no answer from `{host}` in time"));
    for ip in addresses(host, deadline)? {
        if deadline.saturating_duration_since(Instant::now()).is_zero() {
            break;
        }
        match tcp_one(SocketAddr::new(ip, port), deadline) {
            Ok(stream) => return Ok(stream),
            Err(refusal) => last = refusal,
        }
    }
    Err(last)
}

/// A TCP connection to `target`, made before `deadline`, or how it was refused.
pub fn tcp_one(target: SocketAddr, deadline: Instant) -> Result<TcpStream, Refusal> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Refusal::Said(
                "timeout",
                format!("{target}: no answer in time"),
            ));
        }
        match TcpStream::connect_timeout(&target, left) {
            Ok(stream) => return Ok(stream),
            // A signal to this process (a child exiting) interrupts the call.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                let why = format!("{target}: {e}");
                return Err(match said(e.kind()) {
                    Some(word) => Refusal::Said(word, why),
                    None => Refusal::Failed(format!("cannot connect to {why}")),
                });
            }
        }
    }
}

/// Sends an empty datagram on a connected socket to each address of `host` and
/// waits for a refusal (ICMP port unreachable, seen as `ECONNREFUSED`).
fn udp(host: &str, port: u16, deadline: Instant) -> Result<(), Refusal> {
    let mut last = Refusal::Said("timeout", format!("no time left to try `{host}`"));
    for ip in addresses(host, deadline)? {
        let target = SocketAddr::new(ip, port);
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(UDP_WAIT);
        if wait.is_zero() {
            break;
        }
        match udp_one(target, wait) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Sends an empty datagram to `target` and waits up to `wait` for a refusal: `Ok`
/// when none came (an answer, or silence), else how it was refused.
pub fn udp_one(target: SocketAddr, wait: Duration) -> Result<(), Refusal> {
    let fail = |e: std::io::Error| match said(e.kind()) {
        Some(word) => Refusal::Said(word, format!("{target}: {e}")),
        None => Refusal::Failed(format!("cannot send to {target}: {e}")),
    };
    let local: SocketAddr = if target.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).map_err(fail)?;
    recverr::enable(&socket, target.is_ipv6());
    socket.connect(target).map_err(fail)?;
    loop {
        match socket.send(&[]) {
            Ok(_) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(e)),
        }
    }
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 1];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        socket.set_read_timeout(Some(left)).map_err(fail)?;
        match socket.recv(&mut buf) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // Silence: nothing refused.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(());
            }
            Err(e) => return Err(fail(e)),
        }
    }
}

mod recverr {
    //! `IP_RECVERR`: without it Linux tells a connected UDP socket only of "fatal"
    //! ICMP errors (port unreachable), not of "host unreachable", which is what a
    //! datagram to a neighbour that is down ends in once the kernel gives up finding
    //! its hardware address. The standard library has no call for it.

    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    unsafe extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, value: *const i32, len: u32) -> i32;
    }

    const SOL_IP: i32 = 0;
    const IP_RECVERR: i32 = 11;
    const SOL_IPV6: i32 = 41;
    const IPV6_RECVERR: i32 = 25;

    /// Asks to hear of every ICMP error for `socket`; where that fails, the socket
    /// still hears of refusals.
    pub(super) fn enable(socket: &UdpSocket, ipv6: bool) {
        let (level, name) = if ipv6 {
            (SOL_IPV6, IPV6_RECVERR)
        } else {
            (SOL_IP, IP_RECVERR)
        };
        let on: i32 = 1;
        // SAFETY: setsockopt(2) reads `len` bytes at `value`, a live i32 of ours, and
        // the descriptor belongs to `socket`, which outlives the call.
        unsafe {
            setsockopt(socket.as_raw_fd(), level, name, &raw const on, 4);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    fn ask(host: &str, port: u16, udp: bool) -> Reply {
        connect(&Connect {
            host: host.into(),
            port,
            udp,
            timeout_ms: 3000,
        })
    }

    fn word(reply: &Reply) -> String {
        match reply {
            Reply::Ok(fields) => String::from_utf8_lossy(&fields[0]).into_owned(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn tcp_and_udp_on_loopback() {
        let open = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = open.local_addr().unwrap().port();
        assert_eq!(word(&ask("127.0.0.1", port, false)), "reachable");
        assert_eq!(word(&ask("localhost", port, false)), "reachable");
        drop(open);
        assert_eq!(word(&ask("127.0.0.1", port, false)), "refused");
        let bound = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = bound.local_addr().unwrap().port();
        assert_eq!(word(&ask("127.0.0.1", port, true)), "reachable");
        drop(bound);
        assert_eq!(word(&ask("127.0.0.1", port, true)), "refused");
    }
}
