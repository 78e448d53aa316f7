//! The plan: which resources a run checks, every check known before any I/O.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::spec::{Declared, Spec, SpecError, SpecErrors, Suite, SuiteTarget, Vars, load_with};

/// The resources to check, in spec order.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The resources, shared with the threads that check them.
    pub decls: Vec<Arc<Declared>>,
    /// The spec files they came from.
    pub files: Vec<Arc<Path>>,
}

/// A suite's target and the plan it must pass.
#[derive(Clone, Debug)]
pub struct SuitePlan {
    /// The target.
    pub target: SuiteTarget,
    /// What it must pass.
    pub plan: Plan,
    /// The targets that must be up before it starts, as indexes into the suite's.
    pub after: Vec<usize>,
}

/// Which resources to keep.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Keep a resource only if `kind id` (or its title) contains one of these; all when empty.
    pub patterns: Vec<String>,
}

impl Filter {
    /// Returns true if and only if the filter keeps `decl`.
    pub fn keeps(&self, decl: &Declared) -> bool {
        let name = format!("{} {}", decl.kind.key, decl.id);
        self.patterns.is_empty()
            || self.patterns.iter().any(|p| {
                name.contains(p.as_str())
                    || decl
                        .title
                        .as_deref()
                        .is_some_and(|t| t.contains(p.as_str()))
            })
    }
}

impl Plan {
    /// Plans the checks of `spec` that `filter` keeps.
    pub fn build(spec: Spec, filter: &Filter) -> Self {
        Self {
            decls: spec
                .decls
                .into_iter()
                .filter(|d| filter.keeps(d))
                .map(Arc::new)
                .collect(),
            files: spec.files,
        }
    }

    /// Each target of `suite` with the plan it must pass: its specs loaded with `vars`
    /// over the suite's own `[vars]`, each distinct list of specs loaded once (so the
    /// specs a role gives many hosts are loaded once). A target only started for
    /// another (`--only`'s dependencies) gets no checks.
    ///
    /// # Errors
    ///
    /// Every problem of every target's specs, not only the first target's; a problem
    /// in a spec file that several targets share is reported once.
    pub fn for_suite(
        suite: &Suite,
        filter: &Filter,
        vars: &Vars,
    ) -> Result<Vec<SuitePlan>, SpecErrors> {
        let vars = vars.with_suite(suite.vars().clone());
        let targets = suite.targets();
        let mut loaded: Vec<(Vec<PathBuf>, Self)> = Vec::new();
        let mut errors: Vec<SpecError> = Vec::new();
        let mut planned = Vec::new();
        for target in &targets {
            let plan = if !target.checked {
                Self::default()
            } else if let Some((_, plan)) = loaded.iter().find(|(specs, _)| *specs == target.specs)
            {
                plan.clone()
            } else {
                let plan = match load_with(&target.specs, &vars) {
                    Ok(spec) => Self::build(spec, filter),
                    Err(SpecErrors(found)) => {
                        for e in found {
                            if !errors.contains(&e) {
                                errors.push(e);
                            }
                        }
                        Self::default()
                    }
                };
                loaded.push((target.specs.clone(), plan.clone()));
                plan
            };
            planned.push(SuitePlan {
                after: target.after_in(&targets),
                target: target.clone(),
                plan,
            });
        }
        if errors.is_empty() {
            Ok(planned)
        } else {
            Err(SpecErrors(errors))
        }
    }

    /// The number of checks, known before anything runs.
    pub fn check_count(&self) -> usize {
        self.decls.iter().map(|d| d.checks.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::load_suite_with;

    #[test]
    fn a_suite_reports_the_problems_of_every_targets_specs_once() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "ispec.toml",
            "[target.a]\nlocal = true\nspecs = [\"a.toml\", \"shared.toml\"]\n\n\
             [target.b]\nlocal = true\nspecs = [\"b.toml\", \"shared.toml\"]\n",
        );
        write("a.toml", "[command.\"a\"]\nbad-a = 0\n");
        write("b.toml", "[command.\"b\"]\nbad-b = 0\n");
        write("shared.toml", "[command.\"s\"]\nbad-shared = 0\n");
        let vars = Vars::none();
        let suite = load_suite_with(&dir.path().join("ispec.toml"), &vars).unwrap();
        let errors = Plan::for_suite(&suite, &Filter::default(), &vars).unwrap_err();
        let messages: Vec<&str> = errors.0.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "unknown property `bad-a` for `command`",
                "unknown property `bad-shared` for `command`",
                "unknown property `bad-b` for `command`",
            ]
        );
    }
}
