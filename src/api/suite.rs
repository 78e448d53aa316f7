//! [`Run::suite`]: a suite file's targets, each with its own specs, on the suite's
//! private network and started in `after` order, as `ispec run --suite` does.

use std::path::Path;
use std::sync::Arc;

use super::{Report, Run, RunError};
use crate::backend::docker::{Owned, network};
use crate::backend::{self, ConnectError, ConnectOptions, TargetSpec};
use crate::fleet::{self, Job, Step};
use crate::gather::Mode;
use crate::host::Host;
use crate::plan::{Filter, Plan, SuitePlan};
use crate::spec::load_suite_with;

/// A suite loaded: each target with its plan, and its `[defaults] within`.
pub(super) struct Loaded {
    pub(super) targets: Vec<SuitePlan>,
    pub(super) within: Option<std::time::Duration>,
}

impl Run {
    /// Loads the suite at `path` and every spec it names, touching no target.
    pub(super) fn load_suite(&self, path: &Path) -> Result<Loaded, RunError> {
        let suite = load_suite_with(path, &self.vars).map_err(RunError::Spec)?;
        Ok(Loaded {
            targets: Plan::for_suite(&suite, &Filter::default(), &self.vars)
                .map_err(RunError::Spec)?,
            within: suite.defaults.within,
        })
    }

    /// The suite file, if this run checks one.
    pub(crate) fn suite_path(&self) -> Option<&Path> {
        self.suite.as_deref()
    }

    /// Each checked target of the suite, as reports name it, with its plan.
    pub(crate) fn suite_plans(&self) -> Result<Vec<(String, Plan)>, RunError> {
        let path = self.suite_path().unwrap_or(Path::new("ispec.toml"));
        self.suite_alone()?;
        let loaded = self.load_suite(path)?;
        Ok(loaded
            .targets
            .into_iter()
            .filter(|t| t.target.checked)
            .map(|t| (t.target.name, t.plan))
            .collect())
    }

    /// [`Run::execute`] of a suite, without giving up the run.
    pub(crate) fn execute_suite_now(&self) -> Result<Report, RunError> {
        self.suite_alone()?;
        self.execute_suite(self.suite_path().unwrap_or(Path::new("ispec.toml")))
    }

    /// Runs a suite: its image targets on a private network, every target reached in
    /// `after` order, all checked, everything started removed.
    pub(super) fn execute_suite(&self, path: &Path) -> Result<Report, RunError> {
        let mut loaded = self.load_suite(path)?;
        let owned = Arc::new(Owned::new());
        let _finish = owned.finish_on_drop();
        let images = loaded
            .targets
            .iter_mut()
            .filter_map(|t| match &mut t.target.target {
                TargetSpec::Image(spec) => {
                    spec.labels.extend(self.labels.iter().cloned());
                    Some(spec.as_mut())
                }
                _ => None,
            });
        network::join(&owned, &self.labels, images).map_err(RunError::Unreachable)?;
        let steps: Vec<Step> = loaded
            .targets
            .iter()
            .map(|t| Step {
                after: t.after.clone(),
                // As the command does: hosts are still tried, to name each one down.
                held_back_by_failure: matches!(t.target.target, TargetSpec::Image(_)),
            })
            .collect();
        let options = ConnectOptions::default();
        let reached = fleet::in_order(&steps, self.options().parallel, |i| {
            backend::reach(&loaded.targets[i].target.target, &options, &owned, &|_| {})
        });
        let mut jobs = Vec::new();
        for (SuitePlan { target, plan, .. }, reached) in loaded.targets.into_iter().zip(reached) {
            match reached {
                Some(Ok(backend)) => jobs.push(Job {
                    plan,
                    // Named as the suite names it, for `when = "target == ..."`.
                    host: Host::gathering(
                        backend,
                        self.gather.unwrap_or(Mode::Probe),
                        self.options().jobs,
                    )
                    .named_in_suite(&target.name, &target.target),
                }),
                Some(Err(ConnectError::Backend(e))) => return Err(RunError::Unreachable(e)),
                Some(Err(other)) => return Err(RunError::BadTarget(other.to_string())),
                // Not begun: an earlier failure is returned above, in target order.
                None => {}
            }
        }
        let mut opts = self.options();
        opts.within = opts.within.or(loaded.within);
        super::check_all(&jobs, &opts)
    }
}
