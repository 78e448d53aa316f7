//! ispec under `cargo test`: every check becomes a [libtest-mimic] trial named
//! `TARGET::KIND::ID::PROPERTY`, so `cargo test -- --list`, name filters,
//! `--ignored`, `--test-threads` and `--format` work as Rust developers expect.
//!
//! In `Cargo.toml`:
//!
//! ```toml
//! [[test]]
//! name = "image"
//! harness = false
//! ```
//!
//! and in `tests/image.rs`:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     ispec::harness::Harness::from_args()
//!         .target(ispec::Target::image("web:candidate").wait_port(80))
//!         .spec_file("specs/web.toml")
//!         .run()
//! }
//! ```
//!
//! A target is reached, and its checks made all at once (one gathering for all of
//! them), when the first of its trials runs; a target none of whose trials is
//! selected is never touched. Checks a spec skips (`skip = true`) are ignored
//! trials. A failure prints what was expected, what was found, and where the check
//! was written. Throwaway containers are removed before [`Harness::run`] returns.
//!
//! [libtest-mimic]: https://docs.rs/libtest-mimic

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};

use crate::api::Collect;
use crate::backend::docker::Owned;
use crate::run::{CheckResult, Outcome};
use crate::spec::Spec;
use crate::{Run, Target, fleet};

/// A test harness for specs: targets, specs, then [`Harness::run`].
#[derive(Debug)]
pub struct Harness {
    args: Arguments,
    run: Run,
}

/// The results of one target, made once for all its trials.
type Results = Arc<OnceLock<Result<Checked, String>>>;

/// One target's results, and its last output if its checks did not all hold.
struct Checked {
    results: Vec<CheckResult>,
    output: Vec<String>,
}

impl Harness {
    /// A harness reading the test binary's command line (`cargo test -- ARGS`).
    pub fn from_args() -> Self {
        Self::new(Arguments::from_args())
    }

    /// A harness with the given arguments.
    pub fn new(args: Arguments) -> Self {
        Self {
            args,
            run: Run::new(),
        }
    }

    /// Adds a target; with none, the local machine is checked.
    #[must_use]
    pub fn target(mut self, target: Target) -> Self {
        self.run = self.run.target(target);
        self
    }

    /// Adds a spec file, or a folder of them.
    #[must_use]
    pub fn spec_file(mut self, path: impl AsRef<Path>) -> Self {
        self.run = self.run.spec_file(path);
        self
    }

    /// Checks the targets of a suite file, each against its own specs ([`Run::suite`]).
    /// The whole suite is started, checked and removed when the first of its selected
    /// trials runs: its services need each other up.
    #[must_use]
    pub fn suite(mut self, path: impl AsRef<Path>) -> Self {
        self.run = self.run.suite(path);
        self
    }

