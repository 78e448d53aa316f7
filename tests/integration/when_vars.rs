//! Conditions (`when`) and variables (`${VAR}`) end to end: skipped with the reason
//! on a container and run locally, the OS of the Debian fixture, unknown variables
//! and bad conditions as spec errors, and `--var` over the environment over `[vars]`.

use std::path::Path;

use crate::docker_util::{DEBIAN, assert_none_left, case_label, have_image};
use crate::util::{Specs, ispec, json_report, result};

/// Checks that hold on any Linux machine, each behind a condition.
const SPEC: &str = r#"
[file."/etc/passwd"]
when = "!container"
exists = true

[command."uname -s"]
when = 'os == "debian" && os-version >= "12"'
stdout = "Linux"

[command."true"]
when = "docker || ssh"
exit-status = 0
"#;

/// The first of the markers ispec reads that exists here: this machine may itself
/// be a container.
fn local_marker() -> Option<&'static str> {
    ["/.dockerenv", "/run/.containerenv"]
        .into_iter()
        .find(|m| Path::new(m).exists())
}

fn run_json(specs: &Specs, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = ispec()
        .arg("run")
        .arg(specs.path("spec.toml"))
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("ispec runs");
    json_report(&out)
}

#[test]
fn not_container_is_skipped_on_a_container_with_the_reason() {
    if !have_image(DEBIAN) {
        return;
    }
    let specs = Specs::new(&[("spec.toml", SPEC)]);
    let label = case_label("when-container");
    let (code, doc, stderr) = run_json(
        &specs,
        &["--image", DEBIAN, "--label", &label, "--wait-health=false"],
    );
    assert_none_left(&label);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    let skipped = result(&doc, "file", "/etc/passwd", "exists");
    assert_eq!(skipped["outcome"], "skip");
    assert_eq!(
        skipped["message"],
        "when `!container`: the target is a container"
    );
    // The Debian fixture is Debian 12: the OS condition holds, the check runs.
    assert_eq!(
        result(&doc, "command", "uname -s", "stdout")["outcome"],
        "pass"
    );
    assert_eq!(
        result(&doc, "command", "true", "exit-status")["outcome"],
        "pass"
    );
}

#[test]
fn conditions_on_the_local_machine() {
    let specs = Specs::new(&[("spec.toml", SPEC)]);
    let (code, doc, stderr) = run_json(&specs, &[]);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    let passwd = result(&doc, "file", "/etc/passwd", "exists");
    match local_marker() {
        // This machine is a container: `!container` is false here too, and says why.
        Some(marker) => assert_eq!(
            passwd["message"],
            format!("when `!container`: the target is a container (`{marker}`)")
        ),
        None => assert_eq!(passwd["outcome"], "pass"),
    }
    assert_eq!(
        result(&doc, "command", "true", "exit-status")["message"],
        "when `docker || ssh`: the target is not a Docker container, the target is not reached over SSH"
    );
}

#[test]
fn a_bad_condition_is_a_spec_error_at_its_place() {
    let specs = Specs::new(&[(
        "spec.toml",
        "[file.\"/etc/passwd\"]\nexists = true\nwhen = \"local && os = 'debian'\"\n",
    )]);
    let out = ispec()
        .arg("validate")
        .arg(specs.path("spec.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let path = specs.path("spec.toml");
    assert_eq!(
        stderr,
        format!(
            "error: `=` in `when` must be doubled\n --> {}:3:21\n  |\n3 | when = \"local && os = 'debian'\"\n  |                     ^ write `==`\n  = help: a condition is `container`, `docker`, `local`, `ssh`, `root`, `os == \"debian\"`, `os-version >= \"12\"`, `arch == \"x86_64\"` or `target == \"web\"`, joined with `!`, `&&`, `||` and parentheses\n",
            path.display()
        )
    );
}

#[test]
fn an_unknown_variable_is_a_spec_error_naming_it() {
    let specs = Specs::new(&[(
        "spec.toml",
        "[file.\"/etc/${ISPEC_TEST_NO_SUCH}\"]\nexists = true\n",
    )]);
    let out = ispec()
        .env_remove("ISPEC_TEST_NO_SUCH")
        .arg("run")
        .arg(specs.path("spec.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        format!(
            "error: unknown variable `ISPEC_TEST_NO_SUCH`\n --> {}:1:13\n  |\n1 | [file.\"/etc/${{ISPEC_TEST_NO_SUCH}}\"]\n  |             ^^^^^^^^^^^^^^^^^^^^^ not defined\n  = help: define it in the suite's `[vars]` table, in the environment, or with `--var ISPEC_TEST_NO_SUCH=VALUE`; write `$${{` for a literal `${{`\n",
            specs.path("spec.toml").display()
        )
    );
}

/// A suite whose `[vars]` gives three variables; the spec prints them.
const SUITE: &str = r#"
[vars]
A = "suite"
B = "suite"
C = "suite"

[target.here]
local = true
specs = ["spec.toml"]
"#;

const PRINT: &str = r#"
[command."echo ${A} ${B} ${C} '$${A}'"]
stdout = "x"
when = 'target == "here"'
"#;

#[test]
fn var_flags_beat_the_environment_which_beats_the_suite() {
    let specs = Specs::new(&[("ispec.toml", SUITE), ("spec.toml", PRINT)]);
    let out = ispec()
        .current_dir(specs.dir())
        .env("A", "env")
        .env("B", "env")
        .env_remove("C")
        .args(["run", "--var", "A=flag", "--format", "json"])
        .output()
        .unwrap();
    let (code, doc, stderr) = json_report(&out);
    // The check fails on purpose: its actual value shows what was substituted.
    assert_eq!(code, 1, "{doc:#} {stderr}");
    let r = result(&doc, "command", "echo flag env suite '${A}'", "stdout");
    assert_eq!(r["actual"], "\"flag env suite ${A}\"");
    // `list` and `validate` take `--var` too.
    let out = ispec()
        .current_dir(specs.dir())
        .env_remove("A")
        .args(["list", "--var", "A=listed"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("command echo listed suite suite '${A}'"),
        "{out:?}"
    );
    let out = ispec()
        .current_dir(specs.dir())
        .args(["validate", "--var", "not a var"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
