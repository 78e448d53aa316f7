//! Helpers for end-to-end tests: run the built `ispec`, write specs to a temp folder.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// The `ispec` binary under test, with colors and progress off.
pub(crate) fn ispec() -> Command {
    let mut cmd = Command::cargo_bin("ispec").expect("ispec binary is built");
    cmd.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    cmd
}

/// A temporary folder of spec files.
pub(crate) struct Specs {
    dir: tempfile::TempDir,
}

impl Specs {
    /// Writes each `(name, text)` into a new temporary folder.
    pub(crate) fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write spec");
        }
        Self { dir }
    }

    /// The folder.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// One file in it.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Runs `ispec ARGS...` and returns its output.
pub(crate) fn run(args: &[&str]) -> Output {
    ispec().args(args).output().expect("ispec runs")
}

/// Runs one spec text on the local machine with `--format json` and returns
/// the exit code and the parsed report.
pub(crate) fn run_json(spec: &str) -> (i32, serde_json::Value) {
    run_json_with_path(spec, None)
}

/// Like [`run_json`], with `PATH` set to `path` when given: a target that lacks a tool.
pub(crate) fn run_json_with_path(spec: &str, path: Option<&Path>) -> (i32, serde_json::Value) {
    let specs = Specs::new(&[("spec.toml", spec)]);
    let mut cmd = ispec();
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    let out = cmd
        .arg("run")
        .arg(specs.path("spec.toml"))
        .args(["--format", "json"])
        .output()
        .expect("ispec runs");
    let (code, doc, _) = json_report(&out);
    (code, doc)
}

/// The exit code, the JSON report on standard output (panicking with both streams if
/// it is not JSON), and standard error.
pub(crate) fn json_report(out: &Output) -> (i32, serde_json::Value, String) {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout={} stderr={stderr}",
            String::from_utf8_lossy(&out.stdout),
        )
    });
    (out.status.code().unwrap_or(-1), doc, stderr)
}

/// Runs `ispec validate` on one spec text; returns the exit code and standard error.
pub(crate) fn validate(spec: &str) -> (i32, String) {
    let specs = Specs::new(&[("spec.toml", spec)]);
    let out = ispec()
        .arg("validate")
        .arg(specs.path("spec.toml"))
        .output()
        .expect("ispec runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The outcome (`pass`, `fail`, `error`, `skip`) of `kind id › property` in a JSON report.
pub(crate) fn outcome(doc: &serde_json::Value, kind: &str, id: &str, property: &str) -> String {
    result(doc, kind, id, property)["outcome"]
        .as_str()
        .expect("outcome is a string")
        .to_string()
}

/// The whole JSON result of `kind id › property`.
pub(crate) fn result<'a>(
    doc: &'a serde_json::Value,
    kind: &str,
    id: &str,
    property: &str,
) -> &'a serde_json::Value {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["kind"] == kind && r["id"] == id && r["property"] == property)
        .unwrap_or_else(|| panic!("no result for {kind} {id} › {property} in {doc:#}"))
}
