//! The plan: which resources a run checks, every check known before any I/O.

use std::path::Path;
use std::sync::Arc;

use crate::spec::{Declared, Spec};

/// The resources to check, in spec order.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The resources, shared with the threads that check them.
    pub decls: Vec<Arc<Declared>>,
    /// The spec files they came from.
    pub files: Vec<Arc<Path>>,
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

    /// The number of checks, known before anything runs.
    pub fn check_count(&self) -> usize {
        self.decls.iter().map(|d| d.checks.len()).sum()
    }
}