    /// Adds a label (`KEY=value`) to every throwaway container the harness starts
    /// and to a suite's network, e.g. the CI job's.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.run = self.run.label(label);
        self
    }

    /// Gives `${name}` in spec files this value, over the environment.
    #[must_use]
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.run = self.run.var(name, value);
        self
    }

    /// Adds specs loaded or built in Rust.
    #[must_use]
    pub fn spec(mut self, spec: Spec) -> Self {
        self.run = self.run.spec(spec);
        self
    }

    /// Adds resources written in Rust ([`crate::dsl`]); what the compiler could not
    /// check is reported, with the call site, before any trial runs.
    #[must_use]
    pub fn resources<R: Into<crate::dsl::Resource>>(
        mut self,
        resources: impl IntoIterator<Item = R>,
    ) -> Self {
        self.run = self.run.resources(resources);
        self
    }

    /// How many resources are observed at once on each target.
    #[must_use]
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.run = self.run.jobs(jobs);
        self
    }

    /// How many of its last lines of output a failing container shows under its
    /// first failing trial (default 20; 0: none).
    #[must_use]
    pub fn tail(mut self, lines: usize) -> Self {
        self.run = self.run.tail(lines);
        self
    }

    /// The time limit for observing one resource.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.run = self.run.timeout(timeout);
        self
    }

    /// The trials, one per check and target, named `TARGET::KIND::ID::PROPERTY`.
    /// Bad specs are an error before any trial exists.
    pub fn trials(&self) -> Result<Vec<Trial>, crate::RunError> {
        self.trials_with(&Arc::new(Owned::new()))
    }

    fn trials_with(&self, owned: &Arc<Owned>) -> Result<Vec<Trial>, crate::RunError> {
        if self.run.suite_path().is_some() {
            return self.suite_trials();
        }
        // One plan shared by every trial (a clone per trial is quadratic).
        let plan = Arc::new(self.run.plan()?);
        let run = Arc::new(self.run.clone());
        let mut trials = Vec::new();
        for target in self.run.targets() {
            let results: Results = Arc::default();
            let name = target.name();
            let mut index = 0;
            for decl in &plan.decls {
                for check in &decl.checks {
                    let (run, target, plan, owned, results) = (
                        Arc::clone(&run),
                        target.clone(),
                        Arc::clone(&plan),
                        Arc::clone(owned),
                        Arc::clone(&results),
                    );
                    let at = index;
                    let conditional = decl.when.is_some();
                    let trial = Trial::test(
                        format!(
                            "{name}::{}::{}::{}",
                            decl.kind.key, decl.id, check.prop.name
                        ),
                        move || {
                            let all = results.get_or_init(|| {
                                check_target(&run, &target, &plan, &owned)
                                    .map_err(|e| e.to_string())
                            });
                            match all {
                                Ok(all) => {
                                    let results: Vec<&CheckResult> = all.results.iter().collect();
                                    verdict_at(&results, at, conditional, &all.output)
                                }
                                Err(why) => Err(Failed::from(format!(
                                    "{} is unreachable: {why}",
                                    target.name()
                                ))),
                            }
                        },
                    )
                    .with_kind(decl.kind.key)
                    .with_ignored_flag(decl.skip);
                    trials.push(trial);
                    index += 1;
                }
            }
        }
        Ok(trials)
    }

    /// A suite's trials: one per check of each checked target, all answered by one
    /// run of the whole suite.
    fn suite_trials(&self) -> Result<Vec<Trial>, crate::RunError> {
        let loaded = self.run.suite_plans()?;
        let run = Arc::new(self.run.clone());
        let all: Arc<OnceLock<Result<crate::Report, String>>> = Arc::default();
        let mut trials = Vec::new();
        for (target, plan) in loaded {
            let mut index = 0;
            for decl in &plan.decls {
                for check in &decl.checks {
                    let (run, all, target, at) =
                        (Arc::clone(&run), Arc::clone(&all), target.clone(), index);
                    let conditional = decl.when.is_some();
                    let trial = Trial::test(
                        format!(
                            "{target}::{}::{}::{}",
                            decl.kind.key, decl.id, check.prop.name
                        ),
                        move || {
                            let report = all
                                .get_or_init(|| run.execute_suite_now().map_err(|e| e.to_string()));
                            let report = report.as_ref().map_err(|why| {
                                Failed::from(format!("the suite could not run: {why}"))
                            })?;
                            let results: Vec<&CheckResult> = report
                                .results
                                .iter()
                                .filter(|r| r.target == target)
                                .collect();
                            let output = report
                                .output
                                .iter()
                                .find(|(t, _)| *t == target)
                                .map_or(&[][..], |(_, lines)| lines.as_slice());
                            if results.is_empty() {
                                return Err(Failed::from(format!("{target} was not checked")));
                            }
                            verdict_at(&results, at, conditional, output)
                        },
                    )
                    .with_kind(decl.kind.key)
                    .with_ignored_flag(decl.skip);
                    trials.push(trial);
                    index += 1;
                }
            }
        }
        Ok(trials)
    }

    /// Runs the selected trials and returns the exit code `cargo test` expects: 0
    /// when every selected trial passed, 101 otherwise (also for bad specs, which are
    /// printed first).
    pub fn run(self) -> ExitCode {
        let owned = Arc::new(Owned::new());
        let _finish = owned.finish_on_drop();
        match self.trials_with(&owned) {
            Ok(trials) => libtest_mimic::run(&self.args, trials).exit_code(),
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(101)
            }
        }
    }
}

/// Reaches `target` and makes every check of `plan` there.
fn check_target(
    run: &Run,
    target: &Target,
    plan: &crate::plan::Plan,
    owned: &Arc<Owned>,
) -> Result<Checked, crate::RunError> {
    let job = run.job(target, plan, owned)?;
    let mut collect = Collect::default();
    fleet::execute_and_close(std::slice::from_ref(&job), &run.options(), &mut collect)
        .map_err(|e| crate::RunError::BadTarget(format!("the run stopped: {e}")))?;
    Ok(Checked {
        output: collect
            .output
            .pop()
            .map(|(_, lines)| lines)
            .unwrap_or_default(),
        results: collect.results,
    })
}

/// The verdict of the check at `at` among one target's `results`. The first of
/// them that did not hold also shows the target's last `output`, once, where a
/// reader of the failures looks first.
fn verdict_at(
    results: &[&CheckResult],
    at: usize,
    conditional: bool,
    output: &[String],
) -> Result<(), Failed> {
    let Some(r) = results.get(at) else {
        return Err(Failed::from("ispec bug: a check's result is missing"));
    };
    let first_bad = results
        .iter()
        .position(|r| matches!(r.outcome, Outcome::Fail | Outcome::Error(_)));
    match verdict(r, conditional) {
        Err(failed) if first_bad == Some(at) && !output.is_empty() => Err(Failed::from(format!(
            "{}\n  last output of {}:\n    {}",
            failed.message().unwrap_or_default(),
            r.target,
            output.join("\n    ")
        ))),
        verdict => verdict,
    }
}

/// A check's result as a trial's.
/// A check of a resource with a `when` that does not hold on the target does not
/// apply there: its trial passes, as the `ispec` command's exit code does (libtest-mimic
/// cannot ignore a trial once it runs). Any other skip fails, naming why.
fn verdict(r: &CheckResult, conditional: bool) -> Result<(), Failed> {
    let at = format!("at {}", r.location.short());
    match &r.outcome {
        Outcome::Pass => Ok(()),
        Outcome::Fail => Err(Failed::from(format!(
            "{}: expected {}, got {}\n  {at}",
            r.property,
            r.expected,
            r.got()
        ))),
        Outcome::Error(why) => Err(Failed::from(format!(
            "{}: error: {why}\n  {at}",
            r.property
        ))),
        Outcome::Skip(_) if conditional => Ok(()),
        Outcome::Skip(why) => Err(Failed::from(format!(
            "{}: not checked: {why}\n  {at}",
            r.property
        ))),
    }
}
