//! Golden tests: every reporter's whole output for fixed results, compared with
//! `fixtures/golden/<format>/<case>.<ext>`. The files are the contract of each format;
//! `UPDATE_GOLDEN=1 cargo test` rewrites them (review the diff before committing it).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Format, reporter};
use crate::expect::Value;
use crate::run::{CheckResult, Outcome, Summary};
use crate::spec::Location;

/// A writer whose bytes the test can read back after the reporter is done.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn at(file: &str, line: u32, column: u32) -> Location {
    Location {
        file: Arc::from(Path::new(file)),
        line,
        column,
    }
}

/// One check's result with the fields every case shares filled in.
#[expect(
    clippy::too_many_arguments,
    reason = "the cases read best as flat rows of literal fields"
)]
fn check(
    kind: &'static str,
    id: &str,
    property: &'static str,
    outcome: Outcome,
    expected: &Value,
    actual: Option<&Value>,
    location: Location,
    millis: u64,
) -> CheckResult {
    CheckResult {
        target: "local".into(),
        kind,
        id: id.into(),
        title: None,
        property,
        outcome,
        expected: expected.to_string(),
        actual: actual.map(ToString::to_string),
        note: None,
        location,
        duration: Duration::from_millis(millis),
        attempts: 1,
    }
}

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

/// Every kind of result, grouped by resource as the engine hands them over, from two
/// spec files.
fn mixed() -> Vec<Vec<CheckResult>> {
    const WEB: &str = "specs/web.toml";
    const BASE: &str = "specs/base.toml";
    let nginx = vec![
        check(
            "command",
            "nginx -v",
            "exit-status",
            Outcome::Pass,
            &Value::Int(0),
            Some(&Value::Int(0)),
            at(WEB, 2, 1),
            12,
        ),
        check(
            "command",
            "nginx -v",
            "stderr",
            Outcome::Fail,
            &s("nginx version: nginx/1.22.1"),
            Some(&s("nginx version: nginx/1.18.0")),
            at(WEB, 3, 1),
            12,
        ),
    ];
    let mut answers = check(
        "command",
        "curl -fsS http://127.0.0.1/",
        "exit-status",
        Outcome::Pass,
        &Value::Int(0),
        Some(&Value::Int(0)),
        at(WEB, 7, 1),
        2250,
    );
    answers.title = Some("Web answers".into());
    answers.attempts = 3;
    // A value with a `#`, a newline and quotes: TAP must not read a directive in it,
    // YAML and XML must quote it, the terminal must keep it on one line.
    let tricky_id = "printf '%s\\n' \"a # b\"";
    let tricky = vec![check(
        "command",
        tricky_id,
        "stdout",
        Outcome::Fail,
        &s("a # b\n\"c\""),
        Some(&s("a # b\n\"d\"")),
        at(WEB, 11, 1),
        3,
    )];
    let conf = "/etc/nginx/nginx.conf";
    let config = vec![
        check(
            "file",
            conf,
            "exists",
            Outcome::Pass,
            &Value::Bool(true),
            Some(&Value::Bool(true)),
            at(BASE, 2, 1),
            1,
        ),
        check(
            "file",
            conf,
            "owner",
            Outcome::Error(
                "permission denied: cannot read `/etc/nginx/nginx.conf`\nstat: exit 1 # no access"
                    .into(),
            ),
            &s("root"),
            None,
            at(BASE, 3, 1),
            1,
        ),
    ];
    let missing = "/etc/motd";
    let motd = vec![
        check(
            "file",
            missing,
            "exists",
            Outcome::Fail,
            &Value::Bool(true),
            Some(&Value::Bool(false)),
            at(BASE, 6, 1),
            1,
        ),
        check(
            "file",
            missing,
            "mode",
            Outcome::Skip("`exists` did not hold".into()),
            &s("0644"),
            None,
            at(BASE, 7, 1),
            1,
        ),
    ];
    vec![nginx, vec![answers], tricky, config, motd]
}

