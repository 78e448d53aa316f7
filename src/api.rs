//! The library's front door: pick targets, give specs, run, read typed results —
//! no command line, nothing printed.
//!
//! ```
//! use ispec::{Run, Target};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let spec = dir.path().join("base.toml");
//! std::fs::write(&spec, "[file.\"/\"]\ntype = \"directory\"\n\n[file.\"/no/such\"]\nexists = true\n").unwrap();
//!
//! let report = Run::new().target(Target::local()).spec_file(&spec).execute().unwrap();
//! assert_eq!(report.summary.passed, 1);
//! assert_eq!(report.summary.failed, 1);
//! let failed = report.failures().next().unwrap();
//! assert_eq!((failed.id.as_str(), failed.property), ("/no/such", "exists"));
//! assert_eq!(failed.location.line, 5);
//! assert!(!report.ok());
//! ```
//!
//! Everything a [`Run`] starts (throwaway containers) it removes before
//! [`Run::execute`] returns. A `Run` holds no global state, so several may run at once
//! on different threads.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::backend::BackendError;
use crate::backend::docker::Owned;
use crate::fleet::{self, Job};
use crate::gather::Mode;
use crate::host::{Host, Stats};
use crate::plan::{Filter, Plan};
use crate::report::Reporter;
use crate::run::{CheckResult, Outcome, RunOptions, Summary};
use crate::spec::{Spec, SpecErrors};

mod suite;
mod target;

pub use target::Target;

/// Why a run could not be made (a check that fails is a result, not this).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The specs are wrong: each error names the file, line and what to change.
    #[error("{0}")]
    Spec(SpecErrors),
    /// A target is malformed, e.g. an `ssh://` URI with no host.
    #[error("{0}")]
    BadTarget(String),
    /// A target could not be reached or set up (daemon down, login refused, image
    /// missing).
    #[error("{0}")]
    Unreachable(BackendError),
    /// Nothing to check: no spec was given.
    #[error("no specs: give a spec file or resources to check")]
    NoSpecs,
}

impl RunError {
    /// The exit code the `ispec` command would end with: 2 for specs and targets
    /// written wrong, 3 for targets that cannot be reached.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Unreachable(_) => crate::exit::Exit::UNREACHABLE,
            _ => crate::exit::Exit::INVALID,
        }
    }
}

/// Checks to make: specs × targets, and how.
#[derive(Clone, Debug, Default)]
pub struct Run {
    targets: Vec<Target>,
    files: Vec<PathBuf>,
    specs: Vec<Plan>,
    /// What was wrong with resources built in Rust, told when the run is planned.
    dsl_errors: Vec<crate::spec::SpecError>,
    jobs: Option<usize>,
    timeout: Option<Duration>,
    gather: Option<Mode>,
    /// How many lines of a failing container's output [`Report::output`] holds.
    tail: Option<usize>,
    /// The values of `${NAME}` in spec files: the environment, and [`Run::var`].
    vars: crate::spec::Vars,
    /// A suite file, whose targets and specs replace [`Run::target`] and the specs.
    suite: Option<PathBuf>,
    /// Labels for every throwaway container (and a suite's network), `KEY=value`.
    labels: Vec<String>,
}

impl Run {
    /// A run with no targets (the local machine, unless one is added) and no specs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a target; with none, the local machine is checked.
    #[must_use]
    pub fn target(mut self, target: Target) -> Self {
        self.targets.push(target);
        self
    }

    /// Adds a spec file, or a folder of them (`*.toml`, recursively).
    #[must_use]
    pub fn spec_file(mut self, path: impl AsRef<Path>) -> Self {
        self.files.push(path.as_ref().to_path_buf());
        self
    }

    /// Checks the targets of a suite file (`ispec.toml`), each against its own specs,
    /// as `ispec run --suite FILE` does: image targets on a private network of the
    /// run where each answers to its target name, started in `after` order, the
    /// suite's `[defaults] within` applied. A suite names its own targets and specs:
    /// with [`Run::target`], [`Run::spec_file`] or resources, planning is an error.
    #[must_use]
    pub fn suite(mut self, path: impl AsRef<Path>) -> Self {
        self.suite = Some(path.as_ref().to_path_buf());
        self
    }

