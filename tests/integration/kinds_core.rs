//! `command` and `file` end to end on the local machine: passing, failing, erroring.

use crate::util::{outcome, result, run_json};

#[test]
fn file_properties() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("motd");
    std::fs::write(&path, "welcome\nuser www-data;\n").unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let spec = format!(
        r#"
[file."{p}"]
exists = true
type = "file"
mode = "0640"
size = 23
contains = ["welcome", {{ matches = "^user\\s+www-data;" }}]
sha256 = {{ matches = "^[0-9a-f]{{64}}$" }}
owner = "nobody-at-all"
linked-to = "/elsewhere"
md5 = "4a0b0b1d3a34bd7a7a6b8c66ad61fc2b"

[file."{l}"]
type = "symlink"
linked-to = "{p}"

[file."{p}.missing"]
exists = true
mode = "0600"
"#,
        p = path.display(),
        l = link.display()
    );
    let (code, doc) = run_json(&spec);
    assert_eq!(code, 1);
    let p = path.to_str().unwrap();
    for prop in ["exists", "type", "mode", "size", "contains", "sha256"] {
        assert_eq!(outcome(&doc, "file", p, prop), "pass", "{prop}");
    }
    let not_a_link = result(&doc, "file", p, "linked-to");
    assert_eq!(not_a_link["outcome"], "error");
    assert_eq!(
        not_a_link["message"],
        format!("`{p}` is a file, not a symlink")
    );
    assert_eq!(outcome(&doc, "file", p, "md5"), "fail");
    let owner = result(&doc, "file", p, "owner");
    assert_eq!(owner["outcome"], "fail");
    assert_eq!(owner["expected"], "\"nobody-at-all\"");
    assert_eq!(
        outcome(&doc, "file", link.to_str().unwrap(), "linked-to"),
        "pass"
    );
    let missing = format!("{p}.missing");
    assert_eq!(outcome(&doc, "file", &missing, "exists"), "fail");
    assert_eq!(outcome(&doc, "file", &missing, "mode"), "skip");
}

#[test]
fn command_properties() {
    let spec = r#"
[command."echo out; echo err >&2; exit 3"]
exit-status = 3
stdout = "out"
stderr = { contains = "er" }

[command.argv]
exec = ["ispec-no-such-program", "--version"]
exit-status = 0

[command."sleep 5"]
timeout = "300ms"
exit-status = 0
"#;
    let (code, doc) = run_json(spec);
    assert_eq!(code, 1);
    let id = "echo out; echo err >&2; exit 3";
    for prop in ["exit-status", "stdout", "stderr"] {
        assert_eq!(outcome(&doc, "command", id, prop), "pass", "{prop}");
    }
    let missing = result(&doc, "command", "argv", "exit-status");
    assert_eq!(missing["outcome"], "error");
    assert_eq!(
        missing["message"],
        "`ispec-no-such-program` is not installed on the target"
    );
    let slow = result(&doc, "command", "sleep 5", "exit-status");
    assert_eq!(slow["outcome"], "error");
    assert_eq!(slow["message"], "timed out after 300ms");
}
