//! `group` end to end on the local machine: passing, failing and skipped checks.

use crate::util::{outcome, result, run_json};

#[test]
fn group_properties() {
    let spec = r#"
[group.root]
exists = true
gid = 0
members = []

[group.nogroup]
gid = 65534

[group.daemon]
gid = 4242

[group."ispec-no-such-group"]
exists = false

[group."ispec-no-such-group-either"]
exists = true
gid = 1000
members = { contains = "root" }
"#;
    let (code, doc) = run_json(spec);
    assert_eq!(code, 1);
    for prop in ["exists", "gid", "members"] {
        assert_eq!(outcome(&doc, "group", "root", prop), "pass", "{prop}");
    }
    assert_eq!(outcome(&doc, "group", "nogroup", "gid"), "pass");
    let gid = result(&doc, "group", "daemon", "gid");
    assert_eq!(gid["outcome"], "fail");
    assert_eq!(gid["actual"], "1");
    assert_eq!(
        outcome(&doc, "group", "ispec-no-such-group", "exists"),
        "pass"
    );
    let missing = "ispec-no-such-group-either";
    assert_eq!(outcome(&doc, "group", missing, "exists"), "fail");
    assert_eq!(outcome(&doc, "group", missing, "gid"), "skip");
    assert_eq!(outcome(&doc, "group", missing, "members"), "skip");
}
