//! Checks across a suite's entries, once each is parsed: spec paths that are not
//! there, names a target and a role share, hosts both a target and a role's, and
//! `after` lists that name no target or wait in a cycle.

use std::ops::Range;
use std::path::Path;

use super::{Entry, Items, SuiteTarget};
use crate::backend::TargetSpec;
use crate::spec::error::{SpecError, did_you_mean};
use crate::spec::matcher::{Ctx, backticked};

/// An error at each of `specs` (as the suite writes them) that is not there, so the
/// suite's own line is shown rather than a bare path.
pub(super) fn missing_specs(
    ctx: &Ctx<'_>,
    base: &Path,
    specs: &Items,
    exists: &dyn Fn(&Path) -> bool,
) -> Vec<SpecError> {
    specs
        .iter()
        .filter(|(spec, _)| !exists(&base.join(spec)))
        .map(|(spec, span)| {
            let path = base.join(spec);
            let looked = std::path::absolute(&path).unwrap_or(path);
            ctx.error(
                span.clone(),
                format!("`{spec}` is not there (looked for `{}`)", looked.display()),
                "no such spec file or folder",
            )
            .help(
                "spec paths are relative to the suite file's folder; \
                 name a spec file or a folder of `*.toml` specs",
            )
        })
        .collect()
}

/// `after` names that are not targets of the suite, and targets that wait for each
/// other (a cycle: none could start).
pub(super) fn order(ctx: &Ctx<'_>, entries: &[(Range<usize>, Entry)]) -> Vec<SpecError> {
    let targets: Vec<&SuiteTarget> = entries
        .iter()
        .filter_map(|(_, e)| match e {
            Entry::Target(t) => Some(t),
            Entry::Role(_) => None,
        })
        .collect();
    let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    let mut errors = Vec::new();
    for t in &targets {
        for (dep, span) in &t.after {
            if dep == &t.name {
                errors.push(ctx.error(
                    span.clone(),
                    format!("target `{dep}` cannot start after itself"),
                    "remove it from `after`",
                ));
            } else if !names.contains(&dep.as_str()) {
                let hint = did_you_mean(dep, names.iter().copied()).map_or_else(
                    || format!("the suite's targets are {}", backticked(&names)),
                    |m| format!("did you mean `{m}`?"),
                );
                errors.push(ctx.error(
                    span.clone(),
                    format!(
                        "target `{}` starts after `{dep}`, which is not a target of the suite",
                        t.name
                    ),
                    &hint,
                ));
            }
        }
    }
    if !errors.is_empty() {
        return errors;
    }
    // Reported once, at the first target of the cycle.
    let mut done = Vec::new();
    for t in &targets {
        if let Some(cycle) = visit(t, &targets, &mut Vec::new(), &mut done) {
            let first = targets.iter().find(|x| x.name == cycle[0]).unwrap_or(t);
            // The `after` entry that makes the cycle, not just the first one.
            let span = first
                .after
                .iter()
                .find(|(dep, _)| cycle.get(1) == Some(dep))
                .or(first.after.first())
                .map_or(0..0, |(_, s)| s.clone());
            errors.push(ctx.error(
                span,
                format!("targets wait for each other: {}", cycle.join(" → ")),
                "remove one `after` so one of them can start first",
            ));
            break;
        }
    }
    errors
}

/// Depth-first search from `t` for targets that wait for each other: the cycle's
/// names, first one last again.
fn visit<'t>(
    t: &'t SuiteTarget,
    targets: &[&'t SuiteTarget],
    path: &mut Vec<&'t str>,
    done: &mut Vec<&'t str>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| *n == t.name) {
        let mut cycle: Vec<String> = path[at..].iter().map(ToString::to_string).collect();
        cycle.push(t.name.clone());
        return Some(cycle);
    }
    if done.contains(&t.name.as_str()) {
        return None;
    }
    path.push(&t.name);
    for (dep, _) in &t.after {
        if let Some(next) = targets.iter().find(|x| &x.name == dep) {
            if let Some(cycle) = visit(next, targets, path, done) {
                return Some(cycle);
            }
        }
    }
    path.pop();
    done.push(&t.name);
    None
}

/// A name used by a target and a role (so `--only` could not tell them apart), and a
/// host that is both a target and in a role (so it would be checked twice).
pub(super) fn clashes(ctx: &Ctx<'_>, entries: &[(Range<usize>, Entry)]) -> Vec<SpecError> {
    let mut errors = Vec::new();
    let targets = || {
        entries.iter().filter_map(|(_, e)| match e {
            Entry::Target(t) => Some(t),
            Entry::Role(_) => None,
        })
    };
    for (span, entry) in entries {
        let Entry::Role(role) = entry else { continue };
        if targets().any(|t| t.name == role.name) {
            errors.push(ctx.error(
                span.clone(),
                format!("`{}` names both a target and a role", role.name),
                "give the role a name of its own",
            ));
        }
        for (uri, at) in &role.hosts {
            // By name: an `ssh` target with `sudo` or `identity` is the same host too.
            let Some(t) = targets().find(|t| t.target.name() == *uri) else {
                continue;
            };
            let help = if matches!(t.target, TargetSpec::Ssh(_)) {
                // Roles list bare URIs: the target's `sudo` and `identity` would be lost.
                format!(
                    "drop `{uri}` from role `{}` and add the role's specs to target `{}`: \
                     a role's hosts cannot carry `sudo` or `identity`",
                    role.name, t.name
                )
            } else {
                format!(
                    "list `{uri}` in roles only (a role may have one host), or drop it from role `{}`",
                    role.name
                )
            };
            errors.push(
                ctx.error(
                    at.clone(),
                    format!(
                        "`{uri}` is both target `{}` and a host of role `{}`",
                        t.name, role.name
                    ),
                    "a host is checked once, with all its specs",
                )
                .help(help),
            );
        }
    }
    errors
}