    /// Adds a label (`KEY=value`, e.g. the CI job's) to every throwaway container the
    /// run starts and to a suite's network, as `ispec run --label` does.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.labels.push(label.into());
        self
    }

    /// Gives `${name}` in spec files this value, over the environment (as `--var`).
    #[must_use]
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.set(name, value);
        self
    }

    /// Adds specs already loaded ([`crate::spec::load`]) or built in Rust.
    #[must_use]
    pub fn spec(mut self, spec: Spec) -> Self {
        self.specs.push(Plan::build(spec, &Filter::default()));
        self
    }

    /// Adds resources written in Rust ([`crate::dsl`]). What the compiler could not
    /// check (a regex, an id) is an error of [`Run::plan`] naming the call site.
    #[must_use]
    pub fn resources<R: Into<crate::dsl::Resource>>(
        mut self,
        resources: impl IntoIterator<Item = R>,
    ) -> Self {
        match crate::dsl::build(resources) {
            Ok(spec) => self.specs.push(Plan::build(spec, &Filter::default())),
            Err(errors) => self.dsl_errors.extend(errors.0),
        }
        self
    }

    /// How many resources are observed at once on each target (default 8).
    #[must_use]
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = Some(jobs.max(1));
        self
    }

    /// The time limit for observing one resource (default 30 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How many of its last lines of output a container whose checks did not all
    /// hold hands over in [`Report::output`] (default 20; 0: none).
    #[must_use]
    pub fn tail(mut self, lines: usize) -> Self {
        self.tail = Some(lines);
        self
    }

    /// How facts are gathered (default: the probe; see the book's performance
    /// chapter).
    #[must_use]
    pub fn gather(mut self, mode: Mode) -> Self {
        self.gather = Some(mode);
        self
    }

    /// Loads the specs and builds the plan, touching no target. For a suite: every
    /// spec of every target, checked, in one plan.
    pub fn plan(&self) -> Result<Plan, RunError> {
        if !self.dsl_errors.is_empty() {
            return Err(RunError::Spec(SpecErrors(self.dsl_errors.clone())));
        }
        if let Some(path) = &self.suite {
            self.suite_alone()?;
            let loaded = self.load_suite(path)?;
            let mut plan = Plan::default();
            for more in loaded.targets {
                plan.decls.extend(more.plan.decls);
                plan.files.extend(more.plan.files);
            }
            return Ok(plan);
        }
        if self.files.is_empty() && self.specs.is_empty() {
            return Err(RunError::NoSpecs);
        }
        let mut plan = if self.files.is_empty() {
            Plan::default()
        } else {
            let loaded = crate::spec::load_with(&self.files, &self.vars).map_err(RunError::Spec)?;
            Plan::build(loaded, &Filter::default())
        };
        for more in &self.specs {
            plan.decls.extend(more.decls.iter().cloned());
            plan.files.extend(more.files.iter().cloned());
        }
        Ok(plan)
    }

    /// A suite names its own targets and specs: nothing else may be given with it.
    pub(crate) fn suite_alone(&self) -> Result<(), RunError> {
        if self.targets.is_empty() && self.files.is_empty() && self.specs.is_empty() {
            Ok(())
        } else {
            Err(RunError::BadTarget(
                "a suite names its own targets and specs; give `Run::suite` alone".into(),
            ))
        }
    }

    /// The options checks run with.
    pub(crate) fn options(&self) -> RunOptions {
        RunOptions {
            jobs: self.jobs.unwrap_or(8),
            timeout: self.timeout.unwrap_or(Duration::from_secs(30)),
            output_lines: self.tail.unwrap_or(RunOptions::default().output_lines),
            ..RunOptions::default()
        }
    }

    /// The targets, the local machine when none was given.
    pub(crate) fn targets(&self) -> Vec<Target> {
        if self.targets.is_empty() {
            vec![Target::local()]
        } else {
            self.targets.clone()
        }
    }

    /// `target` reached, with `plan` to check there.
    pub(crate) fn job(
        &self,
        target: &Target,
        plan: &Plan,
        owned: &Arc<Owned>,
    ) -> Result<Job, RunError> {
        let mut target = target.clone();
        for label in &self.labels {
            target = target.label(label.clone());
        }
        let backend = target.connect(owned)?;
        Ok(Job {
            plan: plan.clone(),
            host: Host::gathering(
                backend,
                self.gather.unwrap_or(Mode::Probe),
                self.options().jobs,
            ),
        })
    }

    /// Connects every target, makes every check, removes what it started, and
    /// returns the results. A target that cannot be reached stops the run before
    /// any check (and what was started is removed).
    pub fn execute(self) -> Result<Report, RunError> {
        if let Some(path) = &self.suite {
            self.suite_alone()?;
            return self.execute_suite(path);
        }
        let plan = self.plan()?;
        let targets = self.targets();
        let owned = Arc::new(Owned::new());
        let _finish = owned.finish_on_drop();
        let opts = self.options();
        let mut jobs = Vec::new();
        for target in &targets {
            jobs.push(self.job(target, &plan, &owned)?);
        }
        check_all(&jobs, &opts)
    }
}

/// Makes every check of every job, then closes the targets (throwaway containers go
/// once every target is done: targets of one run may reach each other).
fn check_all(jobs: &[Job], opts: &RunOptions) -> Result<Report, RunError> {
    let mut collect = Collect::default();
    let summary = fleet::execute_and_close(jobs, opts, &mut collect)
        .map_err(|e| RunError::BadTarget(format!("the run stopped: {e}")))?;
    let targets = jobs
        .iter()
        .map(|job| (job.host.name().to_string(), job.host.stats()))
        .collect();
    Ok(Report {
        results: collect.results,
        summary,
        targets,
        output: collect.output,
    })
}

