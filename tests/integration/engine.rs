//! The run itself: plan order whatever `--jobs`, retries with `within`, and time limits
//! that keep a stuck check from holding the run.

use std::fmt::Write as _;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::util::{Specs, ispec, result, run};

/// Runs `ispec run SPEC ARGS` and returns the exit code, stdout and the wall time.
fn timed_run(specs: &Specs, args: &[&str]) -> (i32, String, Duration) {
    let started = Instant::now();
    let out = ispec()
        .arg("run")
        .arg(specs.path("spec.toml"))
        .args(args)
        .output()
        .expect("ispec runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("UTF-8"),
        started.elapsed(),
    )
}

#[test]
fn plan_order_whatever_jobs() {
    // Early resources sleep longest, so with 8 at once later ones finish first.
    let mut spec = String::new();
    for i in 0..20_u32 {
        let millis = (20 - i) * 10 + (i * 7) % 5 * 10;
        let status = u32::from(i % 6 == 0);
        writeln!(
            spec,
            "[command.\"sleep {}.{millis:03}; echo {i}; exit {status}\"]\nstdout = \"{i}\"\nexit-status = 0\n",
            millis / 1000
        )
        .unwrap();
    }
    let specs = Specs::new(&[("spec.toml", &spec)]);
    let without_timing = |tap: &str| {
        tap.lines()
            .filter(|l| !l.trim_start().starts_with("duration_s:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (code, serial, _) = timed_run(&specs, &["--format", "tap", "--jobs", "1"]);
    assert_eq!(code, 1, "{serial}");
    let (code, parallel, _) = timed_run(&specs, &["--format", "tap", "--jobs", "8"]);
    assert_eq!(code, 1, "{parallel}");
    assert!(serial.contains("duration_s:"), "failures carry timing");
    assert_eq!(without_timing(&serial), without_timing(&parallel));
    // And the order is the spec's: check 2k+1 is resource k's `stdout`.
    for i in 0..20 {
        let line = format!("ok {} - command sleep ", 2 * i + 1);
        let at = serial
            .find(&line)
            .unwrap_or_else(|| panic!("{line}: {serial}"));
        assert!(serial[at..].contains(&format!("echo {i}; exit")));
    }
}

#[test]
fn zero_jobs_is_a_usage_error() {
    let specs = Specs::new(&[("spec.toml", "[command.\"true\"]\nexit-status = 0\n")]);
    let out = run(&[
        "run",
        specs.path("spec.toml").to_str().unwrap(),
        "--jobs",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: invalid value '0' for '--jobs <N>': 0 is not in 1..=65535\n")
    );
}

/// A process the test started, killed by its pid when the test ends either way.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

#[test]
fn within_waits_for_behavior() {
    let dir = tempfile::tempdir().expect("temp dir");
    let flag = dir.path().join("ready");
    let flag = flag.to_str().expect("UTF-8 path");
    let check = format!("test -e '{flag}'");
    let without = Specs::new(&[(
        "spec.toml",
        &format!("[command.\"{check}\"]\nexit-status = 0\n"),
    )]);
    let (code, out, _) = timed_run(&without, &["--format", "json"]);
    assert_eq!(code, 1, "without `within` one look decides: {out}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        result(&doc, "command", &check, "exit-status")["attempts"],
        1
    );

    // The file appears a second after the test starts, as a service comes up late.
    let _toucher = Background(
        Command::new("sh")
            .args(["-c", "sleep 1; touch \"$1\"", "sh", flag])
            .spawn()
            .expect("sh starts"),
    );
    let with = Specs::new(&[(
        "spec.toml",
        &format!("[command.\"{check}\"]\nexit-status = 0\nwithin = \"5s\"\n"),
    )]);
    let (code, out, _) = timed_run(&with, &["--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let r = result(&doc, "command", &check, "exit-status");
    assert_eq!(r["outcome"], "pass");
    assert!(r["attempts"].as_u64().expect("attempts") > 1, "{r}");
}

/// A file of its own for a test's command to write, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(case: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        Self(std::env::temp_dir().join(format!("ispec-{case}-{}-{nanos}", std::process::id())))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn within_gives_up_with_the_last_value() {
    // The command counts its runs, so the value shown tells which attempt it is from.
    let count = Scratch::new("count");
    let command = format!(
        "sh -c 'n=$(cat {0} 2>/dev/null || echo 0); n=$((n + 1)); echo $n > {0}; echo $n'",
        count.0.display()
    );
    let specs = Specs::new(&[(
        "spec.toml",
        &format!("[command.\"{command}\"]\nstdout = \"never\"\nwithin = \"1s\"\n"),
    )]);
    let (code, out, took) = timed_run(&specs, &["--format", "json"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(10),
        "gave up after {took:?}"
    );
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let r = result(&doc, "command", &command, "stdout");
    assert_eq!(r["outcome"], "fail");
    let attempts = r["attempts"].as_u64().expect("attempts");
    assert!(attempts >= 2, "{r}");
    assert_eq!(
        r["actual"],
        format!("\"{attempts}\""),
        "the last attempt's value"
    );
}

#[test]
fn a_retry_gets_no_more_time_than_within_has_left() {
    // Quick the first time, then as slow as a service that hangs.
    let marker = Scratch::new("marker");
    let command = format!(
        "sh -c 'if [ -e {0} ]; then sleep 5; fi; touch {0}; exit 1'",
        marker.0.display()
    );
    let specs = Specs::new(&[(
        "spec.toml",
        &format!("[command.\"{command}\"]\nexit-status = 0\nwithin = \"1s\"\n"),
    )]);
    let (code, out, _) = timed_run(&specs, &["--format", "json"]);
    assert_eq!(code, 1, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let r = result(&doc, "command", &command, "exit-status");
    // The second attempt was cut at the second `within` had left (at least 1 s), not
    // given the whole 30 s `timeout` that would have let it run 5 s.
    assert_eq!(r["attempts"], 2, "{r}");
    assert_eq!(r["outcome"], "error", "{r}");
    assert_eq!(r["message"], "timed out after 1s", "{r}");
}

#[test]
fn a_stuck_command_cannot_hold_the_run() {
    let specs = Specs::new(&[(
        "spec.toml",
        "[command.\"sleep 60\"]\ntimeout = \"1s\"\nexit-status = 0\n\n\
         [command.\"true\"]\nexit-status = 0\n",
    )]);
    let (code, out, took) = timed_run(&specs, &["--format", "json"]);
    // A hang guard, not a benchmark.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(code, 1, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let stuck = result(&doc, "command", "sleep 60", "exit-status");
    assert_eq!(stuck["outcome"], "error");
    assert_eq!(stuck["message"], "timed out after 1s");
    assert_eq!(
        result(&doc, "command", "true", "exit-status")["outcome"],
        "pass"
    );
}
