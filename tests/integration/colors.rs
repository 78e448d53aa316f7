//! Colors in the human format: `--color always|never|auto`, `NO_COLOR`, terminals and pipes.

use std::process::{Command, Output};

use crate::report_tap::require;
use crate::util::{Specs, ispec};

/// A spec with a pass and a failure, so both green and red are due.
const SPEC: &str = "[command.\"true\"]\nexit-status = 0\n[command.\"false\"]\nexit-status = 0\n";

/// Returns true if and only if `text` holds an SGR (color or weight) escape.
fn colored(text: &[u8]) -> bool {
    let text = String::from_utf8_lossy(text);
    text.split("\u{1b}[").skip(1).any(|rest| {
        rest.find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .is_some_and(|end| rest[end..].starts_with('m'))
    })
}

/// Runs `ispec run SPEC ARGS` with stdout a pipe; `no_color` sets or removes `NO_COLOR`.
fn run_piped(specs: &Specs, args: &[&str], no_color: bool) -> Output {
    let mut cmd = ispec();
    if !no_color {
        cmd.env_remove("NO_COLOR");
    }
    cmd.arg("run")
        .arg(specs.path("spec.toml"))
        .args(args)
        .output()
        .expect("ispec runs")
}

#[test]
fn flag_and_pipe() {
    let specs = Specs::new(&[("spec.toml", SPEC)]);
    let always = run_piped(&specs, &["--color", "always"], true);
    assert!(
        colored(&always.stdout),
        "`always` wins over NO_COLOR and a pipe"
    );
    let text = String::from_utf8_lossy(&always.stdout);
    assert!(text.contains("\u{1b}[32m✓\u{1b}[0m command true"), "{text}");
    assert!(
        text.contains("\u{1b}[31m✗\u{1b}[0m command false"),
        "{text}"
    );
    assert!(!colored(
        &run_piped(&specs, &["--color", "never"], false).stdout
    ));
    // Default (`auto`): no terminal, no color, with or without NO_COLOR.
    let auto = run_piped(&specs, &[], false);
    assert!(!colored(&auto.stdout));
    assert!(String::from_utf8_lossy(&auto.stdout).starts_with(
        "Target local\n  ✓ command true\n  ✗ command false\n      exit-status: expected 0, got 1"
    ));
    assert!(!colored(&run_piped(&specs, &[], true).stdout));
    // Machine formats and report files never carry escapes.
    let out_dir = tempfile::tempdir().expect("temp dir");
    let file = out_dir.path().join("human.txt");
    let tap = run_piped(
        &specs,
        &[
            "--color",
            "always",
            "--format",
            "tap",
            "--report",
            &format!("human:{}", file.display()),
        ],
        false,
    );
    assert!(!colored(&tap.stdout));
    assert!(!colored(&std::fs::read(&file).expect("report")));
}

#[test]
fn single_check_reads_as_one() {
    let specs = Specs::new(&[("spec.toml", "[command.\"true\"]\nexit-status = 0\n")]);
    let out = run_piped(&specs, &[], true);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(
            "Target local\n  ✓ command true\n\nPASS 1 check: 1 passed, 0 failed, 0 errored, 0 skipped in "
        ),
        "{text}"
    );
}

/// Runs `ispec run SPEC` with stdout on a pseudo-terminal (through `script`), and
/// returns what the terminal showed.
fn run_on_terminal(specs: &Specs, no_color: bool) -> Option<Vec<u8>> {
    let has_script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !require(has_script, "`script` (util-linux)") {
        return None;
    }
    let bin = assert_cmd::cargo::cargo_bin("ispec");
    let spec = specs.path("spec.toml");
    let (bin, spec) = (bin.to_str().unwrap(), spec.to_str().unwrap());
    // `script` takes a shell command; these are our own build and temp paths.
    assert!(!bin.contains('\'') && !spec.contains('\''));
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &format!("'{bin}' run '{spec}'"), "/dev/null"])
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .env("TERM", "xterm");
    if no_color {
        cmd.env("NO_COLOR", "1");
    } else {
        cmd.env_remove("NO_COLOR");
    }
    Some(cmd.output().expect("script runs").stdout)
}

#[test]
fn terminal_colors_unless_no_color() {
    let specs = Specs::new(&[("spec.toml", SPEC)]);
    let Some(plain_terminal) = run_on_terminal(&specs, false) else {
        return;
    };
    assert!(
        colored(&plain_terminal),
        "{}",
        String::from_utf8_lossy(&plain_terminal)
    );
    let no_color = run_on_terminal(&specs, true).expect("script is there");
    let text = String::from_utf8_lossy(&no_color);
    assert!(text.contains("command false"), "{text}");
    assert!(!colored(&no_color), "{text}");
}
