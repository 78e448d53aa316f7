//! `mount` end to end on the local machine: passing, failing, skipped.

use crate::util::{outcome, result, run_json};

#[test]
fn mount_properties() {
    let spec = r#"
[mount."/"]
exists = true
filesystem = { matches = '^[a-z0-9._]+$' }
opts = { contains = { one-of = ["rw", "ro"] } }

[mount."/proc/"]
filesystem = "proc"
source = "proc"
opts = { contains = "rw" }

[mount."/proc"]
filesystem = "ext4"
opts = { contains = "ispec-no-such-option" }
"#;
    let (code, doc) = run_json(spec);
    assert_eq!(code, 1);
    for prop in ["exists", "filesystem", "opts"] {
        assert_eq!(outcome(&doc, "mount", "/", prop), "pass", "{prop}");
    }
    for prop in ["filesystem", "source", "opts"] {
        assert_eq!(outcome(&doc, "mount", "/proc/", prop), "pass", "{prop}");
    }
    let fs = result(&doc, "mount", "/proc", "filesystem");
    assert_eq!(fs["outcome"], "fail");
    assert_eq!(fs["actual"], "\"proc\"");
    assert_eq!(outcome(&doc, "mount", "/proc", "opts"), "fail");
}

#[test]
fn a_directory_that_is_not_a_mount_point() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let (code, doc) = run_json(&format!(
        "[mount.\"{path}\"]\nexists = false\n\n[mount.\"{path}/\"]\nexists = true\nfilesystem = \"ext4\"\n"
    ));
    assert_eq!(code, 1);
    assert_eq!(outcome(&doc, "mount", path, "exists"), "pass");
    let slash = format!("{path}/");
    assert_eq!(outcome(&doc, "mount", &slash, "exists"), "fail");
    assert_eq!(outcome(&doc, "mount", &slash, "filesystem"), "skip");
}
