//! The suite file (`ispec.toml`): named targets, roles, and the specs each must pass.
//!
//! ```toml
//! [target.base]
//! local = true
//! specs = ["specs/base.toml"]
//!
//! [role.web]
//! hosts = ["ssh://deploy@web-1", "docker://web-2"]
//! specs = ["specs/web.toml"]
//! ```
//!
//! Spec paths are relative to the suite file's folder. A `[vars]` table gives
//! values to `${NAME}` in the suite's strings and in its specs (below the
//! environment and `--var`).

mod check;
mod role;
mod target;
mod values;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use crate::backend::TargetSpec;

use super::error::{SpecError, SpecErrors, did_you_mean, invalid_toml};
use super::matcher::{Ctx, backticked};
use super::source::Source;
use super::vars::Vars;
use role::Role;

/// The keys a target table may hold.
const KEYS: &[&str] = &["local", "image", "docker", "ssh", "specs", "after"];
/// The keys that shape how an `ssh` target is reached.
const SSH_KEYS: &[&str] = &["sudo", "identity"];
/// The keys that shape a throwaway container (`image` targets only).
const CONTAINER_KEYS: &[&str] = &[
    "env",
    "cmd",
    "entrypoint",
    "user",
    "ports",
    "volumes",
    "tmpfs",
    "privileged",
    "labels",
    "wait",
];
/// The tables a suite may hold.
const TABLES: &[&str] = &["target", "role", "defaults", "vars"];

/// Strings of a list, each with its span.
type Items = Vec<(String, Range<usize>)>;

/// One target of a suite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuiteTarget {
    /// Its name in the suite: the `NAME` of `[target.NAME]`, or a role host's URI.
    pub name: String,
    /// How to reach it.
    pub target: TargetSpec,
    /// The specs it must pass, resolved against the suite file's folder.
    pub specs: Vec<PathBuf>,
    /// The roles that list it, in suite order; empty for a `[target.NAME]`.
    pub roles: Vec<String>,
    /// The targets that must be up (started and ready) before this one starts, each
    /// with where the suite names it.
    pub after: Vec<(String, Range<usize>)>,
    /// False for a target started only because a target `--only` chose needs it
    /// (`after`): it is started, its specs are not checked.
    pub checked: bool,
}

impl SuiteTarget {
    /// The targets it starts `after`, as indexes into `targets` (the suite's).
    pub fn after_in(&self, targets: &[SuiteTarget]) -> Vec<usize> {
        self.after
            .iter()
            .filter_map(|(dep, _)| targets.iter().position(|t| &t.name == dep))
            .collect()
    }
}

/// What a suite's `[defaults]` table sets for every resource of every target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Defaults {
    /// How long a resource without its own `within` may take to hold (retried).
    pub within: Option<std::time::Duration>,
}

/// A suite: its `[target.NAME]` and `[role.NAME]` tables, in the order the file has them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suite {
    entries: Vec<Entry>,
    /// The `[defaults]` table.
    pub defaults: Defaults,
    /// The `[vars]` table.
    vars: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Target(SuiteTarget),
    Role(Role),
}

impl Entry {
    fn name(&self) -> &str {
        match self {
            Self::Target(t) => &t.name,
            Self::Role(r) => &r.name,
        }
    }
}

impl Suite {
    /// The targets to check, in suite order: each `[target.NAME]` where the file has
    /// it, and each host of a role where the first role that lists it is. A host
    /// listed by several roles is one target with the specs of all of them, each
    /// spec file once.
    pub fn targets(&self) -> Vec<SuiteTarget> {
        let mut targets: Vec<SuiteTarget> = Vec::new();
        // Where each role host is in `targets`.
        let mut hosts: Vec<(&str, usize)> = Vec::new();
        for entry in &self.entries {
            let role = match entry {
                Entry::Target(t) => {
                    targets.push(t.clone());
                    continue;
                }
                Entry::Role(role) => role,
            };
            for (uri, _) in &role.hosts {
                let at = if let Some((_, at)) = hosts.iter().find(|(h, _)| h == uri) {
                    *at
                } else {
                    targets.push(SuiteTarget {
                        name: uri.clone(),
                        target: TargetSpec::Uri(uri.clone()),
                        specs: Vec::new(),
                        roles: Vec::new(),
                        after: Vec::new(),
                        checked: true,
                    });
                    hosts.push((uri, targets.len() - 1));
                    targets.len() - 1
                };
                let target = &mut targets[at];
                target.roles.push(role.name.clone());
                for spec in &role.specs {
                    // `Path` equality ignores `.` components: `./a.toml` is `a.toml`.
                    if !target.specs.contains(spec) {
                        target.specs.push(spec.clone());
                    }
                }
            }
        }
        targets
    }

