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
