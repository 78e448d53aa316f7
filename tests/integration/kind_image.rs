//! `image` end to end: the fixture images' metadata through a throwaway container
//! (`--image`) and through an existing one (`docker://`), and an error on `local`.

use std::path::Path;

use crate::docker_util::{DEBIAN, SCRATCH, Started, assert_none_left, case_label, have_image};
use crate::util::{Specs, ispec, json_report, outcome, result, run_json, validate};

/// The book's example, which must pass against the Debian fixture.
const EXAMPLE: &str = "specs/examples/image.toml";

/// Checks of both fixtures that hold, one that fails, and a missing image.
const SPEC: &str = r#"
[image.self]
exists = true
workdir = "/srv"
exposed-ports = ["22/tcp", "80/tcp"]
volumes = ["/var/cache/ispec"]
cmd = ["/usr/local/bin/ispec-fixture-init"]
env = { contains = "ISPEC_FIXTURE=debian" }
labels = { contains = "org.opencontainers.image.title=ispec fixture debian" }
healthcheck = { contains = "CMD-SHELL" }
tags = { contains = "ispec-fixture/debian:bookworm" }
os = "linux"
size = { gt = 1000000 }
id = { matches = '^sha256:[0-9a-f]{64}$' }
user = "root"

[image."ispec-fixture/scratch:latest"]
exists = true
user = "65534:65534"
entrypoint = ["/ispec-scratch-server"]
cmd = []
exposed-ports = ["8080/tcp"]
env = { contains = ["ISPEC_FIXTURE=scratch", { matches = '^PATH=' }] }
labels = { not = { contains = { matches = '^maintainer=' } } }
healthcheck = []
workdir = ""

[image."no-such:image"]
exists = false

[image."ispec-no-such/image:gone"]
exists = true
env = { contains = "A=1" }
"#;

/// Runs `ispec run SPEC ARGS... --format json` from the repository's root and
/// returns the exit code and the parsed report.
fn run_json_with(spec: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let out = ispec()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("run")
        .arg(spec)
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("ispec runs");
    let (code, doc, _) = json_report(&out);
    (code, doc)
}

/// Asserts what [`SPEC`] gives against a Debian fixture container.
fn assert_spec_results(doc: &serde_json::Value) {
    for prop in [
        "exists",
        "workdir",
        "exposed-ports",
        "volumes",
        "cmd",
        "env",
        "labels",
        "healthcheck",
        "tags",
        "os",
        "size",
        "id",
    ] {
        assert_eq!(outcome(doc, "image", "self", prop), "pass", "self {prop}");
    }
    let user = result(doc, "image", "self", "user");
    assert_eq!(user["outcome"], "fail", "{user}");
    assert_eq!(user["expected"], "\"root\"");
    assert_eq!(user["actual"], "\"\"");
    for prop in [
        "exists",
        "user",
        "entrypoint",
        "cmd",
        "exposed-ports",
        "env",
        "labels",
        "healthcheck",
        "workdir",
    ] {
        assert_eq!(
            outcome(doc, "image", SCRATCH, prop),
            "pass",
            "scratch {prop}"
        );
    }
    assert_eq!(outcome(doc, "image", "no-such:image", "exists"), "pass");
    let gone = "ispec-no-such/image:gone";
    let exists = result(doc, "image", gone, "exists");
    assert_eq!(exists["outcome"], "fail", "{exists}");
    assert_eq!(exists["actual"], "false");
    assert_eq!(outcome(doc, "image", gone, "env"), "skip");
    assert_eq!(doc["summary"]["failed"], 2, "{doc:#}");
    assert_eq!(doc["summary"]["errored"], 0, "{doc:#}");
}

/// Asserts that every check of the book's example passed.
fn assert_example_passed(doc: &serde_json::Value) {
    let example: Vec<&serde_json::Value> = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["file"] == EXAMPLE)
        .collect();
    assert!(!example.is_empty(), "the example ran: {doc:#}");
    for r in example {
        assert_eq!(r["outcome"], "pass", "{r:#}");
    }
}

#[test]
fn image_through_a_throwaway_container() {
    if !have_image(DEBIAN) || !have_image(SCRATCH) {
        return;
    }
    let specs = Specs::new(&[("spec.toml", SPEC)]);
    let label = case_label("kind-image");
    let args = ["--image", DEBIAN, "--label", &label, "--wait-health=false"];
    let (code, doc) = run_json_with(&specs.path("spec.toml"), &args);
    assert_eq!(code, 1, "{doc:#}");
    assert_spec_results(&doc);
    let (code, doc) = run_json_with(Path::new(EXAMPLE), &args);
    assert_eq!(code, 0, "{doc:#}");
    assert_example_passed(&doc);
    assert_none_left(&label);
}

#[test]
fn image_through_a_docker_target() {
    if !have_image(DEBIAN) || !have_image(SCRATCH) {
        return;
    }
    let started = Started::run(DEBIAN, &[]);
    let args = ["--target", &started.target()];
    let specs = Specs::new(&[("spec.toml", SPEC)]);
    let (code, doc) = run_json_with(&specs.path("spec.toml"), &args);
    assert_eq!(code, 1, "{doc:#}");
    assert_spec_results(&doc);
    let (code, doc) = run_json_with(Path::new(EXAMPLE), &args);
    assert_eq!(code, 0, "{doc:#}");
    assert_example_passed(&doc);
}

#[test]
fn a_failing_check_shows_expected_and_actual() {
    if !have_image(SCRATCH) {
        return;
    }
    let specs = Specs::new(&[(
        "spec.toml",
        "[image.self]\nuser = \"root\"\nexposed-ports = [\"8080/tcp\"]\n",
    )]);
    let label = case_label("kind-image-human");
    let out = ispec()
        .arg("run")
        .arg(specs.path("spec.toml"))
        .args(["--image", SCRATCH, "--label", &label])
        .output()
        .expect("ispec runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("user: expected \"root\", got \"65534:65534\""),
        "{stdout}"
    );
    assert!(stdout.contains("1 passed, 1 failed, 0 errored"), "{stdout}");
    assert_none_left(&label);
}

#[test]
fn image_on_local_is_an_error_not_a_pass() {
    let (code, doc) = run_json(
        r#"
[image.self]
user = ""
env = { not = { contains = "A=1" } }

[image."ispec-fixture/debian:bookworm"]
exists = true
workdir = "/srv"

[image."no-such:image"]
exists = false
"#,
    );
    assert_eq!(code, 1, "{doc:#}");
    let why = "`local` is not a container; image checks need a `docker://` or `--image` target";
    for (id, prop) in [
        ("self", "user"),
        ("self", "env"),
        ("no-such:image", "exists"),
        (DEBIAN, "exists"),
    ] {
        let r = result(&doc, "image", id, prop);
        assert_eq!(r["outcome"], "error", "{id} {prop}: {r:#}");
        assert_eq!(r["message"], why, "{id} {prop}");
    }
    assert_eq!(outcome(&doc, "image", DEBIAN, "workdir"), "skip");
    assert_eq!(doc["summary"]["passed"], 0, "{doc:#}");
    assert_eq!(doc["summary"]["failed"], 0, "{doc:#}");
}

#[test]
fn image_references_are_checked_before_running() {
    let (code, stderr) = validate("[image.\"web candidate\"]\nexists = true\n");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("invalid `image` id `web candidate`")
            && stderr.contains("` ` cannot be in an image reference"),
        "{stderr}"
    );
    let (code, stderr) = validate("[image.self]\nsize = \"big\"\n");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`size` must be an integer"), "{stderr}");
}
