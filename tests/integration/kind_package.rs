//! `package` end to end on this Debian machine: installed packages and their versions,
//! absent packages and the `installed` gate, one `dpkg-query` per run, a missing tool.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::util::{Specs, ispec, outcome, result, run, run_json, run_json_with_path};

/// The version dpkg itself reports for `name`.
fn dpkg_version(name: &str) -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", name])
        .output()
        .expect("dpkg-query runs");
    assert!(
        out.status.success(),
        "{name} is installed on the test machine"
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn installed_packages_and_versions() {
    let dpkg = dpkg_version("dpkg");
    let bash = dpkg_version("bash");
    let spec = format!(
        r#"
[package.dpkg]
installed = true
version = "{dpkg}"
versions = ["{dpkg}"]

[package.coreutils]
version = {{ version = ">= 9" }}

[package.bash]
version = {{ version = "< 1.0" }}

[package."libc6:amd64"]
installed = {amd64}
"#,
        amd64 = std::env::consts::ARCH == "x86_64"
    );
    let (code, doc) = run_json(&spec);
    assert_eq!(code, 1);
    for prop in ["installed", "version", "versions"] {
        assert_eq!(outcome(&doc, "package", "dpkg", prop), "pass", "{prop}");
    }
    assert_eq!(
        result(&doc, "package", "dpkg", "version")["actual"],
        format!("{dpkg:?}")
    );
    assert_eq!(outcome(&doc, "package", "coreutils", "version"), "pass");
    let old = result(&doc, "package", "bash", "version");
    assert_eq!(old["outcome"], "fail");
    assert_eq!(old["expected"], "version < 1.0");
    assert_eq!(old["actual"], format!("{bash:?}"));
    assert_eq!(outcome(&doc, "package", "libc6:amd64", "installed"), "pass");
}

#[test]
fn absent_packages_and_the_gate() {
    let spec = r#"
[package.ispec-no-such-package]
installed = false

[package.ispec-also-missing]
installed = true
version = { version = ">= 1" }

[package.ispec-third-missing]
version = "1.0"
"#;
    let (code, doc) = run_json(spec);
    assert_eq!(code, 1);
    assert_eq!(
        outcome(&doc, "package", "ispec-no-such-package", "installed"),
        "pass"
    );
    let gate = result(&doc, "package", "ispec-also-missing", "installed");
    assert_eq!(gate["outcome"], "fail");
    assert_eq!(gate["actual"], "false");
    assert_eq!(
        outcome(&doc, "package", "ispec-also-missing", "version"),
        "skip"
    );
    // Without the gate, the version of an absent package is an error that says why.
    let ungated = result(&doc, "package", "ispec-third-missing", "version");
    assert_eq!(ungated["outcome"], "error");
    assert_eq!(
        ungated["message"],
        "package `ispec-third-missing` is not installed"
    );
}

/// A `dpkg-query` on `PATH` that logs each call, then runs the real one.
fn logging_dpkg_query(dir: &std::path::Path) -> std::path::PathBuf {
    let log = dir.join("calls.log");
    let shim = dir.join("dpkg-query");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\necho \"call $1 $2\" >> '{}'\nexec /usr/bin/dpkg-query \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    log
}

#[test]
fn one_database_query_per_run_and_ids_are_data() {
    let bin = tempfile::tempdir().unwrap();
    let log = logging_dpkg_query(bin.path());
    let work = tempfile::tempdir().unwrap();
    let specs = Specs::new(&[(
        "spec.toml",
        r#"
[package.dpkg]
installed = true

[package.coreutils]
installed = true
version = { version = ">= 9" }

[package.bash]
installed = true

[package."`touch$${IFS}pwned`;$(touch$${IFS}pwned2)'"]
installed = false
"#,
    )]);
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = ispec()
        .current_dir(work.path())
        .env("PATH", path)
        .arg("run")
        .arg(specs.path("spec.toml"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(calls, "call -W -f\n");
    assert!(!work.path().join("pwned").exists());
    assert!(!work.path().join("pwned2").exists());
}

#[test]
fn missing_dpkg_query_is_an_error() {
    let empty = tempfile::tempdir().unwrap();
    let (code, doc) = run_json_with_path("[package.dpkg]\ninstalled = true\n", Some(empty.path()));
    assert_eq!(code, 1);
    let r = result(&doc, "package", "dpkg", "installed");
    assert_eq!(r["outcome"], "error");
    assert_eq!(r["message"], "`dpkg-query` is not installed on the target");
}

#[test]
fn bad_names_are_spec_errors() {
    let specs = Specs::new(&[("spec.toml", "[package.\"nginx 1.22\"]\ninstalled = true\n")]);
    let out = run(&["validate", specs.path("spec.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`nginx 1.22` is not a package name"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