/// Keeps every result, in order, and the output failing targets showed.
#[derive(Default)]
pub(crate) struct Collect {
    pub(crate) results: Vec<CheckResult>,
    pub(crate) output: Vec<(String, Vec<String>)>,
}

impl Reporter for Collect {
    fn start(&mut self, _total: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn resource(&mut self, results: &[CheckResult]) -> std::io::Result<()> {
        self.results.extend_from_slice(results);
        Ok(())
    }

    fn target_output(&mut self, target: &str, lines: &[String]) -> std::io::Result<()> {
        self.output.push((target.to_string(), lines.to_vec()));
        Ok(())
    }

    fn finish(&mut self, _summary: &Summary) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a run found.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Report {
    /// Every check's result: targets in the order given, resources and properties
    /// in spec order.
    pub results: Vec<CheckResult>,
    /// The counts.
    pub summary: Summary,
    /// What each target cost (round trips, bytes, time per phase), in target order.
    pub targets: Vec<(String, Stats)>,
    /// For each container target whose checks did not all hold, the last lines it
    /// printed (standard output and error; 20, or [`Run::tail`]), oldest first; in
    /// target order.
    pub output: Vec<(String, Vec<String>)>,
}

impl Report {
    /// Returns true if and only if no check failed or errored.
    pub fn ok(&self) -> bool {
        self.summary.ok()
    }

    /// The checks that failed or could not be made.
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail | Outcome::Error(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_crosses_threads() {
        fn is<T: Send + Sync>() {}
        is::<Target>();
        is::<Run>();
        is::<Report>();
        is::<RunError>();
    }

    #[test]
    fn rust_specs_run_and_their_errors_name_the_call_site() {
        let report = Run::new()
            .resources([
                crate::dsl::user("root").uid(0),
                crate::dsl::user("root-not").uid(0),
            ])
            .execute();
        // Two users of one kind: the second does not exist here, so its uid is an
        // error result.
        let report = report.unwrap();
        let s = report.summary;
        assert_eq!((s.passed, s.failed + s.errored), (1, 1));
        assert_eq!(
            report.failures().next().unwrap().location.file.as_ref(),
            Path::new(file!())
        );
        let line = line!() + 2;
        let err = Run::new()
            .resources([crate::dsl::file("relative/path").exists(true)])
            .plan()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("{}:{line}", file!())), "{text}");
    }

    #[test]
    fn a_suite_runs_alone_with_its_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("base.toml"),
            "[file.\"/${ROOT_NAME}\"]\ntype = \"directory\"\n\n\
             [file.\"/tmp\"]\nwhen = 'target == \"here\"'\nexists = true\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("ispec.toml"),
            "[defaults]\nwithin = \"1s\"\n[vars]\nROOT_NAME = \"no-such-dir\"\n\
             [target.here]\nlocal = true\nspecs = [\"base.toml\"]\n",
        )
        .unwrap();
        let suite = dir.path().join("ispec.toml");
        let report = Run::new()
            .suite(&suite)
            .var("ROOT_NAME", "")
            .execute()
            .unwrap();
        assert!(report.ok(), "{:?}", report.results);
        // The target is named as the suite names it, in results and for conditions.
        assert_eq!(report.results[0].target, "here");
        assert_eq!(report.summary.passed, 2, "{:?}", report.results);
        // The suite's variable, and its `within`: the failing check was retried.
        let report = Run::new().suite(&suite).execute().unwrap();
        assert_eq!(report.summary.errored + report.summary.failed, 1);
        assert!(report.results[0].attempts > 1, "{:?}", report.results[0]);
        let err = Run::new()
            .suite(&suite)
            .target(Target::local())
            .plan()
            .unwrap_err();
        assert!(err.to_string().contains("give `Run::suite` alone"), "{err}");
    }

    #[test]
    fn targets_are_named_as_reports_name_them() {
        assert_eq!(Target::local().name(), "local");
        assert_eq!(Target::container("web").user("app").name(), "docker://web");
        assert_eq!(Target::image("web:1").wait_port(80).name(), "image:web:1");
        assert_eq!(
            Target::ssh("deploy@h:2222").sudo().name(),
            "ssh://deploy@h:2222"
        );
        assert_eq!(Target::ssh("ssh://h").to_string(), "ssh://h");
    }

    #[test]
    fn no_specs_and_bad_specs_are_errors_before_any_target() {
        let err = Run::new()
            .target(Target::container("ispec-no-such"))
            .execute();
        assert!(matches!(err, Err(RunError::NoSpecs)));
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[file.\"/x\"]\nmode = true\n").unwrap();
        let err = Run::new()
            .target(Target::container("ispec-no-such"))
            .spec_file(&bad)
            .execute()
            .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("bad.toml:2"), "{err}");
    }
}
