//! `addr` end to end on the local machine: open and closed TCP and UDP ports on the
//! loopback addresses.

use std::net::{TcpListener, UdpSocket};

use crate::util::{outcome, result, run_json, validate};

#[test]
fn tcp_open_and_closed() {
    let open = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = open.local_addr().expect("port").port();
    let open6 = TcpListener::bind("[::1]:0").expect("bind ::1");
    let port6 = open6.local_addr().expect("port").port();
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("port").port()
    };
    let spec = format!(
        r#"
[addr."tcp://127.0.0.1:{port}"]
reachable = true

[addr."tcp://[::1]:{port6}"]
reachable = true

[addr."tcp://127.0.0.1:{closed}"]
reachable = false

[addr."tcp://localhost:{closed}"]
reachable = true
"#
    );
    let (code, doc) = run_json(&spec);
    assert_eq!(code, 1);
    let check = |id: String| outcome(&doc, "addr", &id, "reachable");
    assert_eq!(check(format!("tcp://127.0.0.1:{port}")), "pass");
    assert_eq!(check(format!("tcp://[::1]:{port6}")), "pass");
    assert_eq!(check(format!("tcp://127.0.0.1:{closed}")), "pass");
    let wrong = result(
        &doc,
        "addr",
        &format!("tcp://localhost:{closed}"),
        "reachable",
    );
    assert_eq!(wrong["outcome"], "fail");
    assert_eq!(wrong["actual"], "false");
}

#[test]
fn udp_bound_and_closed() {
    let bound = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = bound.local_addr().expect("port").port();
    let closed = {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.local_addr().expect("port").port()
    };
    let spec = format!(
        r#"
[addr."udp://127.0.0.1:{port}"]
reachable = true

[addr."udp://127.0.0.1:{closed}"]
reachable = true
"#
    );
    let (code, doc) = run_json(&spec);
    assert_eq!(code, 1);
    assert_eq!(
        outcome(
            &doc,
            "addr",
            &format!("udp://127.0.0.1:{port}"),
            "reachable"
        ),
        "pass"
    );
    let refused = result(
        &doc,
        "addr",
        &format!("udp://127.0.0.1:{closed}"),
        "reachable",
    );
    assert_eq!(refused["outcome"], "fail");
    assert_eq!(refused["actual"], "false");
}

#[test]
fn bad_ids_are_spec_errors() {
    let (code, stderr) = validate("[addr.\"127.0.0.1:80\"]\nreachable = true\n");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`127.0.0.1:80` has no `tcp://` or `udp://`"),
        "{stderr}"
    );
}
