//! Spec errors, one class per test: the whole stderr (temp paths replaced by `SPECS`),
//! exit code 2, and nothing run.

use crate::util::{Specs, ispec};

/// Runs `ispec run ARG` where `ARG` is `target` inside a folder holding `files` (the
/// folder itself when `target` is empty), and
/// returns stderr with the folder's path replaced by `SPECS`, after checking that the
/// exit code is 2 and that nothing reached standard output.
fn run_err(files: &[(&str, &str)], target: &str) -> String {
    let specs = Specs::new(files);
    let arg = if target.is_empty() {
        specs.dir().to_path_buf()
    } else {
        specs.path(target)
    };
    let out = ispec().arg("run").arg(arg).output().expect("ispec runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "a bad spec runs nothing"
    );
    stderr.replace(specs.dir().to_str().expect("UTF-8 temp path"), "SPECS")
}

/// The help line listing every kind; it grows as kinds are added.
fn kinds_help() -> String {
    let kinds: Vec<String> = ispec::resource::KINDS
        .iter()
        .map(|k| format!("`{}`", k.key))
        .collect();
    format!("  = help: kinds: {}\n", kinds.join(", "))
}

/// One spec file, `spec.toml`.
fn spec_err(text: &str) -> String {
    run_err(&[("spec.toml", text)], "spec.toml")
}

#[test]
fn toml_syntax() {
    assert_eq!(
        spec_err("[command.\"true\"]\nexit-status = = 0\n"),
        r#"error: invalid TOML: extra `=`, expected nothing
 --> SPECS/spec.toml:2:15
  |
2 | exit-status = = 0
  |               ^ the TOML parser stopped here
  = help: a spec is TOML: a header such as `[command."ID"]`, then one `property = value` per line, strings in double quotes
"#
    );
}