/// A run where everything passes, one resource skipped by the spec.
fn passing() -> Vec<Vec<CheckResult>> {
    let spec = "specs/ok.toml";
    let mut skipped = check(
        "command",
        "true",
        "exit-status",
        Outcome::Skip("`skip = true` in the spec".into()),
        &Value::Int(0),
        None,
        at(spec, 6, 1),
        0,
    );
    skipped.attempts = 0;
    vec![
        vec![
            check(
                "file",
                "/etc/passwd",
                "exists",
                Outcome::Pass,
                &Value::Bool(true),
                Some(&Value::Bool(true)),
                at(spec, 2, 1),
                1,
            ),
            check(
                "file",
                "/etc/passwd",
                "mode",
                Outcome::Pass,
                &s("0644"),
                Some(&s("0644")),
                at(spec, 3, 1),
                1,
            ),
        ],
        vec![skipped],
    ]
}

/// Feeds `resources` to a reporter as `run::execute` does and returns its output.
fn render(format: Format, color: bool, resources: &[Vec<CheckResult>], millis: u64) -> String {
    render_with_output(format, color, resources, millis, &[])
}

/// [`render`], then each target's last `output` lines as the fleet hands them over
/// for a target that failed, and each target's cost.
fn render_with_output(
    format: Format,
    color: bool,
    resources: &[Vec<CheckResult>],
    millis: u64,
    output: &[(&str, &[&str])],
) -> String {
    let out = Captured::default();
    let mut r = reporter(format, Box::new(out.clone()), color);
    let mut summary = Summary::default();
    r.start(resources.iter().map(Vec::len).sum()).unwrap();
    for results in resources {
        for c in results {
            summary.count(c);
        }
        r.resource(results).unwrap();
    }
    for (target, lines) in output {
        let lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
        r.target_output(target, &lines).unwrap();
    }
    if !output.is_empty() {
        let stats = crate::host::Stats {
            mode: "probe".into(),
            round_trips: 2,
            ..crate::host::Stats::default()
        };
        r.target_done("local", &stats).unwrap();
    }
    summary.duration = Duration::from_millis(millis);
    r.finish(&summary).unwrap();
    drop(r);
    let bytes = out.0.lock().unwrap().clone();
    String::from_utf8(bytes).expect("reports are UTF-8")
}

fn golden_path(dir: &str, case: &str, ext: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/golden")
        .join(dir)
        .join(format!("{case}.{ext}"))
}

/// Compares `actual` with the golden file, or rewrites it under `UPDATE_GOLDEN=1`.
fn assert_golden(dir: &str, case: &str, ext: &str, actual: &str) {
    let path = golden_path(dir, case, ext);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read golden file {} ({e}); run `UPDATE_GOLDEN=1 cargo test` and review it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from the output (rerun with UPDATE_GOLDEN=1 and review the diff)\n\
         --- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

/// Every format of one case: (golden folder, extension, format, color).
const FORMATS: &[(&str, &str, Format, bool)] = &[
    ("human", "txt", Format::Human, false),
    ("human-color", "txt", Format::Human, true),
    ("tap", "tap", Format::Tap, false),
    ("junit", "xml", Format::Junit, false),
    ("json", "json", Format::Json, false),
];

fn assert_case(case: &str, resources: &[Vec<CheckResult>], millis: u64) {
    for (dir, ext, format, color) in FORMATS {
        assert_golden(dir, case, ext, &render(*format, *color, resources, millis));
    }
}

#[test]
fn mixed_results() {
    assert_case("mixed", &mixed(), 3250);
}

#[test]
fn a_failing_targets_output() {
    let lines: &[&str] = &[
        "nginx: [emerg] host not found in upstream \"api\"",
        "\tworker exited",
    ];
    for (dir, ext, format, color) in FORMATS {
        let actual = render_with_output(*format, *color, &mixed(), 3250, &[("local", lines)]);
        assert_golden(dir, "output", ext, &actual);
    }
}

#[test]
fn all_passing() {
    assert_case("passing", &passing(), 5);
}

#[test]
fn no_checks() {
    assert_case("empty", &[], 0);
}

#[test]
fn color_only_when_asked() {
    let plain = render(Format::Human, false, &mixed(), 1);
    let colored = render(Format::Human, true, &mixed(), 1);
    assert!(!plain.contains('\u{1b}'));
    assert!(
        colored.contains("\u{1b}[31m"),
        "red for failures: {colored}"
    );
    // Machine formats never carry escapes, whatever the terminal.
    for format in [Format::Tap, Format::Junit, Format::Json] {
        assert!(!render(format, true, &mixed(), 1).contains('\u{1b}'));
    }
}
