//! Several targets in one run: checked at once (up to `--parallel`), reported grouped
//! by target in the order given, roles in suites, and every unreachable target named.
//!
//! Concurrency is proven without timing: checks on different targets meet at a
//! rendezvous of marker files, which they can only pass if they run at the same time
//! (and which gives up, rather than hangs, if they do not).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::docker_util::{
    DEBIAN, Started, assert_none_left, case_label, have_image, ispec_containers, wait_ready,
};
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
            "Target first\n  ✓ command {wait}\n  ✓ command echo first\n\
             Target second\n  ✓ command touch {dir}/second\n  ✓ command echo second\n\
             Target third\n  ✓ command touch {dir}/third\n  ✓ command echo third\n\nSUMMARY\n"
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
        ["first", "first", "second", "second", "third", "third"]
    );
    assert_eq!(doc["summary"]["passed"], 6);
}

#[test]
fn roles_give_each_host_the_union_of_their_specs() {
    let specs = Specs::new(&[
        (
            "ispec.toml",
            "[role.web]\nhosts = [\"local\"]\nspecs = [\"web.toml\", \"base.toml\"]\n\n\
             [role.db]\nhosts = [\"local\"]\nspecs = [\"db.toml\", \"./base.toml\"]\n",
        ),
        ("base.toml", "[command.\"echo base\"]\nstdout = \"base\"\n"),
        ("web.toml", "[command.\"echo web\"]\nstdout = \"web\"\n"),
        ("db.toml", "[command.\"echo db\"]\nstdout = \"db\"\n"),
    ]);
    let out = ispec()
        .current_dir(specs.dir())
        .args(["run", "--format", "json"])
        .output()
        .unwrap();
    let (code, doc, stderr) = json_report(&out);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    // One target with the specs of both roles, `base.toml` once.
    assert_eq!(
        results(&doc),
        [
            ("local".to_string(), "command echo web".to_string()),
            ("local".to_string(), "command echo base".to_string()),
            ("local".to_string(), "command echo db".to_string()),
        ]
    );

    let out = ispec()
        .current_dir(specs.dir())
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "# target local (roles web, db)\n\
         command echo web › stdout = \"web\"  (web.toml:2)\n\
         command echo base › stdout = \"base\"  (base.toml:2)\n\
         command echo db › stdout = \"db\"  (db.toml:2)\n"
    );
    let out = ispec()
        .current_dir(specs.dir())
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok: 3 resources, 3 checks in 3 spec files for 1 target (2 roles)\n"
    );

    // `--only` keeps the named roles and targets; the host then has only their specs.
    let out = ispec()
        .current_dir(specs.dir())
        .args(["list", "--only", "db"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.starts_with("# target local (role db)\n"),
        "{listing}"
    );
    assert_eq!(listing.lines().count(), 3, "{listing}");
    let out = ispec()
        .current_dir(specs.dir())
        .args(["run", "--only", "dbs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: `--only dbs`: the suite has no target or role `dbs`; did you mean `db`?\n"
    );
}

#[test]
fn role_mistakes_are_spec_errors_with_their_place() {
    let specs = Specs::new(&[
        (
            "ispec.toml",
            "[role.web]\nhosts = [\"docker://web-1\", \"ftp://web-2\"]\nspecs = [\"web.toml\"]\n\n\
             [role.db]\nhost = [\"local\"]\nspecs = [\"web.toml\"]\n",
        ),
        ("web.toml", "[command.\"true\"]\nexit-status = 0\n"),
    ]);
    let out = ispec()
        .current_dir(specs.dir())
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "\
error: invalid host `ftp://web-2` in role `web`
 --> ispec.toml:2:28
  |
2 | hosts = [\"docker://web-1\", \"ftp://web-2\"]
  |                            ^^^^^^^^^^^^^ unknown scheme `ftp`; expected `local`, `docker://CONTAINER` or `ssh://[USER@]HOST[:PORT]`

error: unknown key `host` in role `db`
 --> ispec.toml:6:1
  |
6 | host = [\"local\"]
  | ^^^^ did you mean `hosts`?

error: 2 problems in the specs; nothing was run
"
    );
}

#[test]
fn every_unreachable_target_is_named_and_nothing_runs() {
    let specs = Specs::new(&[("spec.toml", "[command.\"true\"]\nexit-status = 0\n")]);
    let spec = specs.path("spec.toml");
    let out = run(&[
        "run",
        spec.to_str().unwrap(),
        "-t",
        "docker://ispec-no-such-container-1",
        "-t",
        "local",
        "-t",
        "docker://ispec-no-such-container-2",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty(), "nothing ran");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].contains("`docker://ispec-no-such-container-1`"),
        "{err}"
    );
    assert!(
        lines[1].contains("`docker://ispec-no-such-container-2`"),
        "{err}"
    );
}

#[test]
fn throwaway_containers_start_together_and_all_go() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("two-images");
    let specs = Specs::new(&[(
        "spec.toml",
        "[file.\"/etc/ispec-fixture\"]\nexists = true\n",
    )]);
    let spec = specs.path("spec.toml");
    let out = run(&[
        "run",
        spec.to_str().unwrap(),
        "--image",
        DEBIAN,
        "--image",
        DEBIAN,
        "--label",
        &label,
        "--format",
        "json",
    ]);
    let (code, doc, stderr) = json_report(&out);
    assert_eq!(code, 0, "{doc:#} {stderr}");
    assert_eq!(doc["summary"]["passed"], 2);
    assert_none_left(&label);

    // A target that cannot be reached fails the run (exit 3); the containers already
    // started for the others are removed all the same.
    let out = run(&[
        "run",
        spec.to_str().unwrap(),
        "--image",
        DEBIAN,
        "--image",
        "ispec-fixture/no-such-image:none",
        "--label",
        &label,
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`image:ispec-fixture/no-such-image:none`"),
        "{err}"
    );
    assert_none_left(&label);
}

#[test]
fn sigterm_removes_every_container_of_targets_checked_at_once() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("sigterm-two");
    let specs = Specs::new(&[(
        "spec.toml",
        "[command.\"sleep 60\"]\nexit-status = 0\ntimeout = \"2m\"\n",
    )]);
    let child = Command::new(assert_cmd::cargo::cargo_bin("ispec"))
        .args(["run", specs.path("spec.toml").to_str().unwrap()])
        .args(["--image", DEBIAN, "--image", DEBIAN, "--label", &label])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ispec starts");
    // Both checks run at once: each container has its `sleep 60` going.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let names = ispec_containers(&format!("label={label}"));
        let sleeping = names
            .iter()
            .filter(|name| {
                Command::new("docker")
                    .args(["top", name])
                    .output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("sleep 60"))
            })
            .count();
        if sleeping == 2 {
            break;
        }
        if Instant::now() >= deadline {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait_with_output();
            panic!("the two slow checks never ran at once");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let out = child.wait_with_output().expect("ispec exits");
    assert_eq!(out.status.code(), Some(143));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("removed 2 containers this run started"),
        "{err}"
    );
    assert_none_left(&label);
}
