//! JUnit XML as Python's `junitparser` reads it: one testsuite per spec file, counts
//! that agree with the cases, failures that carry expected and actual values.

use std::process::Command;

use crate::report_tap::require;
use crate::util::{Specs, ispec};

/// Loads a JUnit file with junitparser and prints, as JSON, each suite's attributes
/// and what its cases really hold.
const READER: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    cases = list(suite)
    kinds = [type(r) for c in cases for r in c.result]
    suites.append({
        "name": suite.name,
        "tests": suite.tests,
        "failures": suite.failures,
        "errors": suite.errors,
        "skipped": suite.skipped,
        "cases": len(cases),
        "failed_cases": kinds.count(Failure),
        "errored_cases": kinds.count(Error),
        "skipped_cases": kinds.count(Skipped),
        "failure_messages": [r.message for c in cases for r in c.result if isinstance(r, Failure)],
        "failure_texts": [r.text for c in cases for r in c.result if isinstance(r, Failure)],
    })
print(json.dumps({"tests": xml.tests, "failures": xml.failures, "errors": xml.errors, "suites": suites}))
"#;

fn junitparser_works() -> bool {
    Command::new("python3")
        .args(["-c", "import junitparser"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn junitparser_reads_suites_per_spec_file() {
    if !require(junitparser_works(), "python3 with `junitparser`") {
        return;
    }
    let specs = Specs::new(&[
        (
            "a.toml",
            r#"
[command."true"]
exit-status = 0
stdout = ""

[command."echo actual-output"]
stdout = "expected-output"
"#,
        ),
        (
            "b.toml",
            r#"
[command.missing]
exec = ["ispec-no-such-program"]
exit-status = 0

[file."/etc/passwd"]
exists = true

[command."echo skipped"]
skip = true
exit-status = 0
"#,
        ),
    ]);
    let out_dir = tempfile::tempdir().expect("temp dir");
    let report = out_dir.path().join("report.xml");
    let out = ispec()
        .arg("run")
        .arg(specs.dir())
        .arg("--report")
        .arg(format!("junit:{}", report.display()))
        .output()
        .expect("ispec runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed = Command::new("python3")
        .args(["-c", READER])
        .arg(&report)
        .output()
        .expect("python3 runs");
    assert!(
        parsed.status.success(),
        "junitparser could not read the report: {}\n{}",
        String::from_utf8_lossy(&parsed.stderr),
        std::fs::read_to_string(&report).unwrap_or_default()
    );
    let doc: serde_json::Value = serde_json::from_slice(&parsed.stdout).expect("JSON");
    assert_eq!(doc["tests"], 6);
    assert_eq!(doc["failures"], 1);
    assert_eq!(doc["errors"], 1);
    let suites = doc["suites"].as_array().expect("suites");
    assert_eq!(suites.len(), 2, "one testsuite per spec file: {doc:#}");
    let a = specs.path("a.toml");
    let b = specs.path("b.toml");
    let expect = [
        (a.to_str().unwrap(), 3, 1, 0, 0),
        (b.to_str().unwrap(), 3, 0, 1, 1),
    ];
    for (suite, (name, tests, failures, errors, skipped)) in suites.iter().zip(expect) {
        assert_eq!(suite["name"], name, "{suite:#}");
        // The attributes CI tools read agree with the cases themselves.
        for (attr, counted, want) in [
            ("tests", "cases", tests),
            ("failures", "failed_cases", failures),
            ("errors", "errored_cases", errors),
            ("skipped", "skipped_cases", skipped),
        ] {
            assert_eq!(suite[attr], want, "{attr} in {suite:#}");
            assert_eq!(suite[counted], want, "{counted} in {suite:#}");
        }
    }
    assert_eq!(
        suites[0]["failure_messages"][0],
        r#"stdout: expected "expected-output", got "actual-output""#
    );
    let text = suites[0]["failure_texts"][0]
        .as_str()
        .expect("failure text");
    assert!(
        text.starts_with("expected: \"expected-output\"\nactual: \"actual-output\"\nat: "),
        "{text}"
    );
}
