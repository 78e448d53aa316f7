//! `port` end to end on the local machine: sockets bound here over IPv4, dual-stack
//! IPv6 and IPv6 only, TCP and UDP, and a port nobody listens on.

use std::net::{Ipv6Addr, SocketAddr, TcpListener, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

use crate::util::{Specs, outcome, result, run, run_json};

/// Returns true if and only if IPv6 sockets on `::` refuse IPv4 unless told otherwise.
fn bindv6only() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").is_ok_and(|t| t.trim() == "1")
}

/// A TCP socket on `[::1]:0` with `IPV6_V6ONLY` set: reachable over IPv6 only.
fn v6_only_listener() -> Socket {
    let socket = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_only_v6(true).unwrap();
    socket
        .bind(&SocketAddr::from((Ipv6Addr::LOCALHOST, 0)).into())
        .unwrap();
    socket.listen(8).unwrap();
    socket
}

/// A port that was free a moment ago and that nothing here listens on.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn port_properties() {
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    // std leaves `IPV6_V6ONLY` at the system default, which is what ispec assumes.
    let dual = TcpListener::bind("[::]:0").unwrap();
    let v6 = v6_only_listener();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_dual = UdpSocket::bind("[::]:0").unwrap();
    let p4 = v4.local_addr().unwrap().port();
    let pdual = dual.local_addr().unwrap().port();
    let p6 = v6.local_addr().unwrap().as_socket().unwrap().port();
    let pudp = udp.local_addr().unwrap().port();
    let pudpdual = udp_dual.local_addr().unwrap().port();
    let pfree = free_port();
    let dual_v4 = !bindv6only();
    let spec = format!(
        r#"
[port."tcp:{p4}"]
listening = true
ip = ["127.0.0.1"]

[port."tcp4:{p4}"]
listening = true

[port."tcp6:{p4}"]
listening = false

[port."tcp:{pdual}"]
listening = true
ip = ["::"]

[port."tcp4:{pdual}"]
listening = {dual_v4}

[port."tcp6:{pdual}"]
listening = true
ip = ["::"]

[port."tcp:{p6}"]
listening = true
ip = ["::1"]

[port."tcp4:{p6}"]
listening = true

[port."tcp6:{p6}"]
listening = true
ip = ["::1"]

[port."udp:{pudp}"]
listening = true
ip = ["127.0.0.1"]

[port."udp6:{pudp}"]
listening = false

[port."tcp:{pudp}"]
listening = false

[port."udp4:{pudpdual}"]
listening = {dual_v4}

[port."udp6:{pudpdual}"]
listening = true
ip = ["::"]

[port."tcp:{pfree}"]
listening = false

[port."udp:{pfree}"]
listening = true
ip = ["0.0.0.0"]
"#
    );
    let (code, doc) = run_json(&spec);
    assert_eq!(code, 1);
    let pass = |id: String, prop: &str| {
        assert_eq!(outcome(&doc, "port", &id, prop), "pass", "{id} › {prop}");
    };
    pass(format!("tcp:{p4}"), "listening");
    pass(format!("tcp:{p4}"), "ip");
    pass(format!("tcp4:{p4}"), "listening");
    pass(format!("tcp6:{p4}"), "listening");
    pass(format!("tcp:{pdual}"), "ip");
    pass(format!("tcp4:{pdual}"), "listening");
    pass(format!("tcp6:{pdual}"), "ip");
    pass(format!("tcp:{p6}"), "ip");
    pass(format!("tcp6:{p6}"), "ip");
    pass(format!("udp:{pudp}"), "ip");
    pass(format!("udp6:{pudp}"), "listening");
    pass(format!("tcp:{pudp}"), "listening");
    pass(format!("udp4:{pudpdual}"), "listening");
    pass(format!("udp6:{pudpdual}"), "ip");
    pass(format!("tcp:{pfree}"), "listening");
    // An IPv6-only socket does not serve IPv4.
    let v4_of_v6 = result(&doc, "port", &format!("tcp4:{p6}"), "listening");
    assert_eq!(v4_of_v6["outcome"], "fail");
    assert_eq!(v4_of_v6["actual"], "false");
    let unbound = format!("udp:{pfree}");
    assert_eq!(outcome(&doc, "port", &unbound, "listening"), "fail");
    assert_eq!(outcome(&doc, "port", &unbound, "ip"), "skip");
    if dual_v4 {
        // The dual-stack socket's IPv4 side is every IPv4 address.
        let spec = format!("[port.\"tcp4:{pdual}\"]\nip = [\"0.0.0.0\"]\n");
        assert_eq!(run_json(&spec).0, 0);
    }
    drop((v4, dual, v6, udp, udp_dual));
}

#[test]
fn ids_are_checked_before_running() {
    let specs = Specs::new(&[("bad.toml", "[port.\"80\"]\nlistening = true\n")]);
    let out = run(&["run", specs.path("bad.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`80` has no protocol; write `tcp:80` or `udp:80`"),
        "{stderr}"
    );
}
