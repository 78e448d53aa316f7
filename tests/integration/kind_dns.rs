//! `dns` end to end on the local machine. Only `localhost` is resolved: it is in
//! /etc/hosts, so no DNS query leaves the machine.

use crate::util::{outcome, result, run_json, validate};

#[test]
fn localhost_resolves_from_etc_hosts() {
    let spec = r#"
[dns.localhost]
resolvable = true
addrs = { contains = "127.0.0.1" }

[dns."127.0.0.1"]
resolvable = true
addrs = ["127.0.0.1"]
"#;
    let (code, doc) = run_json(spec);
    assert_eq!(code, 0);
    assert_eq!(outcome(&doc, "dns", "localhost", "resolvable"), "pass");
    assert_eq!(outcome(&doc, "dns", "localhost", "addrs"), "pass");
    assert_eq!(outcome(&doc, "dns", "127.0.0.1", "addrs"), "pass");
}

#[test]
fn wrong_addresses_fail() {
    let (code, doc) = run_json("[dns.localhost]\naddrs = [\"10.0.0.1\"]\n");
    assert_eq!(code, 1);
    let wrong = result(&doc, "dns", "localhost", "addrs");
    assert_eq!(wrong["outcome"], "fail");
    assert_eq!(wrong["actual"], "[\"127.0.0.1\"]");
}

#[test]
fn bad_names_are_spec_errors() {
    let (code, stderr) = validate("[dns.\"$(id)\"]\nresolvable = true\n");
    assert_eq!(code, 2);
    assert!(stderr.contains("`$(id)` is not a host name"), "{stderr}");
}
