//! Resource ids and values with shell syntax reach the target as data, never as code:
//! every kind but `command` (whose text is a command by intent) is given ids that would
//! create a marker file if any shell ran them, and no marker may appear.

use std::fmt::Write as _;

use crate::util::ispec;

/// Ids that create `pwned` in the working folder if a shell ever evaluates them.
const NASTY: &[&str] = &[
    "$(touch pwned)",
    "$(touch${IFS}pwned)",
    "`touch pwned`",
    "x;touch pwned",
    "x;touch${IFS}pwned",
    "x'$(touch pwned)'\"",
    "x\n touch pwned",
    "x|touch${IFS}pwned",
];

/// Kinds whose checks run against the local machine, with their gate property.
/// `dns` and `addr` are only validated: running them would resolve names off-machine.
const RUN: &[(&str, &str, bool)] = &[
    ("file", "exists", true),
    ("package", "installed", false),
    ("service", "running", false),
    ("process", "running", false),
    ("user", "exists", false),
    ("group", "exists", false),
    ("kernel-param", "value", false),
    ("interface", "exists", false),
    ("mount", "exists", true),
    ("port", "listening", false),
    ("http", "status", false),
];
const VALIDATE_ONLY: &[(&str, &str)] = &[("dns", "resolvable"), ("addr", "reachable")];

/// `s` as a quoted TOML key; `${` written `$${` so ispec's variables leave it as is.
fn toml_key(s: &str) -> String {
    serde_json::to_string(s).unwrap().replace("${", "$${")
}

fn ids(kind: &str, absolute: bool) -> Vec<String> {
    NASTY
        .iter()
        .map(|n| match (kind, absolute) {
            ("http", _) => format!("http://127.0.0.1:1/{n}"),
            (_, true) => format!("/tmp/{n}"),
            _ => (*n).to_string(),
        })
        .collect()
}

/// Returns true if and only if `ispec validate` accepts a one-resource spec.
fn valid(dir: &std::path::Path, kind: &str, prop: &str, id: &str) -> bool {
    let path = dir.join("one.toml");
    std::fs::write(&path, format!("[{kind}.{}]\n{prop} = true\n", toml_key(id))).unwrap();
    let out = ispec().arg("validate").arg(&path).output().unwrap();
    match out.status.code() {
        Some(0) => true,
        Some(2) => {
            // Refused ids are refused for what they are, not for a parse error of ours.
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!("invalid `{kind}` id")) || err.contains("must be"),
                "{kind} {id:?}: {err}"
            );
            false
        }
        other => panic!("validate exited {other:?}"),
    }
}

#[test]
fn ids_with_shell_syntax_stay_data() {
    let work = tempfile::tempdir().unwrap();
    let mut spec = String::new();
    let mut accepted_kinds = Vec::new();
    for (kind, prop, absolute) in RUN {
        let mut any = false;
        for id in ids(kind, *absolute) {
            if valid(work.path(), kind, prop, &id) {
                let value = if *prop == "status" { "200" } else { "true" };
                let _ = write!(spec, "[{kind}.{}]\n{prop} = {value}\n\n", toml_key(&id));
                any = true;
            }
        }
        if any {
            accepted_kinds.push(*kind);
        }
    }
    for (kind, prop) in VALIDATE_ONLY {
        for id in ids(kind, false) {
            let _ = valid(work.path(), kind, prop, &id);
        }
    }
    // The kinds that take free text must really have been exercised.
    for kind in [
        "file", "package", "process", "user", "group", "mount", "service",
    ] {
        assert!(accepted_kinds.contains(&kind), "{kind} refused every id");
    }
    // `exec` passes an argv: its items are data too.
    spec.push_str(
        "[command.argv]\nexec = [\"printf\", \"%s\", \"$(touch pwned)\", \"`touch pwned`\"]\n",
    );
    spec.push_str("stdout = \"$(touch pwned)`touch pwned`\"\n");
    let path = work.path().join("nasty.toml");
    std::fs::write(&path, &spec).unwrap();
    let out = ispec()
        .current_dir(work.path())
        .arg("run")
        .arg(&path)
        .args(["--format", "json", "--timeout", "5s"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["summary"]["total"].as_u64().unwrap() > 40, "{doc:#}");
    assert_eq!(
        doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "argv")
            .unwrap()["outcome"],
        "pass"
    );
    let leftovers: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains("pwned"))
        .collect();
    assert!(leftovers.is_empty(), "shell syntax ran: {leftovers:?}");
    assert!(!std::path::Path::new("/tmp/pwned").exists());
}
