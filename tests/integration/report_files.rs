//! `--report F:FILE`: written atomically, refused before anything runs when it cannot
//! be written, and several at once agreeing with each other and with stdout.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::util::{Specs, ispec};

/// The names of the files in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn written_atomically_and_readable() {
    let specs = Specs::new(&[("spec.toml", "[command.\"true\"]\nexit-status = 0\n")]);
    let out_dir = tempfile::tempdir().expect("temp dir");
    let report = out_dir.path().join("report.json");
    let out = ispec()
        .arg("run")
        .arg(specs.path("spec.toml"))
        .arg("--report")
        .arg(format!("json:{}", report.display()))
        .output()
        .expect("ispec runs");
    assert_eq!(out.status.code(), Some(0));
    // No `.ispec-report-*` temporary file is left beside it.
    assert_eq!(names(out_dir.path()), ["report.json"]);
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("JSON");
    assert_eq!(doc["summary"]["passed"], 1);
    // Readable like any file the user creates, not private like a temporary file.
    let plain = out_dir.path().join("plain");
    std::fs::File::create(&plain).expect("create");
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&report), mode(&plain));
}

#[test]
fn missing_folder_is_refused_before_running() {
    let out_dir = tempfile::tempdir().expect("temp dir");
    let marker = out_dir.path().join("ran");
    let spec = format!(
        "[command.\"touch {}\"]\nexit-status = 0\n",
        marker.display()
    );
    let specs = Specs::new(&[("spec.toml", &spec)]);
    let missing = out_dir.path().join("no-such-folder");
    let report = missing.join("report.xml");
    let out = ispec()
        .arg("run")
        .arg(specs.path("spec.toml"))
        .arg("--report")
        .arg(format!("junit:{}", report.display()))
        .output()
        .expect("ispec runs");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: cannot write report `{}`: folder `{}` does not exist; create it first\n",
            report.display(),
            missing.display()
        )
    );
    assert!(
        !marker.exists(),
        "nothing may run when a report cannot be written"
    );
    assert!(!missing.exists());
}

#[test]
fn one_file_for_two_reports_is_refused() {
    let specs = Specs::new(&[("spec.toml", "[command.\"true\"]\nexit-status = 0\n")]);
    let out_dir = tempfile::tempdir().expect("temp dir");
    let report = out_dir.path().join("report");
    let out = ispec()
        .arg("run")
        .arg(specs.path("spec.toml"))
        .arg("--report")
        .arg(format!("junit:{}", report.display()))
        .arg("--report")
        .arg(format!("json:{}", report.display()))
        .output()
        .expect("ispec runs");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: two `--report` flags write `{}`; give each report its own file\n",
            report.display()
        )
    );
    assert_eq!(names(out_dir.path()), Vec::<String>::new());
}

/// The text of every `name="..."` of `<testcase` elements, and the count of each
/// non-success element, from a JUnit file (ours is one element per line).
fn junit_cases(xml: &str) -> (Vec<String>, usize, usize, usize) {
    let names = xml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("<testcase name=\""))
        .map(|rest| rest.split('"').next().unwrap_or_default().to_string())
        .collect();
    let count = |tag: &str| xml.matches(tag).count();
    (
        names,
        count("<failure "),
        count("<error "),
        count("<skipped "),
    )
}

#[test]
fn two_reports_and_stdout_agree() {
    let specs = Specs::new(&[
        (
            "a.toml",
            r#"
[command."echo one"]
stdout = "one"
exit-status = 1

[file."/etc/passwd"]
exists = true
"#,
        ),
        (
            "b.toml",
            r#"
[command.missing]
exec = ["ispec-no-such-program"]
exit-status = 0

[file."/nonexistent/ispec-test"]
exists = true
mode = "0644"
"#,
        ),
    ]);
    let out_dir = tempfile::tempdir().expect("temp dir");
    let junit = out_dir.path().join("report.xml");
    let json = out_dir.path().join("report.json");
    let out = ispec()
        .arg("run")
        .arg(specs.dir())
        .args(["--format", "tap"])
        .arg("--report")
        .arg(format!("junit:{}", junit.display()))
        .arg("--report")
        .arg(format!("json:{}", json.display()))
        .output()
        .expect("ispec runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(names(out_dir.path()), ["report.json", "report.xml"]);
    let tap = String::from_utf8(out.stdout).expect("UTF-8");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("JSON");
    let xml = std::fs::read_to_string(&junit).expect("junit");

    // The same checks, in the same order, in all three.
    let from_json: Vec<String> = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            format!(
                "{} {} › {}",
                r["kind"].as_str().unwrap(),
                r["id"].as_str().unwrap(),
                r["property"].as_str().unwrap()
            )
        })
        .collect();
    let from_tap: Vec<String> = tap
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("not ok "))
        .map(|l| {
            let desc = l.split_once(" - ").expect("a description").1;
            desc.split(" # ").next().unwrap().to_string()
        })
        .collect();
    let (from_junit, failures, errors, skipped) = junit_cases(&xml);
    assert_eq!(
        from_json,
        [
            "command echo one › stdout",
            "command echo one › exit-status",
            "file /etc/passwd › exists",
            "command missing › exit-status",
            "file /nonexistent/ispec-test › exists",
            "file /nonexistent/ispec-test › mode",
        ]
    );
    assert_eq!(from_tap, from_json, "{tap}");
    assert_eq!(from_junit, from_json, "{xml}");

    // The same verdicts.
    let s = &doc["summary"];
    assert_eq!(
        [&s["passed"], &s["failed"], &s["errored"], &s["skipped"]],
        [2, 2, 1, 1]
    );
    assert_eq!((failures, errors, skipped), (2, 1, 1), "{xml}");
    assert_eq!(tap.matches("\nnot ok ").count(), 3, "{tap}");
    assert_eq!(tap.matches(" # SKIP ").count(), 1, "{tap}");
    assert!(tap.ends_with("# 2 passed, 2 failed, 1 errored, 1 skipped\n"));
}
