//! `user` end to end on the local machine: passing, failing and skipped checks.

use crate::util::{outcome, result, run, run_json};

#[test]
fn user_properties() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let spec = format!(
        r#"
[user.root]
exists = true
uid = 0
gid = 0
home = "/root"
shell = {{ matches = "sh$" }}
groups = {{ contains = "root" }}

[user.nobody]
exists = true
home = "/nonexistent"
uid = 0

[user."ispec-no-such-user"]
exists = false

[user."ispec-no-such-user-either"]
exists = true
uid = 1000
groups = ["users"]

[user."$(touch {m})"]
exists = false
"#,
        m = marker.display()
    );
    let (code, doc) = run_json(&spec);
    assert_eq!(code, 1);
    for prop in ["exists", "uid", "gid", "home", "shell", "groups"] {
        assert_eq!(outcome(&doc, "user", "root", prop), "pass", "{prop}");
    }
    assert_eq!(outcome(&doc, "user", "nobody", "exists"), "pass");
    assert_eq!(outcome(&doc, "user", "nobody", "home"), "pass");
    let uid = result(&doc, "user", "nobody", "uid");
    assert_eq!(uid["outcome"], "fail");
    assert_eq!(uid["actual"], "65534");
    assert_eq!(
        outcome(&doc, "user", "ispec-no-such-user", "exists"),
        "pass"
    );
    let missing = "ispec-no-such-user-either";
    assert_eq!(outcome(&doc, "user", missing, "exists"), "fail");
    assert_eq!(outcome(&doc, "user", missing, "uid"), "skip");
    assert_eq!(outcome(&doc, "user", missing, "groups"), "skip");
    let nasty = format!("$(touch {})", marker.display());
    assert_eq!(outcome(&doc, "user", &nasty, "exists"), "pass");
    assert!(!marker.exists(), "a user name was run as code");
}

#[test]
fn user_names_are_checked_before_running() {
    let specs = crate::util::Specs::new(&[("bad.toml", "[user.\"a:b\"]\nexists = true\n")]);
    let out = run(&["run", specs.path("bad.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a user name cannot contain ':'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
