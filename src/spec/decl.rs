//! The parsed model every later stage reads: resources, their checks, and where each
//! was declared.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::expect::Expect;
use crate::resource::{Kind, PropDef, Resource};

use super::Location;

/// A set of loaded specs, in declaration order.
#[derive(Debug, Default)]
pub struct Spec {
    /// Every resource declared.
    pub decls: Vec<Declared>,
    /// The spec files read, in load order.
    pub files: Vec<Arc<Path>>,
}

impl Spec {
    /// The number of checks the specs declare.
    pub fn check_count(&self) -> usize {
        self.decls.iter().map(|d| d.checks.len()).sum()
    }
}

/// One resource as declared: `[kind."id"]` and its properties.
#[derive(Debug)]
pub struct Declared {
    /// Where `[kind."id"]` was written.
    pub location: Location,
    /// The kind.
    pub kind: &'static Kind,
    /// The id within the kind.
    pub id: String,
    /// A human title, shown instead of `kind id`.
    pub title: Option<String>,
    /// Returns true if and only if the spec said `skip = true`.
    pub skip: bool,
    /// The checks are made only on targets where this holds (`when = "..."`).
    pub when: Option<super::When>,
    /// The time limit for observing it (default: the run's `--timeout`).
    pub timeout: Option<Duration>,
    /// Retry until every check holds or this much time has passed.
    pub within: Option<Duration>,
    /// The checks, in spec order.
    pub checks: Vec<Check>,
    /// The bound resource that observes the target.
    pub resource: Arc<dyn Resource>,
}

impl Declared {
    /// How the resource is named in reports: its title, or `kind id`.
    pub fn name(&self) -> String {
        self.title
            .clone()
            .unwrap_or_else(|| format!("{} {}", self.kind.key, self.id))
    }
}

/// One property check.
#[derive(Debug)]
pub struct Check {
    /// The property.
    pub prop: &'static PropDef,
    /// What it must be.
    pub expect: Expect,
    /// Where the property was written.
    pub location: Location,
}
