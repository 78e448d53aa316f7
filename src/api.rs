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

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::backend::docker::{ContainerSpec, Owned};
use crate::backend::{self, Backend, BackendError, ConnectError, ConnectOptions, TargetSpec};
use crate::fleet::{self, Job};
use crate::gather::Mode;
use crate::host::{Host, Stats};
use crate::plan::{Filter, Plan};
use crate::report::Reporter;
use crate::run::{CheckResult, Outcome, RunOptions, Summary};
use crate::spec::{Spec, SpecErrors};

/// Where checks run: a planned target and how to reach it, as the `ispec` command
/// line has them.
#[derive(Clone, Debug)]
pub struct Target {
    spec: TargetSpec,
    options: ConnectOptions,
}

impl Target {
    fn of(spec: TargetSpec) -> Self {
        Self {
            spec,
            options: ConnectOptions::default(),
        }
    }

    /// The machine this program runs on.
    pub fn local() -> Self {
        Self::of(TargetSpec::Uri("local".into()))
    }

    /// A running Docker container, by name or id (`docker://NAME`).
    pub fn container(name_or_id: impl Into<String>) -> Self {
        Self::of(TargetSpec::Uri(format!("docker://{}", name_or_id.into())))
    }

    /// A throwaway container started from `image`, made ready (its `HEALTHCHECK`,
    /// when it has one; see [`Target::wait_port`]) and removed when the run ends.
    pub fn image(image: impl Into<String>) -> Self {
        Self::image_with(ContainerSpec {
            image: image.into(),
            ..ContainerSpec::default()
        })
    }

    /// A throwaway container described in full (environment, ports, volumes, ...).
    pub fn image_with(spec: ContainerSpec) -> Self {
        Self::of(TargetSpec::Image(Box::new(spec)))
    }

    /// A host over SSH: `ssh://[USER@]HOST[:PORT]` (or `[USER@]HOST[:PORT]`), logged in
    /// as the `ispec` command line would (agent, `~/.ssh` keys, `~/.ssh/config`).
    pub fn ssh(uri: impl Into<String>) -> Self {
        let uri = uri.into();
        let uri = if uri.starts_with("ssh://") {
            uri
        } else {
            format!("ssh://{uri}")
        };
        Self::of(TargetSpec::Uri(uri))
    }

    /// Runs a container target's checks as `user` (`docker exec --user`).
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> Self {
        match &mut self.spec {
            TargetSpec::Image(spec) => spec.user = Some(user.into()),
            _ => self.options.user = Some(user.into()),
        }
        self
    }

    /// A throwaway container is ready once something listens on `port` in it.
    #[must_use]
    pub fn wait_port(mut self, port: u16) -> Self {
        if let TargetSpec::Image(spec) = &mut self.spec {
            spec.wait.port = Some(port);
        }
        self
    }

    /// A throwaway container also carries the label `KEY=VALUE` (as `--label`).
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        if let TargetSpec::Image(spec) = &mut self.spec {
            spec.labels.push(label.into());
        }
        self
    }

    /// An SSH target logs in with this key file first.
    #[must_use]
    pub fn identity(mut self, key: impl Into<PathBuf>) -> Self {
        self.options.ssh.identities.push(key.into());
        self
    }

    /// An SSH target checks host keys against this file instead of
    /// `~/.ssh/known_hosts`.
    #[must_use]
    pub fn known_hosts(mut self, file: impl Into<PathBuf>) -> Self {
        self.options.ssh.known_hosts = Some(file.into());
        self
    }

    /// An SSH target whose host key is not known yet is trusted and recorded.
    #[must_use]
    pub fn accept_new_host_key(mut self) -> Self {
        self.options.ssh.accept_new_host_keys = true;
        self
    }

    /// An SSH target runs its checks through `sudo`.
    #[must_use]
    pub fn sudo(mut self) -> Self {
        self.options.ssh.sudo = true;
        self
    }

    /// The target as reports name it: `local`, `docker://NAME`, `image:IMAGE`, `ssh://…`.
    pub fn name(&self) -> String {
        self.spec.name()
    }

    /// Reaches the target (starting a throwaway container, registered in `owned`).
    fn connect(&self, owned: &Arc<Owned>) -> Result<Box<dyn Backend>, RunError> {
        backend::reach(&self.spec, &self.options, owned, &|_| {}).map_err(|e| match e {
            ConnectError::Backend(e) => RunError::Unreachable(e),
            other => RunError::BadTarget(other.to_string()),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

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

    /// How facts are gathered (default: the probe; see the book's performance
    /// chapter).
    #[must_use]
    pub fn gather(mut self, mode: Mode) -> Self {
        self.gather = Some(mode);
        self
    }

    /// Loads the specs and builds the plan, touching no target.
    pub fn plan(&self) -> Result<Plan, RunError> {
        if !self.dsl_errors.is_empty() {
            return Err(RunError::Spec(SpecErrors(self.dsl_errors.clone())));
        }
        if self.files.is_empty() && self.specs.is_empty() {
            return Err(RunError::NoSpecs);
        }
        let mut plan = if self.files.is_empty() {
            Plan::default()
        } else {
            let loaded = crate::spec::load(&self.files).map_err(RunError::Spec)?;
            Plan::build(loaded, &Filter::default())
        };
        for more in &self.specs {
            plan.decls.extend(more.decls.iter().cloned());
            plan.files.extend(more.files.iter().cloned());
        }
        Ok(plan)
    }

    /// The options checks run with.
    pub(crate) fn options(&self) -> RunOptions {
        RunOptions {
            jobs: self.jobs.unwrap_or(8),
            timeout: self.timeout.unwrap_or(Duration::from_secs(30)),
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
        let plan = self.plan()?;
        let targets = self.targets();
        let owned = Arc::new(Owned::new());
        let _finish = owned.finish_on_drop();
        let opts = self.options();
        let mut jobs = Vec::new();
        for target in &targets {
            jobs.push(self.job(target, &plan, &owned)?);
        }
        let mut collect = Collect::default();
        let summary = fleet::execute(&jobs, &opts, &mut collect)
            .map_err(|e| RunError::BadTarget(format!("the run stopped: {e}")))?;
        let mut targets = Vec::new();
        for job in &jobs {
            job.host.close();
            targets.push((job.host.target().to_string(), job.host.stats()));
        }
        Ok(Report {
            results: collect.0,
            summary,
            targets,
        })
    }
}

/// Keeps every result, in order.
#[derive(Default)]
pub(crate) struct Collect(pub(crate) Vec<CheckResult>);

impl Reporter for Collect {
    fn start(&mut self, _total: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn resource(&mut self, results: &[CheckResult]) -> std::io::Result<()> {
        self.0.extend_from_slice(results);
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
