//! The plan: which resources a run checks, every check known before any I/O.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::spec::{Declared, Spec, SpecErrors, Suite, SuiteTarget, Vars, load_with};

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
    /// over the suite's own `[vars]`, the specs a role gives many hosts loaded once. A
    /// target only started for another (`--only`'s dependencies) gets no checks.
    pub fn for_suite(
        suite: &Suite,
        filter: &Filter,
        vars: &Vars,
    ) -> Result<Vec<SuitePlan>, SpecErrors> {
        let vars = vars.with_suite(suite.vars().clone());
        let targets = suite.targets();
        let mut loaded: Vec<(Vec<PathBuf>, Self)> = Vec::new();
        let mut planned = Vec::new();
        for target in &targets {
            let plan = if !target.checked {
                Self::default()
            } else if let Some((_, plan)) = loaded.iter().find(|(specs, _)| *specs == target.specs)
            {
                plan.clone()
            } else {
                let plan = Self::build(load_with(&target.specs, &vars)?, filter);
                loaded.push((target.specs.clone(), plan.clone()));
                plan
            };
            planned.push(SuitePlan {
                after: target.after_in(&targets),
                target: target.clone(),
                plan,
            });
        }
        Ok(planned)
    }

    /// The number of checks, known before anything runs.
    pub fn check_count(&self) -> usize {
        self.decls.iter().map(|d| d.checks.len()).sum()
    }
}
