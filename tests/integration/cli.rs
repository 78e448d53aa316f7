//! The command line: subcommands, folders of specs, exit codes.

use crate::util::{Specs, run};

#[test]
fn validate_and_list_a_folder() {
    let specs = Specs::new(&[
        ("a.toml", "[file.\"/etc/passwd\"]\nexists = true\n"),
        (
            "b.toml",
            "[command.\"true\"]\nexit-status = 0\nstdout = \"\"\n",
        ),
        ("notes.txt", "not a spec"),
    ]);
    let dir = specs.dir().to_str().unwrap();
    let out = run(&["validate", dir]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok: 2 resources, 3 checks in 2 spec files\n"
    );
    let out = run(&["list", dir]);
    assert_eq!(out.status.code(), Some(0));
    let a = specs.path("a.toml");
    let b = specs.path("b.toml");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "file /etc/passwd › exists = true  ({}:2)\n\
             command true › exit-status = 0  ({}:2)\n\
             command true › stdout = \"\"  ({}:3)\n",
            a.display(),
            b.display(),
            b.display()
        )
    );
}

#[test]
fn exit_codes() {
    let specs = Specs::new(&[
        ("pass.toml", "[command.\"true\"]\nexit-status = 0\n"),
        ("fail.toml", "[command.\"false\"]\nexit-status = 0\n"),
        ("bad.toml", "[command.\"true\"]\nexit-stat = 0\n"),
    ]);
    let p = |n: &str| specs.path(n).to_str().unwrap().to_string();
    assert_eq!(run(&["run", &p("pass.toml")]).status.code(), Some(0));
    assert_eq!(run(&["run", &p("fail.toml")]).status.code(), Some(1));
    assert_eq!(run(&["run", &p("bad.toml")]).status.code(), Some(2));
    assert_eq!(
        run(&["run", &p("pass.toml"), "--bogus"]).status.code(),
        Some(2)
    );
    assert_eq!(
        run(&["run", "/nonexistent/spec.toml"]).status.code(),
        Some(2)
    );
    let out = run(&["run", &p("pass.toml"), "--target", "gopher://x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown target `gopher://x`"));
}

#[test]
fn suite_runs_each_target_with_its_specs() {
    let specs = Specs::new(&[
        (
            "ispec.toml",
            "[target.base]\nlocal = true\nspecs = [\"base.toml\"]\n\n\
             [target.more]\nlocal = true\nspecs = [\"base.toml\", \"more.toml\"]\n",
        ),
        ("base.toml", "[command.\"true\"]\nexit-status = 0\n"),
        ("more.toml", "[command.\"false\"]\nexit-status = 1\n"),
    ]);
    let out = crate::util::ispec()
        .current_dir(specs.dir())
        .args(["run", "--format", "tap"])
        .output()
        .unwrap();
    let tap = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{tap}");
    assert!(tap.starts_with("TAP version 13\n1..3\n"), "{tap}");
    assert_eq!(tap.matches("\nok ").count(), 3, "{tap}");

    // `validate` and `list` read the same suite.
    let out = crate::util::ispec()
        .current_dir(specs.dir())
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok: 3 resources, 3 checks in 2 spec files for 2 targets\n"
    );
    let out = crate::util::ispec()
        .current_dir(specs.dir())
        .arg("list")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    // Each target under its suite name, with how it is reached.
    assert!(listing.starts_with("# target base (local)\n"), "{listing}");
    assert!(listing.contains("\n# target more (local)\n"), "{listing}");
    assert_eq!(listing.lines().count(), 5, "{listing}");

    // `--suite` names another file; its mistakes are spec errors (exit 2).
    let bad = specs.path("bad.toml");
    std::fs::write(&bad, "[target.x]\nlocal = true\nspec = [\"base.toml\"]\n").unwrap();
    let out = run(&["run", "--suite", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: unknown key `spec` in target `x`\n"),
        "{err}"
    );
    assert!(err.contains("did you mean `specs`?"), "{err}");

    // A target that cannot be reached is exit 3 before anything runs.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = specs.path("unreachable.toml");
    std::fs::write(
        &unreachable,
        format!("[target.web]\nssh = \"deploy@127.0.0.1:{port}\"\nspecs = [\"base.toml\"]\n"),
    )
    .unwrap();
    let out = run(&["run", "--suite", unreachable.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "error: cannot reach `deploy@127.0.0.1:{port}`: cannot connect: Connection refused"
        )),
        "{err}"
    );
}

#[test]
fn run_without_spec_or_suite_says_what_to_do() {
    let empty = tempfile::tempdir().unwrap();
    let out = crate::util::ispec()
        .current_dir(empty.path())
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: no SPEC given and no suite `ispec.toml` here\n")
    );
}

#[test]
fn add_prints_a_spec_that_passes() {
    let out = run(&["add", "user", "root"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.starts_with("[user.\"root\"]\nexists = true\nuid = 0\n"),
        "{text}"
    );
    let specs = Specs::new(&[("added.toml", &text)]);
    let out = run(&["run", specs.path("added.toml").to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = run(&["add", "usr", "root"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: unknown resource kind `usr`; did you mean `user`?\n"
    );
    let out = run(&["add", "port", "80"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn quiet_shows_only_news() {
    let specs = Specs::new(&[(
        "q.toml",
        "[command.\"true\"]\nexit-status = 0\n\n[command.\"false\"]\nexit-status = 0\n",
    )]);
    let path = specs.path("q.toml");
    let out = run(&["run", path.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("command true"), "{text}");
    assert!(text.contains("✗ command false"), "{text}");
    assert!(text.contains("2 checks: 1 passed, 1 failed"), "{text}");
}
