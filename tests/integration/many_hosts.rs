//! Several targets in one run: checked at once (up to `--parallel`), reported grouped
//! by target in the order given.
//!
//! Concurrency is proven without timing: checks on different targets meet at a
//! rendezvous of marker files, which they can only pass if they run at the same time
//! (and which gives up, rather than hangs, if they do not).

use std::path::Path;

use crate::docker_util::{DEBIAN, Started, have_image, wait_ready};
use crate::util::{Specs, ispec, json_report, run};

/// A shell command that leaves a marker in `dir`, then waits until `n` markers are
/// there; it gives up (exit 1) after about `tries` × 50 ms.
fn rendezvous(dir: &Path, n: usize, tries: usize) -> String {
    let dir = dir.display();
    format!(
        "touch {dir}/$$; i=0; until [ $(ls {dir} | wc -l) -ge {n} ]; do \
         i=$((i+1)); [ $i -ge {tries} ] && exit 1; sleep 0.05; done"
    )
}

/// `(target, kind id)` of each result of a JSON report, in report order.
fn results(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["target"].as_str().unwrap_or_default().to_string(),
                format!(
                    "{} {}",
                    r["kind"].as_str().unwrap_or_default(),
                    r["id"].as_str().unwrap_or_default()
                ),
            )
        })
        .collect()
}

#[test]
fn targets_are_checked_at_once_up_to_parallel() {
    let meet = tempfile::tempdir().unwrap();
    let spec = format!(
        "[command.'{}']\nexit-status = 0\n",
        rendezvous(meet.path(), 2, 400)
    );
    let specs = Specs::new(&[("spec.toml", &spec)]);
    let spec = specs.path("spec.toml");
    let spec = spec.to_str().unwrap();
    // The same check on two targets: each passes only if the other runs meanwhile.
    let out = run(&[
        "run", spec, "-t", "local", "-t", "local", "--format", "json",
    ]);
    let (code, doc, stderr) = json_report(&out);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    assert_eq!(doc["summary"]["passed"], 2, "{doc:#}");

    // `--parallel 1` checks one target after the other: the first waits alone and
    // gives up; the second finds the first's marker and its own.
    let meet = tempfile::tempdir().unwrap();
    let spec = format!(
        "[command.'{}']\nexit-status = 0\n",
        rendezvous(meet.path(), 2, 40)
    );
    let specs = Specs::new(&[("spec.toml", &spec)]);
    let spec = specs.path("spec.toml");
    let out = run(&[
        "run",
        spec.to_str().unwrap(),
        "-t",
        "local",
        "-t",
        "local",
        "--parallel",
        "1",
        "--format",
        "json",
    ]);
    let (code, doc, _) = json_report(&out);
    assert_eq!(code, 1, "{doc:#}");
    let outcomes: Vec<&str> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["fail", "pass"], "{doc:#}");
}

#[test]
fn parallel_zero_is_a_usage_error() {
    let specs = Specs::new(&[("spec.toml", "[command.\"true\"]\nexit-status = 0\n")]);
    let out = run(&[
        "run",
        specs.path("spec.toml").to_str().unwrap(),
        "--parallel",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: invalid value '0' for '--parallel <N>': 0 is not in 1..=65535\n")
    );
}

#[test]
fn reports_are_grouped_by_target_in_the_order_given() {
    if !have_image(DEBIAN) {
        return;
    }
    // The first target's check waits until the second and third have finished theirs,
    // so the targets finish last-first; the reports still list them first-first.
    let meet = tempfile::tempdir().unwrap();
    let dir = meet.path().display().to_string();
    let mount = format!("{dir}:{dir}");
    let (a, b) = (
        Started::run(DEBIAN, &["-v", &mount]),
        Started::run(DEBIAN, &["-v", &mount]),
    );
    wait_ready(&a);
    wait_ready(&b);
    let wait = format!(
        "i=0; until [ -e {dir}/second ] && [ -e {dir}/third ]; do \
         i=$((i+1)); [ $i -ge 400 ] && exit 1; sleep 0.05; done"
    );
    let suite = format!(
        "[target.first]\ndocker = \"{}\"\nspecs = [\"first.toml\"]\n\n\
         [target.second]\nlocal = true\nspecs = [\"second.toml\"]\n\n\
         [target.third]\ndocker = \"{}\"\nspecs = [\"third.toml\"]\n",
        a.id, b.id
    );
    let spec = |cmd: &str, name: &str| {
        format!(
            "[command.'{cmd}']\nexit-status = 0\n\n[command.\"echo {name}\"]\nstdout = \"{name}\"\n"
        )
    };
    let specs = Specs::new(&[
        ("ispec.toml", &suite),
        ("first.toml", &spec(&wait, "first")),
        (
            "second.toml",
            &spec(&format!("touch {dir}/second"), "second"),
        ),
        ("third.toml", &spec(&format!("touch {dir}/third"), "third")),
    ]);
    let (tap, json) = (specs.path("report.tap"), specs.path("report.json"));
    let out = ispec()
        .current_dir(specs.dir())
        .args(["run", "--report"])
        .arg(format!("tap:{}", tap.display()))
        .arg("--report")
        .arg(format!("json:{}", json.display()))
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{human} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = human.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("PASS 6 checks: 6 passed, 0 failed, 0 errored, 0 skipped in "),
        "{human}"
    );
    assert_eq!(
        human.replace(summary, "SUMMARY"),
        format!(
            "Target {}\n  ✓ command {wait}\n  ✓ command echo first\n\
             Target local\n  ✓ command touch {dir}/second\n  ✓ command echo second\n\
             Target {}\n  ✓ command touch {dir}/third\n  ✓ command echo third\n\nSUMMARY\n",
            a.target(),
            b.target()
        )
    );

    let tap = std::fs::read_to_string(tap).unwrap();
    let lines: Vec<&str> = tap.lines().collect();
    assert_eq!(
        lines,
        [
            "TAP version 13",
            "1..6",
            &format!("ok 1 - command {wait} › exit-status"),
            "ok 2 - command echo first › stdout",
            &format!("ok 3 - command touch {dir}/second › exit-status"),
            "ok 4 - command echo second › stdout",
            &format!("ok 5 - command touch {dir}/third › exit-status"),
            "ok 6 - command echo third › stdout",
            "# 6 passed, 0 failed, 0 errored, 0 skipped",
        ]
    );

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let targets: Vec<String> = results(&doc).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        targets,
        [
            a.target(),
            a.target(),
            "local".into(),
            "local".into(),
            b.target(),
            b.target()
        ]
    );
    assert_eq!(doc["summary"]["passed"], 6);
}
