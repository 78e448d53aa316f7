//! `interface` end to end on the local machine: passing, failing, skipped, and an
//! error when `ip` is not installed.

use crate::util::{outcome, result, run_json, run_json_with_path};

fn lo_mtu() -> i64 {
    std::fs::read_to_string("/sys/class/net/lo/mtu")
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn interface_properties() {
    let mtu = lo_mtu();
    let spec = format!(
        r#"
[interface.lo]
exists = true
up = true
mtu = {mtu}
addrs = {{ contains = "127.0.0.1/8" }}

[interface.ispec0]
exists = false

[interface.ispec1]
exists = true
mtu = 1500
"#
    );
    let (code, doc) = run_json(&spec);
    assert_eq!(code, 1);
    for prop in ["exists", "up", "mtu", "addrs"] {
        assert_eq!(outcome(&doc, "interface", "lo", prop), "pass", "{prop}");
    }
    assert_eq!(outcome(&doc, "interface", "ispec0", "exists"), "pass");
    assert_eq!(outcome(&doc, "interface", "ispec1", "exists"), "fail");
    assert_eq!(outcome(&doc, "interface", "ispec1", "mtu"), "skip");
}

#[test]
fn wrong_values_fail() {
    let mtu = lo_mtu();
    let spec = format!(
        r#"
[interface.lo]
mtu = {wrong}
addrs = {{ contains = "10.99.99.99/8" }}
up = false
"#,
        wrong = mtu + 1
    );
    let (code, doc) = run_json(&spec);
    assert_eq!(code, 1);
    let mtu_result = result(&doc, "interface", "lo", "mtu");
    assert_eq!(mtu_result["outcome"], "fail");
    assert_eq!(mtu_result["actual"], mtu.to_string());
    for prop in ["addrs", "up"] {
        assert_eq!(outcome(&doc, "interface", "lo", prop), "fail", "{prop}");
    }
}

#[test]
fn addresses_without_iproute2_are_an_error() {
    // A PATH with no `ip` on it: the target lacks iproute2.
    let empty = tempfile::tempdir().unwrap();
    let (code, doc) = run_json_with_path(
        "[interface.lo]\nexists = true\naddrs = { contains = \"::1/128\" }\n",
        Some(empty.path()),
    );
    assert_eq!(code, 1);
    assert_eq!(outcome(&doc, "interface", "lo", "exists"), "pass");
    let addrs = result(&doc, "interface", "lo", "addrs");
    assert_eq!(addrs["outcome"], "error");
    let message = addrs["message"].as_str().unwrap();
    assert!(
        message.starts_with("`ip` (iproute2) is not installed on the target"),
        "{message}"
    );
}
