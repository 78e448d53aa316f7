//! The JSON report's shape: every field's name and type, for each kind of outcome.

use serde_json::Value;

use crate::util::{Specs, ispec, result};

/// The type of a JSON value, as the contract names it.
fn ty(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_u64() => "uint",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The field names of an object with their types, sorted by name (a JSON reader
/// does not see the order).
fn shape(v: &Value) -> Vec<(String, &'static str)> {
    let mut pairs: Vec<_> = v
        .as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| (k.clone(), ty(v)))
        .collect();
    pairs.sort();
    pairs
}

fn fields(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    let mut pairs: Vec<_> = pairs.iter().map(|(k, t)| ((*k).to_string(), *t)).collect();
    pairs.sort();
    pairs
}

#[test]
fn field_names_and_types() {
    let specs = Specs::new(&[(
        "spec.toml",
        r#"
[command."true"]
title = "Truth holds"
exit-status = 0
stdout = "not empty"

[command.missing]
exec = ["ispec-no-such-program"]
exit-status = 0

[command."echo skipped"]
skip = true
exit-status = 0
"#,
    )]);
    let out = ispec()
        .arg("run")
        .arg(specs.path("spec.toml"))
        .args(["--format", "json"])
        .output()
        .expect("ispec runs");
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(
        shape(&doc),
        fields(&[
            ("version", "uint"),
            ("summary", "object"),
            ("results", "array"),
            ("targets", "array")
        ])
    );
    // What the target cost: the local machine answers each fact when asked.
    let targets = doc["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 1);
    let mut target_shape = shape(&targets[0]);
    target_shape.retain(|(k, _)| k != "phases_s");
    assert_eq!(
        target_shape,
        fields(&[
            ("target", "string"),
            ("gather", "string"),
            ("fallback", "null"),
            ("round_trips", "uint"),
            ("bytes_sent", "uint"),
            ("bytes_received", "uint"),
            // This machine has no output of its own to show.
            ("output", "null"),
        ])
    );
    assert_eq!(
        (&targets[0]["target"], &targets[0]["gather"]),
        (&Value::from("local"), &Value::from("local"))
    );
    for phase in ["connect", "setup", "gather", "judge", "teardown"] {
        assert!(
            targets[0]["phases_s"][phase].is_f64(),
            "{phase}: {}",
            targets[0]
        );
    }
    assert_eq!(doc["version"], 1);
    let summary = &doc["summary"];
    // `duration_s` is a number of seconds; a fast run may print it as a whole 0.0.
    assert!(summary["duration_s"].is_f64(), "{summary}");
    let mut summary_shape = shape(summary);
    summary_shape.retain(|(k, _)| k != "duration_s");
    assert_eq!(
        summary_shape,
        fields(&[
            ("passed", "uint"),
            ("failed", "uint"),
            ("errored", "uint"),
            ("skipped", "uint"),
            ("total", "uint"),
            ("ok", "bool"),
        ])
    );
    assert_eq!(
        (
            &summary["passed"],
            &summary["failed"],
            &summary["errored"],
            &summary["skipped"],
            &summary["total"],
            &summary["ok"]
        ),
        (
            &Value::from(1),
            &Value::from(1),
            &Value::from(1),
            &Value::from(1),
            &Value::from(4),
            &Value::from(false)
        )
    );
    let results = doc["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    let file = specs.path("spec.toml");
    // (id, property, outcome, type of title, of actual, of message, line) per outcome.
    let cases = [
        ("true", "exit-status", "pass", "string", "string", "null", 4),
        ("true", "stdout", "fail", "string", "string", "null", 5),
        (
            "missing",
            "exit-status",
            "error",
            "null",
            "null",
            "string",
            9,
        ),
        (
            "echo skipped",
            "exit-status",
            "skip",
            "null",
            "null",
            "string",
            13,
        ),
    ];
    for (id, property, outcome, title, actual, message, line) in cases {
        let r = result(&doc, "command", id, property);
        assert!(r["duration_s"].is_f64(), "{r}");
        let mut got = shape(r);
        got.retain(|(k, _)| k != "duration_s");
        assert_eq!(
            got,
            fields(&[
                ("target", "string"),
                ("kind", "string"),
                ("id", "string"),
                ("title", title),
                ("property", "string"),
                ("outcome", "string"),
                ("expected", "string"),
                ("actual", actual),
                ("message", message),
                ("file", "string"),
                ("line", "uint"),
                ("column", "uint"),
                ("attempts", "uint"),
            ]),
            "{id} › {property}"
        );
        assert_eq!(r["outcome"], outcome);
        assert_eq!(r["target"], "local");
        assert_eq!(r["file"], file.to_str().unwrap());
        assert_eq!(r["line"], line);
        assert_eq!(r["column"], 1);
    }
    let pass = result(&doc, "command", "true", "exit-status");
    assert_eq!(pass["title"], "Truth holds");
    assert_eq!(
        (&pass["expected"], &pass["actual"]),
        (&"0".into(), &"0".into())
    );
    assert_eq!(pass["attempts"], 1);
    let fail = result(&doc, "command", "true", "stdout");
    assert_eq!(fail["expected"], "\"not empty\"");
    assert_eq!(fail["actual"], "\"\"");
    let skip = result(&doc, "command", "echo skipped", "exit-status");
    assert_eq!(skip["message"], "`skip = true` in the spec");
    assert_eq!(skip["attempts"], 0);
}