#[test]
fn unknown_kind_with_suggestion() {
    assert_eq!(
        spec_err("[comand.\"true\"]\nexit-status = 0\n"),
        "error: unknown resource kind `comand`
 --> SPECS/spec.toml:1:2
  |
1 | [comand.\"true\"]
  |  ^^^^^^ did you mean `command`?
"
        .to_string()
            + &kinds_help()
    );
}

#[test]
fn unknown_property_with_suggestion() {
    assert_eq!(
        spec_err("[command.\"true\"]\nexit-stats = 0\n"),
        "error: unknown property `exit-stats` for `command`
 --> SPECS/spec.toml:2:1
  |
2 | exit-stats = 0
  | ^^^^^^^^^^ did you mean `exit-status`?
"
    );
}

#[test]
fn unknown_property_lists_the_valid_ones() {
    assert_eq!(
        spec_err("[command.\"true\"]\nqqqq = 0\n"),
        "error: unknown property `qqqq` for `command`
 --> SPECS/spec.toml:2:1
  |
2 | qqqq = 0
  | ^^^^ expected one of `exit-status`, `stdout`, `stderr`, `exec`, `title`, `skip`, `when`, `timeout`, `within`
"
    );
}

#[test]
fn wrong_type() {
    assert_eq!(
        spec_err("[command.\"true\"]\nexit-status = \"0\"\n"),
        "error: `exit-status` must be an integer, found string
 --> SPECS/spec.toml:2:15
  |
2 | exit-status = \"0\"
  |               ^^^ expected an integer
  = help: write it without quotes: `exit-status = 0`
"
    );
    assert_eq!(
        spec_err("[command.\"true\"]\nexit-status = 0\nskip = \"yes\"\n"),
        "error: `skip` must be a boolean, found string
 --> SPECS/spec.toml:3:8
  |
3 | skip = \"yes\"
  |        ^^^^^ expected a boolean
  = help: write e.g. `skip = true`
"
    );
}

#[test]
fn bad_regex() {
    assert_eq!(
        spec_err("[command.\"nginx -v\"]\nstderr = { matches = \"nginx/(1\" }\n"),
        r#"error: invalid regex for `stderr`
 --> SPECS/spec.toml:2:22
  |
2 | stderr = { matches = "nginx/(1" }
  |                      ^^^^^^^^^^ unclosed group
  = help: escape a literal `(`, `[`, `{`, `.`, `*`, `+` or `?` with `\`; in a TOML literal string no other escaping is needed: '^v\d+\.'
"#
    );
}

#[test]
fn bad_version_constraint() {
    assert_eq!(
        spec_err("[command.\"nginx -v\"]\nstderr = { version = \"=> 1.22\" }\n"),
        r#"error: invalid version constraint for `stderr`
 --> SPECS/spec.toml:2:22
  |
2 | stderr = { version = "=> 1.22" }
  |                      ^^^^^^^^^ `> 1.22` is not a version (unexpected `>`); write e.g. `>= 1.22, < 2`
  = help: a constraint is `OPERATOR VERSION` clauses joined by commas; operators: `=`, `!=`, `<`, `<=`, `>`, `>=`
"#
    );
}

#[test]
fn duplicate_id_across_files() {
    let stderr = run_err(
        &[
            ("a.toml", "[command.\"true\"]\nexit-status = 0\n"),
            (
                "b.toml",
                "# the same resource again\n[command.\"true\"]\nstdout = \"\"\n",
            ),
        ],
        "",
    );
    assert_eq!(
        stderr,
        "error: `command true` is declared twice
 --> SPECS/b.toml:2:10
  |
2 | [command.\"true\"]
  |          ^^^^^^ declared again here
  = help: first declared at SPECS/a.toml:1:10; merge the two
"
    );
}

#[test]
fn matcher_with_two_keys() {
    assert_eq!(
        spec_err("[command.\"true\"]\nstdout = { matches = \"a\", contains = \"b\" }\n"),
        r#"error: a matcher for `stdout` must have exactly one key
 --> SPECS/spec.toml:2:10
  |
2 | stdout = { matches = "a", contains = "b" }
  |          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ found 2 keys
  = help: to require several matchers at once write `stdout = { all = [{ ... }, { ... }] }`, one matcher in each table
"#
    );
}

#[test]
fn unknown_matcher() {
    assert_eq!(
        spec_err("[command.\"true\"]\nstdout = { matchez = \"a\" }\n"),
        r#"error: unknown matcher `matchez`
 --> SPECS/spec.toml:2:12
  |
2 | stdout = { matchez = "a" }
  |            ^^^^^^^ did you mean `matches`?
  = help: matchers: `matches`, `contains`, `not`, `lt`, `le`, `gt`, `ge`, `one-of`, `version`, `all`, `any`
"#
    );
}

#[test]
fn matcher_not_for_the_type() {
    assert_eq!(
        spec_err("[command.\"true\"]\nexit-status = { matches = \"0\" }\n"),
        r#"error: `matches` cannot apply to `exit-status`, which is an integer
 --> SPECS/spec.toml:2:17
  |
2 | exit-status = { matches = "0" }
  |                 ^^^^^^^ not for this type
  = help: for `exit-status` use: `not`, `lt`, `le`, `gt`, `ge`, `one-of`, `all`, `any`
"#
    );
}

#[test]
fn bad_durations() {
    assert_eq!(
        spec_err("[command.\"true\"]\nexit-status = 0\nwithin = \"5 parsecs\"\ntimeout = \"0s\"\n"),
        r#"error: invalid duration for `within`
 --> SPECS/spec.toml:3:10
  |
3 | within = "5 parsecs"
  |          ^^^^^^^^^^^ not a duration
  = help: write a number and a unit: `within = "20s"`, "500ms" or "1m 30s"

error: `timeout` must be longer than 0s
 --> SPECS/spec.toml:4:11
  |
4 | timeout = "0s"
  |           ^^^^ zero
  = help: write e.g. `timeout = "10s"`, or leave it out for the default

error: 2 problems in the specs; nothing was run
"#
    );
}

#[test]
fn invalid_id() {
    assert_eq!(
        spec_err("[file.\"etc/passwd\"]\nexists = true\n"),
        "error: invalid `file` id `etc/passwd`
 --> SPECS/spec.toml:1:7
  |
1 | [file.\"etc/passwd\"]
  |       ^^^^^^^^^^^^ `etc/passwd` is not an absolute path; write it from `/`
"
    );
}

#[test]
fn resource_with_no_properties() {
    assert_eq!(
        spec_err("[command.\"true\"]\ntitle = \"nothing checked\"\n"),
        "error: `command true` checks nothing
 --> SPECS/spec.toml:1:10
  |
1 | [command.\"true\"]
  |          ^^^^^^ no property to check
  = help: add a property to check, e.g. `exit-status = ...`; `command` checks `exit-status`, `stdout`, `stderr`
"
    );
}

#[test]
fn header_without_id() {
    assert_eq!(
        spec_err("[command]\nexit-status = 0\n"),
        "error: `exit-status` is not a `command` resource: the header has no id
 --> SPECS/spec.toml:2:1
  |
2 | exit-status = 0
  | ^^^^^^^^^^^ this sits directly under `[command]`
  = help: name the resource in the header: `[command.\"ID\"]`, then its properties
"
    );
}

#[test]
fn missing_spec_path() {
    assert_eq!(
        run_err(&[], "nope.toml"),
        "error: spec `SPECS/nope.toml` does not exist
  = help: give a spec file or a folder of `*.toml` specs
"
    );
}

#[test]
fn folder_without_specs() {
    assert_eq!(
        run_err(&[("notes.txt", "not a spec"), (".hidden.toml", "")], ""),
        "error: no `*.toml` spec in folder `SPECS`
  = help: spec files end in `.toml`; give a folder that holds some, or a spec file
"
    );
}

#[test]
fn several_errors_reported_at_once() {
    let stderr = run_err(
        &[
            ("a.toml", "[comand.\"true\"]\nexit-status = 0\n"),
            (
                "b.toml",
                "[command.\"x\"]\nexit-stats = 0\nstdout = { matches = \"(\" }\n",
            ),
        ],
        "",
    );
    let kind_error = r#"error: unknown resource kind `comand`
 --> SPECS/a.toml:1:2
  |
1 | [comand."true"]
  |  ^^^^^^ did you mean `command`?
"#;
    assert_eq!(
        stderr,
        kind_error.to_string()
            + &kinds_help()
            + r#"
error: unknown property `exit-stats` for `command`
 --> SPECS/b.toml:2:1
  |
2 | exit-stats = 0
  | ^^^^^^^^^^ did you mean `exit-status`?

error: invalid regex for `stdout`
 --> SPECS/b.toml:3:22
  |
3 | stdout = { matches = "(" }
  |                      ^^^ unclosed group
  = help: escape a literal `(`, `[`, `{`, `.`, `*`, `+` or `?` with `\`; in a TOML literal string no other escaping is needed: '^v\d+\.'

error: 3 problems in the specs; nothing was run
"#
    );
}

#[test]
fn missing_spec_of_a_suite_points_at_the_suite() {
    let specs = Specs::new(&[(
        "ispec.toml",
        "[target.web]\nlocal = true\nspecs = [\"s3/a.toml\"]\n",
    )]);
    let out = ispec()
        .current_dir(specs.dir())
        .arg("validate")
        .output()
        .expect("ispec runs");
    assert_eq!(out.status.code(), Some(2));
    let dir = specs.dir().to_str().expect("UTF-8 temp path");
    let stderr = String::from_utf8_lossy(&out.stderr).replace(dir, "SPECS");
    assert_eq!(
        stderr,
        r#"error: `s3/a.toml` is not there (looked for `SPECS/s3/a.toml`)
 --> ispec.toml:3:10
  |
3 | specs = ["s3/a.toml"]
  |          ^^^^^^^^^^^ no such spec file or folder
  = help: spec paths are relative to the suite file's folder; name a spec file or a folder of `*.toml` specs
"#
    );
}

#[test]
fn a_time_limit_over_a_year() {
    assert_eq!(
        spec_err("[command.\"false\"]\nexit-status = 0\nwithin = \"500000000000y\"\n"),
        r#"error: `within` is longer than a year
 --> SPECS/spec.toml:3:10
  |
3 | within = "500000000000y"
  |          ^^^^^^^^^^^^^^^ too long
  = help: a wait that long never ends a run; give `within` a limit under a year, such as "10m"
"#
    );
    let out = ispec()
        .args(["run", "--within", "2years", "--timeout", "1s"])
        .output()
        .expect("ispec runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`2years` is longer than a year; give a limit under a year"),
        "{stderr}"
    );
}
