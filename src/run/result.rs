//! What a run finds: each check's verdict and what a report shows of it, and the
//! counts.

use std::time::Duration;

use crate::spec::Location;

/// The verdict of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The property holds.
    Pass,
    /// The property does not hold.
    Fail,
    /// The check was not made, and why.
    Skip(String),
    /// The check could not be made, and why. Never a pass.
    Error(String),
}

impl Outcome {
    /// The outcome's name in machine reports: `pass`, `fail`, `skip` or `error`.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Skip(_) => "skip",
            Self::Error(_) => "error",
        }
    }
}

/// One check's result, with everything a report shows.
#[derive(Clone, Debug)]
pub struct CheckResult {
    /// The target, as the user wrote it.
    pub target: String,
    /// The resource kind.
    pub kind: &'static str,
    /// The resource id.
    pub id: String,
    /// The resource's title, if the spec gave one.
    pub title: Option<String>,
    /// The property checked.
    pub property: &'static str,
    /// The verdict.
    pub outcome: Outcome,
    /// What the spec expects, in words.
    pub expected: String,
    /// What was observed, if anything was.
    pub actual: Option<String>,
    /// Why the observed value is what it is, when the target said (`connection
    /// refused`).
    pub note: Option<String>,
    /// Where the property was written.
    pub location: Location,
    /// How long observing the resource took (all attempts).
    pub duration: Duration,
    /// How many times the resource was observed.
    pub attempts: u32,
}

impl CheckResult {
    /// What was observed, for messages: `false (connection refused)`, or `nothing`.
    pub fn got(&self) -> String {
        match (&self.actual, &self.note) {
            (Some(actual), Some(note)) => format!("{actual} ({note})"),
            (Some(actual), None) => actual.clone(),
            (None, _) => "nothing".into(),
        }
    }

    /// `kind id`, or the title.
    pub fn resource_name(&self) -> String {
        self.title
            .clone()
            .unwrap_or_else(|| format!("{} {}", self.kind, self.id))
    }
}

/// Counts of outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Checks that held.
    pub passed: usize,
    /// Checks that did not hold.
    pub failed: usize,
    /// Checks not made.
    pub skipped: usize,
    /// Checks that could not be made.
    pub errored: usize,
    /// Wall time of the run.
    pub duration: Duration,
}

impl Summary {
    /// Adds one result.
    pub fn count(&mut self, r: &CheckResult) {
        match r.outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::Fail => self.failed += 1,
            Outcome::Skip(_) => self.skipped += 1,
            Outcome::Error(_) => self.errored += 1,
        }
    }

    /// Returns true if and only if no check failed or errored.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.errored == 0
    }

    /// All checks counted.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.skipped + self.errored
    }
}