    /// How many `[role.NAME]` tables the suite has.
    pub fn role_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e, Entry::Role(_)))
            .count()
    }

    /// The suite with only the targets and roles named in `names` (`--only`). A name
    /// the suite does not have is an error that says which names it has.
    pub fn only(&self, names: &[String]) -> Result<Self, String> {
        let known: Vec<&str> = self.entries.iter().map(Entry::name).collect();
        if let Some(unknown) = names.iter().find(|n| !known.contains(&n.as_str())) {
            let hint = did_you_mean(unknown, known.iter().copied()).map_or_else(
                || format!("it has {}", backticked(&known)),
                |m| format!("did you mean `{m}`?"),
            );
            return Err(format!(
                "`--only {unknown}`: the suite has no target or role `{unknown}`; {hint}"
            ));
        }
        // The targets the chosen ones start after come too, unchecked.
        let mut wanted: Vec<String> = names.to_vec();
        let mut i = 0;
        while let Some(name) = wanted.get(i).cloned() {
            for entry in &self.entries {
                if let Entry::Target(t) = entry {
                    if t.name == name {
                        for (dep, _) in &t.after {
                            if !wanted.contains(dep) {
                                wanted.push(dep.clone());
                            }
                        }
                    }
                }
            }
            i += 1;
        }
        Ok(Self {
            entries: self
                .entries
                .iter()
                .filter(|e| wanted.iter().any(|n| n == e.name()))
                .cloned()
                .map(|e| match e {
                    Entry::Target(mut t) if !names.contains(&t.name) => {
                        t.checked = false;
                        Entry::Target(t)
                    }
                    e => e,
                })
                .collect(),
            defaults: self.defaults.clone(),
            vars: self.vars.clone(),
        })
    }

    /// The suite's `[vars]`, for [`Vars::with_suite`].
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }
}

/// How the suite table `table` is written: `[vars]` and `[defaults]` are one table,
/// `[target.NAME]` and `[role.NAME]` one per target or role.
fn table_form(table: &str) -> String {
    if matches!(table, "vars" | "defaults") {
        format!("[{table}]")
    } else {
        format!("[{table}.NAME]")
    }
}

/// Reads a suite file, its `${VAR}`s from its `[vars]` and the environment.
pub fn load_suite(path: &Path) -> Result<Suite, SpecErrors> {
    load_suite_with(path, &Vars::from_env())
}

/// Reads a suite file, its `${VAR}`s from `vars` over its own `[vars]`.
pub fn load_suite_with(path: &Path, vars: &Vars) -> Result<Suite, SpecErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        SpecErrors(vec![SpecError::new(format!(
            "cannot read suite `{}`: {e}",
            path.display()
        ))])
    })?;
    let source = Source {
        path: Arc::from(path),
        text: Arc::from(text),
    };
    let base = path.parent().unwrap_or(Path::new("."));
    parse_suite_with(&source, base, vars, &|p| p.exists()).map_err(SpecErrors)
}

/// Parses a suite whose spec files are all taken to exist.
#[cfg(test)]
fn parse_suite(source: &Source, base: &Path) -> Result<Suite, Vec<SpecError>> {
    parse_suite_with(source, base, &Vars::none(), &|_| true)
}

