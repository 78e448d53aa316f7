//! `kernel-param` end to end on the local machine: passing, failing, erroring.

use crate::util::{outcome, result, run, run_json};

#[test]
fn kernel_param_properties() {
    let spec = r#"
[kernel-param."kernel.ostype"]
value = "Linux"

[kernel-param."net.ipv4.ip_forward"]
value = { matches = "^[01]$" }

[kernel-param."kernel/ostype"]
value = "FreeBSD"

[kernel-param."net.ipv4.conf.lo.forwarding"]
value = { one-of = [0, 1] }

[kernel-param."kernel.ispec_no_such_param"]
value = "1"

[kernel-param."vm.drop_caches"]
value = 0
"#;
    let (code, doc) = run_json(spec);
    assert_eq!(code, 1);
    for id in [
        "kernel.ostype",
        "net.ipv4.ip_forward",
        "net.ipv4.conf.lo.forwarding",
    ] {
        assert_eq!(outcome(&doc, "kernel-param", id, "value"), "pass", "{id}");
    }
    let wrong = result(&doc, "kernel-param", "kernel/ostype", "value");
    assert_eq!(wrong["outcome"], "fail");
    assert_eq!(wrong["actual"], "\"Linux\"");
    let missing = result(&doc, "kernel-param", "kernel.ispec_no_such_param", "value");
    assert_eq!(missing["outcome"], "error");
    assert_eq!(
        missing["message"],
        "no kernel parameter `kernel.ispec_no_such_param` on the target"
    );
    // Write-only, for root too: the read is refused, which is never a pass.
    let denied = result(&doc, "kernel-param", "vm.drop_caches", "value");
    assert_eq!(denied["outcome"], "error");
    assert_eq!(
        denied["message"],
        "permission denied: cannot read kernel parameter `vm.drop_caches` \
         (`/proc/sys/vm/drop_caches`)"
    );
}

#[test]
fn integers_match_the_text_value() {
    let ip_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let now: i64 = ip_forward.trim().parse().unwrap();
    let spec = format!(
        "[kernel-param.\"net.ipv4.ip_forward\"]\nvalue = {now}\n\n\
         [kernel-param.\"net/ipv4/ip_forward\"]\nvalue = {}\n",
        1 - now
    );
    let (code, doc) = run_json(&spec);
    assert_eq!(code, 1);
    assert_eq!(
        outcome(&doc, "kernel-param", "net.ipv4.ip_forward", "value"),
        "pass"
    );
    assert_eq!(
        outcome(&doc, "kernel-param", "net/ipv4/ip_forward", "value"),
        "fail"
    );
}

#[test]
fn bad_names_are_spec_errors() {
    let specs = crate::util::Specs::new(&[(
        "bad.toml",
        "[kernel-param.\"kernel/../../etc/shadow\"]\nvalue = \"x\"\n",
    )]);
    let out = run(&["validate", specs.path("bad.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a part cannot be `.` or `..`"), "{err}");
}
