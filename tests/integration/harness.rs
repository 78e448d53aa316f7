//! The library the way a user's project uses it: `examples/gate_image.rs` is a
//! custom `cargo test` harness (public API only) gating a throwaway container from
//! the Debian fixture; here it runs as its own process, once passing, once failing.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::docker_util::{DEBIAN, assert_none_left, case_label, have_image};
use crate::util::Specs;

/// An example's binary, built by `cargo test --all-targets` next to this test's.
fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().expect("the test binary's path");
    let path = deps
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target/debug")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: build the examples (`cargo test --all-targets`)",
        path.display()
    );
    path
}

fn gate(spec: &std::path::Path, label: &str, args: &[&str]) -> Output {
    Command::new(example("gate_image"))
        .args(args)
        .env("GATE_IMAGE", DEBIAN)
        .env("GATE_SPEC", spec)
        .env("GATE_LABEL", label)
        .output()
        .expect("the example runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_harness_gates_an_image_passing_and_failing() {
    if !have_image(DEBIAN) {
        return;
    }
    let label = case_label("harness");
    let specs = Specs::new(&[
        (
            "good.toml",
            "[port.\"tcp:80\"]\nlistening = true\n\n[file.\"/etc/passwd\"]\nmode = \"0644\"\n\n\
             [command.\"echo skipped\"]\nskip = true\nexit-status = 0\n",
        ),
        (
            "bad.toml",
            "[port.\"tcp:8080\"]\nlistening = true\n\n[file.\"/etc/passwd\"]\nmode = \"0600\"\n",
        ),
    ]);

    // Listing names every check, touching nothing.
    let out = gate(&specs.path("good.toml"), &label, &["--list"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains(&format!("image:{DEBIAN}::port::tcp:80::listening: test")),
        "{listing}"
    );
    assert_eq!(listing.lines().count(), 3, "{listing}");
    assert_none_left(&label);

    let out = gate(&specs.path("good.toml"), &label, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("test result: ok. 2 passed; 0 failed; 1 ignored"),
        "{said}"
    );
    assert_none_left(&label);

    let out = gate(&specs.path("bad.toml"), &label, &[]);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let said = text(&out);
    let bad = specs.path("bad.toml");
    for expected in [
        "listening: expected true, got false".to_string(),
        format!("at {}:2", bad.display()),
        "mode: expected \"0600\", got \"0644\"".to_string(),
        format!("at {}:5", bad.display()),
        "test result: FAILED. 0 passed; 2 failed".to_string(),
    ] {
        assert!(said.contains(&expected), "`{expected}` not in:\n{said}");
    }
    // The container's last output comes once, under its first failing check.
    let header = format!("last output of image:{DEBIAN}:\n    ");
    assert_eq!(said.matches(&header).count(), 1, "{said}");
    assert_none_left(&label);

    // A name filter runs only what it selects.
    let out = gate(&specs.path("bad.toml"), &label, &["passwd"]);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    assert!(
        text(&out).contains("0 passed; 1 failed; 0 ignored; 0 measured; 1 filtered out"),
        "{}",
        text(&out)
    );
    assert_none_left(&label);
}

#[test]
fn the_library_checks_this_machine_without_the_harness() {
    let specs = Specs::new(&[(
        "local.toml",
        "[file.\"/\"]\ntype = \"directory\"\n\n[file.\"/ispec/no/such\"]\nexists = true\n",
    )]);
    let out = Command::new(example("check_local"))
        .arg(specs.path("local.toml"))
        .output()
        .expect("the example runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("file /ispec/no/such: exists expected true, got false"),
        "{said}"
    );
    assert!(
        said.contains("1 passed, 1 failed, 0 errored, 0 skipped"),
        "{said}"
    );
}

#[test]
fn a_harness_mixes_toml_and_rust_specs_on_this_machine() {
    let out = Command::new(example("gate_local"))
        .arg("--list")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the example runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout);
    // From the DSL, and from specs/examples/localhost.toml.
    assert!(
        listing.contains("[user] local::user::root::uid: test"),
        "{listing}"
    );
    assert!(
        listing.contains("[command] local::command::uname -s::stdout: test"),
        "{listing}"
    );
    let from_toml = listing
        .lines()
        .filter(|l| !l.contains("::root::") && !l.contains("uname"))
        .count();
    assert!(from_toml > 5, "{listing}");

    let out = Command::new(example("gate_local"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the example runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("test result: ok."), "{}", text(&out));
    assert!(
        text(&out).contains(" 0 failed; 0 ignored"),
        "{}",
        text(&out)
    );
}

/// `examples/gate_suite.rs`: the example suite through `Harness::suite`.
fn gate_suite(label: &str, args: &[&str], api_down: bool) -> Output {
    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs/interact/ispec.toml");
    let mut cmd = Command::new(example("gate_suite"));
    // The suite's own `TAG`, whatever the environment of the tests holds.
    cmd.env_remove("TAG");
    cmd.args(args)
        .env("GATE_SUITE", suite)
        .env("GATE_LABEL", label);
    if api_down {
        // The suite's `${API_DOWN}`, from the environment.
        cmd.env("API_DOWN", "1");
    } else {
        cmd.env_remove("API_DOWN");
    }
    cmd.output().expect("the example runs")
}

#[test]
fn a_harness_gates_a_suite_of_services() {
    if !have_image(DEBIAN) || !have_image(crate::docker_util::SCRATCH) {
        return;
    }
    let label = case_label("harness-suite");
    let networks = || crate::docker_util::ispec_networks(&label);

    // Listing starts nothing.
    let out = gate_suite(&label, &["--list"], false);
    let listing = text(&out);
    assert!(out.status.success(), "{listing}");
    assert_eq!(
        listing.lines().filter(|l| l.ends_with(": test")).count(),
        17,
        "{listing}"
    );
    assert!(
        listing.contains("client::addr::tcp://api:80::reachable: test"),
        "{listing}"
    );
    assert_none_left(&label);

    // Every check passes; the check `when` rules out in a container passes too (it
    // does not apply there), as the `ispec` command's exit code says.
    let out = gate_suite(&label, &[], false);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("17 passed; 0 failed"), "{all}");
    assert_none_left(&label);
    assert!(networks().is_empty(), "{:?}", networks());

    // The api's service stopped: what needs it fails, saying why; the rest passes.
    let out = gate_suite(&label, &["--skip", "api::"], true);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(101), "{all}");
    assert!(
        all.contains("8 passed; 6 failed; 0 ignored; 0 measured; 3 filtered out"),
        "{all}"
    );
    assert!(
        all.contains("reachable: expected true, got false (")
            && all.contains(":80: connection refused)"),
        "{all}"
    );
    assert!(all.contains("status: expected 200, got 502"), "{all}");
    assert_none_left(&label);
    assert!(networks().is_empty(), "{:?}", networks());
}