/// Parses a suite; `exists` says whether a spec path it names is there.
fn parse_suite_with(
    source: &Source,
    base: &Path,
    vars: &Vars,
    exists: &dyn Fn(&Path) -> bool,
) -> Result<Suite, Vec<SpecError>> {
    let ctx = Ctx { source };
    let mut doc = DeTable::parse(&source.text).map_err(|e| {
        vec![invalid_toml(
            source,
            &e,
            "a suite is TOML: tables such as `[target.NAME]` or `[role.NAME]`, each \
             with one `key = value` per line, strings in double quotes",
            "write each key once per table",
        )]
    })?;
    let super::vars::InSuite {
        own: suite_vars,
        mut errors,
        unexpanded,
    } = super::vars::in_suite(&ctx, doc.get_mut(), vars);
    let failed = |table: &str, name: Option<&str>| {
        unexpanded
            .iter()
            .any(|(t, n)| t == table && (name.is_none() || n.as_deref() == name))
    };
    // Each entry with its name's span, to put them in file order and point at them.
    let mut entries: Vec<(Range<usize>, Entry)> = Vec::new();
    let mut defaults = Defaults::default();
    for (key, value) in doc.get_ref() {
        let table_key = key.get_ref().as_ref();
        if table_key == "defaults" {
            if failed(table_key, None) {
                continue;
            }
            match values::defaults(&ctx, value) {
                Ok(d) => defaults = d,
                Err(e) => errors.push(e),
            }
            continue;
        }
        if !TABLES.contains(&table_key) {
            let label = did_you_mean(table_key, TABLES.iter().copied()).map_or_else(
                || "expected `[target.NAME]`, `[role.NAME]`, `[defaults]` or `[vars]`".to_string(),
                |m| format!("did you mean `{}`?", table_form(m)),
            );
            errors.push(ctx.error(
                key.span(),
                format!("unknown suite table `{table_key}`"),
                &label,
            ));
            continue;
        }
        if table_key == "vars" {
            continue;
        }
        let DeValue::Table(table) = value.get_ref() else {
            errors.push(ctx.error(
                value.span(),
                format!("`{table_key}` must hold tables"),
                &format!("write `[{table_key}.NAME]`"),
            ));
            continue;
        };
        for (name, body) in table {
            if failed(table_key, Some(name.get_ref())) {
                continue;
            }
            let parsed = if table_key == "target" {
                target::target(&ctx, base, name.get_ref(), name.span(), body)
                    .map(|(t, specs)| (Entry::Target(t), specs))
            } else {
                role::role(&ctx, base, name.get_ref(), name.span(), body)
                    .map(|(r, specs)| (Entry::Role(r), specs))
            };
            match parsed {
                Ok((entry, specs)) => {
                    errors.extend(check::missing_specs(&ctx, base, &specs, exists));
                    entries.push((name.span(), entry));
                }
                Err(e) => errors.push(e),
            }
        }
    }
    entries.sort_by_key(|(span, _)| span.start);
    // With a target left out, `after` and clashes would be judged on half a suite.
    if unexpanded.is_empty() {
        errors.extend(check::clashes(&ctx, &entries));
        errors.extend(check::order(&ctx, &entries));
    }
    if entries.is_empty() && errors.is_empty() {
        errors.push(
            SpecError::new(format!("suite `{}` names no target", source.path.display()))
                .help("add `[target.NAME]` with `local = true` (or `image`, `docker`, `ssh`) and `specs = [...]`, or `[role.NAME]` with `hosts = [...]` and `specs = [...]`"),
        );
    }
    if errors.is_empty() {
        Ok(Suite {
            entries: entries.into_iter().map(|(_, e)| e).collect(),
            defaults,
            vars: suite_vars,
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::SshTarget;

    fn parse(text: &str) -> Result<Vec<SuiteTarget>, Vec<SpecError>> {
        let source = Source {
            path: Arc::from(Path::new("ispec.toml")),
            text: Arc::from(text),
        };
        parse_suite(&source, Path::new("/suite")).map(|s| s.targets())
    }

    #[test]
    fn targets_and_specs() {
        let targets = parse(
            "[target.base]\nlocal = true\nspecs = [\"specs/base.toml\"]\n\n\
             [target.web]\nimage = \"web:candidate\"\nspecs = [\"web.toml\", \"base.toml\"]\n",
        )
        .unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].target, TargetSpec::Uri("local".into()));
        assert_eq!(
            targets[0].specs,
            vec![PathBuf::from("/suite/specs/base.toml")]
        );
        // A suite's image target is named by the suite.
        assert_eq!(targets[1].target.name(), "web");
        assert_eq!(targets[1].specs.len(), 2);
    }

    #[test]
    fn ssh_targets_take_sudo_and_identity() {
        let targets = parse(
            "[target.web]\nssh = \"deploy@127.0.0.1:2222\"\nsudo = true\nidentity = \"keys/deploy\"\nspecs = [\"a.toml\"]\n",
        )
        .unwrap();
        assert_eq!(
            targets[0].target,
            TargetSpec::Ssh(Box::new(SshTarget {
                uri: "ssh://deploy@127.0.0.1:2222".into(),
                sudo: Some(true),
                identities: vec![PathBuf::from("/suite/keys/deploy")],
            }))
        );
        let err = parse("[target.a]\nlocal = true\nsudo = true\nspecs = [\"a\"]\n").unwrap_err();
        assert_eq!(
            err[0].message,
            "target `a` is not an SSH host; `sudo` and `identity` apply to `ssh` targets"
        );
        let err = parse("[target.a]\nssh = \"h\"\nsudo = \"yes\"\nspecs = [\"a\"]\n").unwrap_err();
        assert_eq!(err[0].message, "invalid value for `sudo` in target `a`");
    }

    #[test]
    fn mistakes_are_named() {
        let err = parse("[target.a]\nlocl = true\nspecs = [\"a.toml\"]\n").unwrap_err();
        assert_eq!(err[0].message, "unknown key `locl` in target `a`");
        assert!(
            err[0]
                .snippet
                .as_ref()
                .unwrap()
                .contains("did you mean `local`?")
        );
        let err = parse("[target.a]\nspecs = [\"a.toml\"]\n").unwrap_err();
        assert_eq!(err[0].message, "target `a` does not say how to reach it");
        let err = parse("[target.a]\nlocal = true\nssh = \"h\"\nspecs = [\"a\"]\n").unwrap_err();
        assert_eq!(
            err[0].message,
            "target `a` names more than one way to reach it"
        );
        let err = parse("[target.a]\nlocal = true\n").unwrap_err();
        assert_eq!(err[0].message, "target `a` has no specs");
        let err = parse("[targets.a]\n").unwrap_err();
        assert_eq!(err[0].message, "unknown suite table `targets`");
    }

    fn suite(text: &str) -> Suite {
        let source = Source {
            path: Arc::from(Path::new("ispec.toml")),
            text: Arc::from(text),
        };
        parse_suite(&source, Path::new("/suite")).unwrap()
    }

    /// Every error of a suite, rendered as `ispec` prints them.
    fn errors(text: &str) -> String {
        let source = Source {
            path: Arc::from(Path::new("ispec.toml")),
            text: Arc::from(text),
        };
        SpecErrors(parse_suite(&source, Path::new("/suite")).unwrap_err()).to_string()
    }

    /// `URI: spec, spec (roles)` for each target.
    fn summary(targets: &[SuiteTarget]) -> Vec<String> {
        targets
            .iter()
            .map(|t| {
                let specs: Vec<String> = t
                    .specs
                    .iter()
                    .map(|s| s.strip_prefix("/suite").unwrap().display().to_string())
                    .collect();
                format!(
                    "{}: {} ({})",
                    t.target.name(),
                    specs.join(", "),
                    t.roles.join(", ")
                )
            })
            .collect()
    }

    const ROLES: &str = "\
[target.base]
local = true
specs = [\"base.toml\"]

[role.web]
hosts = [\"ssh://deploy@web-1\", \"docker://web-2\"]
specs = [\"web.toml\", \"base.toml\"]

[role.db]
hosts = [\"docker://web-2\", \"ssh://db-1\"]
specs = [\"db.toml\", \"./base.toml\"]
";

    #[test]
    fn a_host_gets_the_union_of_its_roles_specs() {
        assert_eq!(
            summary(&suite(ROLES).targets()),
            [
                "local: base.toml ()",
                "ssh://deploy@web-1: web.toml, base.toml (web)",
                "docker://web-2: web.toml, base.toml, db.toml (web, db)",
                "ssh://db-1: db.toml, base.toml (db)",
            ]
        );
    }

    #[test]
    fn targets_and_roles_keep_the_files_order() {
        let text = "[role.web]\nhosts = [\"docker://web-2\"]\nspecs = [\"web.toml\"]\n\n\
                    [target.base]\nlocal = true\nspecs = [\"base.toml\"]\n\n\
                    [role.db]\nhosts = [\"ssh://db-1\"]\nspecs = [\"db.toml\"]\n";
        assert_eq!(
            summary(&suite(text).targets()),
            [
                "docker://web-2: web.toml (web)",
                "local: base.toml ()",
                "ssh://db-1: db.toml (db)",
            ]
        );
        assert_eq!(suite(text).role_count(), 2);
    }

    #[test]
    fn only_keeps_the_named_targets_and_roles() {
        let only = |names: &[&str]| {
            let names: Vec<String> = names.iter().map(ToString::to_string).collect();
            suite(ROLES).only(&names).map(|s| summary(&s.targets()))
        };
        assert_eq!(
            only(&["db"]),
            Ok(vec![
                "docker://web-2: db.toml, base.toml (db)".to_string(),
                "ssh://db-1: db.toml, base.toml (db)".to_string(),
            ])
        );
        assert_eq!(only(&["base", "web"]).unwrap().len(), 3);
        assert_eq!(
            only(&["dbs"]),
            Err(
                "`--only dbs`: the suite has no target or role `dbs`; did you mean `db`?"
                    .to_string()
            )
        );
        assert_eq!(
            only(&["cache"]),
            Err(
                "`--only cache`: the suite has no target or role `cache`; it has `base`, `web`, `db`"
                    .to_string()
            )
        );
    }

    #[test]
    fn role_mistakes_point_at_the_place() {
        assert_eq!(
            errors("[role.web]\nhost = [\"local\"]\nspecs = [\"a.toml\"]\n"),
            "\
error: unknown key `host` in role `web`
 --> ispec.toml:2:1
  |
2 | host = [\"local\"]
  | ^^^^ did you mean `hosts`?
"
        );
        assert_eq!(
            errors("[role.web]\nhosts = [\"local\"]\nimage = \"web\"\nspecs = [\"a.toml\"]\n"),
            "\
error: unknown key `image` in role `web`
 --> ispec.toml:3:1
  |
3 | image = \"web\"
  | ^^^^^ a role lists target URIs in `hosts`; `image` belongs in a `[target.NAME]`
"
        );
        assert_eq!(
            errors("[role.web]\nhosts = []\nspecs = [\"a.toml\"]\n"),
            "\
error: role `web` has no hosts
 --> ispec.toml:2:9
  |
2 | hosts = []
  |         ^^ list target URIs: `hosts = [\"ssh://deploy@web-1\", \"docker://web-2\", \"local\"]`
"
        );
        assert_eq!(
            errors("[role.web]\nspecs = [\"a.toml\"]\n"),
            "\
error: role `web` has no hosts
 --> ispec.toml:1:7
  |
1 | [role.web]
  |       ^^^ list target URIs: `hosts = [\"ssh://deploy@web-1\", \"docker://web-2\", \"local\"]`
"
        );
        assert_eq!(
            errors("[role.web]\nhosts = [\"local\"]\n"),
            "\
error: role `web` has no specs
 --> ispec.toml:1:7
  |
1 | [role.web]
  |       ^^^ add `specs = [\"specs/web.toml\"]`
"
        );
        assert_eq!(
            errors("[role.web]\nhosts = [\"local\", \"ftp://x\"]\nspecs = [\"a.toml\"]\n"),
            "\
error: invalid host `ftp://x` in role `web`
 --> ispec.toml:2:19
  |
2 | hosts = [\"local\", \"ftp://x\"]
  |                   ^^^^^^^^^ unknown scheme `ftp`; expected `local`, `docker://CONTAINER` or `ssh://[USER@]HOST[:PORT]`
"
        );
        assert_eq!(
            errors("[role.web]\nhosts = \"local\"\nspecs = [\"a.toml\"]\n"),
            "\
error: invalid value for `hosts` in role `web`
 --> ispec.toml:2:9
  |
2 | hosts = \"local\"
  |         ^^^^^^^ list target URIs: `hosts = [\"ssh://deploy@web-1\", \"docker://web-2\", \"local\"]`
"
        );
    }

    #[test]
    fn duplicates_are_mistakes() {
        assert_eq!(
            errors(
                "[role.web]\nhosts = [\"docker://web-1\", \"docker://web-1\"]\nspecs = [\"a.toml\"]\n"
            ),
            "\
error: `docker://web-1` is listed twice in role `web`
 --> ispec.toml:2:28
  |
2 | hosts = [\"docker://web-1\", \"docker://web-1\"]
  |                            ^^^^^^^^^^^^^^^^ already listed at 2:10
"
        );
        assert_eq!(
            errors("[role.web]\nhosts = [\"local\"]\nspecs = [\"a.toml\",\n  \"./a.toml\"]\n"),
            "\
error: `./a.toml` is listed twice in role `web`
 --> ispec.toml:4:3
  |
4 |   \"./a.toml\"]
  |   ^^^^^^^^^^ already listed at 3:10
"
        );
        assert_eq!(
            errors(
                "[target.base]\nlocal = true\nspecs = [\"base.toml\"]\n\n\
                 [role.base]\nhosts = [\"local\"]\nspecs = [\"web.toml\"]\n"
            ),
            "\
error: `base` names both a target and a role
 --> ispec.toml:5:7
  |
5 | [role.base]
  |       ^^^^ give the role a name of its own

error: `local` is both target `base` and a host of role `base`
 --> ispec.toml:6:10
  |
6 | hosts = [\"local\"]
  |          ^^^^^^^ a host is checked once, with all its specs
  = help: list `local` in roles only (a role may have one host), or drop it from role `base`

error: 2 problems in the specs; nothing was run
"
        );
    }

    #[test]
    fn an_ssh_target_with_sudo_is_the_same_host_as_a_roles() {
        assert_eq!(
            errors(
                "[target.bastion]\nssh = \"deploy@b\"\nsudo = true\nspecs = [\"base.toml\"]\n\n\
                 [role.web]\nhosts = [\"ssh://deploy@b\"]\nspecs = [\"web.toml\"]\n"
            ),
            "\
error: `ssh://deploy@b` is both target `bastion` and a host of role `web`
 --> ispec.toml:7:10
  |
7 | hosts = [\"ssh://deploy@b\"]
  |          ^^^^^^^^^^^^^^^^ a host is checked once, with all its specs
  = help: drop `ssh://deploy@b` from role `web` and add the role's specs to target `bastion`: a role's hosts cannot carry `sudo` or `identity`
"
        );
    }

    #[test]
    fn what_failed_to_expand_is_not_type_checked_too() {
        let messages = |text: &str| -> Vec<String> {
            let source = Source {
                path: Arc::from(Path::new("ispec.toml")),
                text: Arc::from(text),
            };
            parse_suite(&source, Path::new("/suite"))
                .unwrap_err()
                .into_iter()
                .map(|e| e.message)
                .collect()
        };
        assert_eq!(
            messages("[target.a]\nssh = \"h:${P}\"\nspecs = [\"a.toml\"]\n"),
            ["unknown variable `P`"]
        );
        // `b` starts after `a`, which is left out: not "`a` is not a target".
        assert_eq!(
            messages(
                "[target.a]\nimage = \"${IMAGE}\"\nspecs = [\"a.toml\"]\n\
                 [target.b]\nlocal = true\nafter = [\"a\"]\nspecs = [\"b.toml\"]\n\
                 [defaults]\nwithin = \"${WITHIN}\"\n"
            ),
            ["unknown variable `IMAGE`", "unknown variable `WITHIN`"]
        );
    }

    #[test]
    fn a_table_typo_suggests_the_tables_own_form() {
        let label = |text: &str| {
            let err = errors(text);
            err.lines()
                .find(|l| l.contains('^'))
                .map(|l| l.trim_start_matches(|c| " |^".contains(c)).to_string())
                .unwrap_or(err)
        };
        assert_eq!(label("[var]\nA = \"x\"\n"), "did you mean `[vars]`?");
        assert_eq!(
            label("[default]\nwithin = \"1s\"\n"),
            "did you mean `[defaults]`?"
        );
        assert_eq!(
            label("[targets.a]\nlocal = true\n"),
            "did you mean `[target.NAME]`?"
        );
        assert_eq!(
            label("[roles.a]\nhosts = []\n"),
            "did you mean `[role.NAME]`?"
        );
        assert_eq!(
            label("[hosts.a]\n"),
            "expected `[target.NAME]`, `[role.NAME]`, `[defaults]` or `[vars]`"
        );
    }

    #[test]
    fn invalid_toml_is_explained_as_in_spec_files() {
        assert_eq!(
            errors("[target.a]\nlocal = true\nspecs = [\"a.toml]\n"),
            "\
error: invalid TOML: unclosed array, expected `]`
 --> ispec.toml:3:18
  |
3 | specs = [\"a.toml]
  |                  ^ the TOML parser stopped here
  = help: a suite is TOML: tables such as `[target.NAME]` or `[role.NAME]`, each with one `key = value` per line, strings in double quotes
"
        );
    }

    #[test]
    fn suite_tables_and_target_uris_are_checked() {
        assert_eq!(
            errors("[roles.web]\nhosts = [\"local\"]\n"),
            "\
error: unknown suite table `roles`
 --> ispec.toml:1:2
  |
1 | [roles.web]
  |  ^^^^^ did you mean `[role.NAME]`?
"
        );
        assert_eq!(
            errors("role = [\"web\"]\n"),
            "\
error: `role` must hold tables
 --> ispec.toml:1:8
  |
1 | role = [\"web\"]
  |        ^^^^^^^ write `[role.NAME]`
"
        );
        assert_eq!(
            errors("[target.web]\ndocker = \"web/1\"\nspecs = [\"a.toml\"]\n"),
            "\
error: invalid value for `docker` in target `web`
 --> ispec.toml:2:10
  |
2 | docker = \"web/1\"
  |          ^^^^^^^ a container's name or id has no `/`
"
        );
    }

    const ORDERED: &str = "\
[defaults]
within = \"5s\"

[target.api]
image = \"api:1\"
specs = [\"api.toml\"]

[target.web]
image = \"web:1\"
after = [\"api\"]
specs = [\"web.toml\"]

[target.client]
image = \"client:1\"
after = [\"web\"]
specs = [\"client.toml\"]
";

    #[test]
    fn after_and_defaults() {
        let suite = suite(ORDERED);
        assert_eq!(
            suite.defaults.within,
            Some(std::time::Duration::from_secs(5))
        );
        let targets = suite.targets();
        let after: Vec<Vec<&str>> = targets
            .iter()
            .map(|t| t.after.iter().map(|(n, _)| n.as_str()).collect())
            .collect();
        assert_eq!(after, [vec![], vec!["api"], vec!["web"]]);
        // `--only client` starts what it needs, unchecked.
        let only = suite.only(&["client".to_string()]).unwrap().targets();
        let chosen: Vec<(&str, bool)> = only.iter().map(|t| (t.name.as_str(), t.checked)).collect();
        assert_eq!(chosen, [("api", false), ("web", false), ("client", true)]);
    }

    #[test]
    fn after_names_a_target_and_makes_no_cycle() {
        let err = errors(&ORDERED.replace("after = [\"api\"]", "after = [\"apj\"]"));
        assert!(
            err.contains(
                "error: target `web` starts after `apj`, which is not a target of the suite"
            ),
            "{err}"
        );
        assert!(err.contains("did you mean `api`?"), "{err}");
        let err = errors(&ORDERED.replace(
            "image = \"api:1\"",
            "image = \"api:1\"\nafter = [\"client\"]",
        ));
        assert!(
            err.contains("targets wait for each other: api → client → web → api"),
            "{err}"
        );
        assert!(err.contains("remove one `after`"), "{err}");
        let err = errors(&ORDERED.replace("after = [\"api\"]", "after = [\"web\"]"));
        assert!(
            err.contains("target `web` cannot start after itself"),
            "{err}"
        );
        let err =
            errors("[defaults]\nwithin = \"soon\"\n[target.a]\nlocal = true\nspecs = [\"a\"]\n");
        assert!(
            err.contains("invalid value for `within` in `[defaults]`"),
            "{err}"
        );
        let err = errors("[defaults]\nretries = 3\n[target.a]\nlocal = true\nspecs = [\"a\"]\n");
        assert!(
            err.contains("unknown key `retries` in `[defaults]`"),
            "{err}"
        );
    }

    #[test]
    fn missing_spec_files_point_at_the_suite() {
        let source = Source {
            path: Arc::from(Path::new("ispec.toml")),
            text: Arc::from(
                "[target.a]\nlocal = true\nspecs = [\"a.toml\", \"s3/a.toml\"]\n\n\
                 [role.r]\nhosts = [\"docker://x\"]\nspecs = [\"s3/b.toml\"]\n",
            ),
        };
        let only_a = |p: &Path| p == Path::new("/suite/a.toml");
        let err = parse_suite_with(&source, Path::new("/suite"), &Vars::none(), &only_a);
        assert_eq!(
            SpecErrors(err.unwrap_err()).to_string(),
            "\
error: `s3/a.toml` is not there (looked for `/suite/s3/a.toml`)
 --> ispec.toml:3:20
  |
3 | specs = [\"a.toml\", \"s3/a.toml\"]
  |                    ^^^^^^^^^^^ no such spec file or folder
  = help: spec paths are relative to the suite file's folder; name a spec file or a folder of `*.toml` specs

error: `s3/b.toml` is not there (looked for `/suite/s3/b.toml`)
 --> ispec.toml:7:10
  |
7 | specs = [\"s3/b.toml\"]
  |          ^^^^^^^^^^^ no such spec file or folder
  = help: spec paths are relative to the suite file's folder; name a spec file or a folder of `*.toml` specs

error: 2 problems in the specs; nothing was run
"
        );
    }

    #[test]
    fn a_cycle_points_at_the_after_entry_that_makes_it() {
        assert_eq!(
            errors(
                "[target.db]\nlocal = true\nspecs = [\"db.toml\"]\n\n\
                 [target.api]\nlocal = true\nafter = [\"db\", \"web\"]\nspecs = [\"api.toml\"]\n\n\
                 [target.web]\nlocal = true\nafter = [\"api\"]\nspecs = [\"web.toml\"]\n"
            ),
            "\
error: targets wait for each other: api → web → api
 --> ispec.toml:7:16
  |
7 | after = [\"db\", \"web\"]
  |                ^^^^^ remove one `after` so one of them can start first
"
        );
    }

    #[test]
    fn relative_mount_sources_are_the_suite_folders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        let source = Source {
            path: Arc::from(dir.path().join("ispec.toml").as_path()),
            text: Arc::from(
                "[target.a]\nimage = \"a:1\"\nvolumes = [\"./conf:/etc/a:ro\", \"data:/var/a\", \"/abs:/b\"]\nspecs = [\"a\"]\n",
            ),
        };
        let suite = parse_suite(&source, dir.path()).unwrap();
        let TargetSpec::Image(spec) = &suite.targets()[0].target else {
            panic!("not an image target")
        };
        assert_eq!(
            spec.volumes,
            [
                format!("{}:/etc/a:ro", dir.path().join("conf").display()),
                "data:/var/a".to_string(),
                "/abs:/b".to_string()
            ]
        );
        let source = Source {
            path: Arc::from(dir.path().join("ispec.toml").as_path()),
            text: Arc::from(
                "[target.a]\nimage = \"a:1\"\nvolumes = [\"./missing:/etc/a\"]\nspecs = [\"a\"]\n",
            ),
        };
        let err = SpecErrors(parse_suite(&source, dir.path()).unwrap_err()).to_string();
        assert!(err.contains("`./missing` is not there"), "{err}");
    }
}
