//! TAP as Perl's `prove` reads it: passing and failing runs, skips, and a `#` in an
//! id that must not be taken for a directive.

use std::process::Command;

use crate::util::{Specs, ispec};

/// Returns true if `works`; otherwise fails under `CI=true` and says loudly, elsewhere,
/// that the test is not checking anything.
pub(crate) fn require(works: bool, what: &str) -> bool {
    if works {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} is needed for this test and CI=true: install it (scripts/test does)"
    );
    eprintln!("WARNING: {what} is missing, so this test checked nothing; run scripts/test");
    false
}

/// Runs `ispec run SPEC --format tap` and returns the exit code and the TAP.
fn tap_of(spec: &str) -> (i32, String) {
    let specs = Specs::new(&[("spec.toml", spec)]);
    let out = ispec()
        .arg("run")
        .arg(specs.path("spec.toml"))
        .args(["--format", "tap"])
        .output()
        .expect("ispec runs");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("TAP is UTF-8"),
    )
}

/// Feeds `tap` to `prove -v` and returns its exit code and everything it printed, or
/// `None` when prove is missing outside CI.
fn prove(tap: &str) -> Option<(i32, String)> {
    let has_prove = Command::new("prove")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !require(has_prove, "`prove` (Perl)") {
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("run.tap");
    std::fs::write(&file, tap).expect("write TAP");
    let out = Command::new("prove")
        .args(["-v", "--exec", "cat"])
        .arg(&file)
        .output()
        .expect("prove runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.code().unwrap_or(-1), text))
}

#[test]
fn passing_run_passes_prove() {
    let (code, tap) = tap_of(
        r#"
[file."/etc/passwd"]
exists = true
type = "file"

[command."printf '%s' 'a # b'"]
exit-status = 0
stdout = "a # b"

[command."echo never runs"]
skip = true
exit-status = 0
"#,
    );
    assert_eq!(code, 0, "{tap}");
    assert!(tap.starts_with("TAP version 13\n1..5\n"), "{tap}");
    assert!(
        tap.contains("ok 3 - command printf '%s' 'a \\# b' › exit-status\n"),
        "{tap}"
    );
    assert!(
        tap.contains(
            "ok 5 - command echo never runs › exit-status # SKIP `skip = true` in the spec\n"
        ),
        "{tap}"
    );
    let Some((code, text)) = prove(&tap) else {
        return;
    };
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Result: PASS"), "{text}");
    assert!(!text.contains("Parse errors"), "{text}");
}

#[test]
fn failing_run_fails_prove() {
    let (code, tap) = tap_of(
        r#"
[command."exit 1 # SKIP this is not a directive"]
exit-status = 0

[command."true"]
exit-status = 0

[file."/nonexistent/ispec-test"]
exists = true
mode = "0644"

[command.missing]
exec = ["ispec-no-such-program"]
exit-status = 0
"#,
    );
    assert_eq!(code, 1, "{tap}");
    assert!(
        tap.contains("not ok 1 - command exit 1 \\# SKIP this is not a directive › exit-status\n"),
        "{tap}"
    );
    assert!(
        tap.contains("ok 4 - file /nonexistent/ispec-test › mode # SKIP `exists` did not hold\n"),
        "{tap}"
    );
    let Some((code, text)) = prove(&tap) else {
        return;
    };
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("Result: FAIL"), "{text}");
    assert!(!text.contains("Parse errors"), "{text}");
    // Test 1 is a failure whatever its id says; 4 is a real skip, not a failure.
    assert!(text.contains("Failed tests:  1, 3, 5"), "{text}");
}
