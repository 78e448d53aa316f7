//! Runs a plan against a host: resources observed in parallel (bounded by `jobs`),
//! checks judged locally, results handed to the reporter in plan order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::gather::{Ask, Fact, Mode};
use crate::host::{Host, Phase};
use crate::os::OsInfo;
use crate::plan::Plan;
use crate::report::Reporter;
use crate::spec::Declared;

mod attempt;
mod result;

pub use attempt::check_resource;
use attempt::{check_guarded, unobserved};
pub use result::{CheckResult, Outcome, Summary};

/// How a run behaves.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// How many resources are observed at once on one target.
    pub jobs: usize,
    /// How many targets are checked at once ([`crate::fleet::execute`]); each has
    /// its own `jobs`.
    pub parallel: usize,
    /// The time limit for observing one resource, unless its spec sets `timeout`.
    pub timeout: Duration,
    /// The longest pause between attempts of a resource with `within`: pauses start
    /// at [`FIRST_PAUSE`] and double up to this (never less than [`FIRST_PAUSE`]).
    pub retry_interval: Duration,
    /// `within` for resources whose spec does not set one (a suite's `[defaults]`,
    /// `--within`); `None`: such resources are observed once.
    pub within: Option<Duration>,
    /// How many of its last lines of output a target whose checks did not all hold
    /// shows in the report (a container's; hosts have none to show); 0: none.
    pub output_lines: usize,
}

/// The first pause between attempts of a resource with `within`.
pub const FIRST_PAUSE: Duration = Duration::from_millis(200);

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            jobs: 8,
            parallel: 8,
            timeout: Duration::from_secs(30),
            retry_interval: Duration::from_secs(2),
            within: None,
            output_lines: 20,
        }
    }
}

/// Checks every resource of `plan` on `host`, streaming results to `out` in plan order;
/// `out` also hears of each resource as soon as it is judged ([`Reporter::progress`]).
pub fn execute(
    plan: &Plan,
    host: &Host,
    opts: &RunOptions,
    out: &mut dyn Reporter,
) -> std::io::Result<Summary> {
    let started = Instant::now();
    prefetch(&plan.decls, host, opts);
    host.add_phase(Phase::Gather, started.elapsed());
    let judging = Instant::now();
    let decls: Arc<Vec<Arc<Declared>>> = Arc::new(plan.decls.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<(usize, Vec<CheckResult>)>();
    for _ in 0..opts.jobs.clamp(1, decls.len().max(1)) {
        let (decls, next, tx, host, opts) = (
            Arc::clone(&decls),
            Arc::clone(&next),
            tx.clone(),
            host.clone(),
            opts.clone(),
        );
        thread::spawn(move || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(decl) = decls.get(i) else { break };
                if tx.send((i, check_guarded(decl, &host, &opts))).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut summary = Summary::default();
    let mut pending = BTreeMap::new();
    let mut emitted = 0;
    for (i, results) in rx {
        out.progress(&results);
        pending.insert(i, results);
        while let Some(results) = pending.remove(&emitted) {
            for r in &results {
                summary.count(r);
            }
            out.resource(&results)?;
            emitted += 1;
        }
    }
    // A resource whose result never came (its thread died) is an error, never left out.
    for decl in decls.iter().skip(emitted) {
        let results = pending.remove(&emitted).unwrap_or_else(|| {
            let why = Outcome::Error("ispec bug: this resource was never checked".into());
            unobserved(decl, host, &why, judging)
        });
        for r in &results {
            summary.count(r);
        }
        out.resource(&results)?;
        emitted += 1;
    }
    host.add_phase(Phase::Judge, judging.elapsed());
    summary.duration = started.elapsed();
    Ok(summary)
}

/// The facts `decl` names for its checks. A resource with a time limit of its own
/// keeps its programs out of the bulk (they run alone, with that limit).
fn facts_of(
    decl: &Declared,
    os: Option<&OsInfo>,
    host: Option<&Host>,
    opts: &RunOptions,
) -> Vec<Fact> {
    if decl.skip {
        return Vec::new();
    }
    // A condition's facts come first; the resource's only once it is known to hold
    // (a skipped resource's facts are never gathered).
    let mut when_facts = Vec::new();
    if let Some(when) = &decl.when {
        let Some(host) = host else {
            return when.facts(crate::backend::Transport::Other);
        };
        when_facts = when.facts(host.transport());
        let known = when_facts.iter().all(|f| host.knows(f));
        if !(known && matches!(when.skip_reason(host), Ok(None))) {
            return when_facts;
        }
    }
    let mut facts = own_facts(decl, os, host, decl.timeout.unwrap_or(opts.timeout));
    facts.extend(when_facts);
    facts
}

/// The facts the resource itself names, without its condition's, for an attempt
/// with time limit `timeout` (some facts carry it, and must be asked with the limit
/// the resource's probe will look them up by).
fn own_facts(
    decl: &Declared,
    os: Option<&OsInfo>,
    host: Option<&Host>,
    timeout: Duration,
) -> Vec<Fact> {
    let wanted: Vec<&'static str> = decl.checks.iter().map(|c| c.prop.name).collect();
    let ask = Ask { os, timeout, host };
    let mut facts = decl.resource.facts(&wanted, &ask);
    if decl.timeout.is_some() {
        facts.retain(|f| !matches!(f, Fact::Run(_)));
    }
    facts
}

/// Gathers the facts of every resource in bulk: a first round, then a second for
/// facts that depend on the first round's (the target's OS, its init system). A
/// second round that names nothing new costs nothing.
fn prefetch(decls: &[Arc<Declared>], host: &Host, opts: &RunOptions) {
    if matches!(host.mode(), Mode::Local | Mode::PerFact) {
        return;
    }
    let host = host.with_timeout(opts.timeout);
    host.prefetch(decls.iter().flat_map(|d| facts_of(d, None, None, opts)));
    let os = known_os(&host);
    host.prefetch(
        decls
            .iter()
            .flat_map(|d| facts_of(d, os.as_ref(), Some(&host), opts)),
    );
}

/// The OS, when the memo has it without a round trip.
fn known_os(host: &Host) -> Option<OsInfo> {
    host.knows(&Fact::Read(crate::os::OS_RELEASE.into()))
        .then(|| host.os().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::attempt::{guarded, hopeless, judge};
    use super::*;
    use crate::host::ProbeError;
    use crate::resource::Observed;
    use crate::spec::load_str;

    /// The plan of a spec written here.
    fn plan_of(text: &str) -> Plan {
        Plan::build(
            load_str(Path::new("spec.toml"), text).unwrap(),
            &crate::plan::Filter::default(),
        )
    }

    /// A resource kind with a bug: its probe panics.
    #[derive(Debug)]
    struct Panics;

    impl crate::resource::Resource for Panics {
        fn probe(&self, _host: &Host, _wanted: &[&'static str]) -> Result<Observed, ProbeError> {
            panic!("a bug in a resource kind")
        }
    }

    #[test]
    fn a_probe_that_panics_is_an_error_and_the_others_are_still_reported() {
        let mut plan = plan_of(
            "[command.\"true\"]\nexit-status = 0\n\n[command.\"false\"]\nexit-status = 0\n",
        );
        let mut buggy = Arc::try_unwrap(plan.decls.remove(0)).expect("the plan's own");
        buggy.resource = Arc::new(Panics);
        buggy.id = "buggy".into();
        plan.decls.insert(0, Arc::new(buggy));
        let mut kept = crate::api::Collect::default();
        let summary = execute(&plan, &Host::local(), &RunOptions::default(), &mut kept).unwrap();
        let seen: Vec<(&str, &Outcome)> = kept
            .results
            .iter()
            .map(|r| (r.id.as_str(), &r.outcome))
            .collect();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0].0, "buggy");
        assert!(
            matches!(seen[0].1, Outcome::Error(why) if why.contains("the probe panicked: a bug in a resource kind")),
            "{seen:?}"
        );
        assert_eq!(seen[1], ("false", &Outcome::Fail));
        assert_eq!((summary.errored, summary.failed, summary.passed), (1, 1, 0));
    }

    #[test]
    fn a_check_that_panics_is_an_error_for_each_of_its_properties() {
        let plan = plan_of("[command.\"true\"]\nexit-status = 0\nstdout = \"\"\n");
        let results = guarded(&plan.decls[0], &Host::local(), || {
            panic!("deadline out of range")
        });
        assert_eq!(results.len(), 2);
        for r in results {
            assert!(
                matches!(&r.outcome, Outcome::Error(why) if why.contains("panicked: deadline out of range")),
                "{r:?}"
            );
        }
    }

    #[test]
    fn a_target_that_is_gone_is_not_retried() {
        let plan = plan_of("[command.\"true\"]\nexit-status = 0\n");
        let decl = &plan.decls[0];
        let host = Host::local();
        let after = |e: ProbeError| {
            let seen = Err(e);
            let results = judge(decl, &host, &seen, 1, Instant::now());
            hopeless(decl, &seen, &results)
        };
        assert!(after(ProbeError::Gone(
            "cannot reach `docker://web`: the container is gone".into()
        )));
        assert!(after(ProbeError::ToolMissing("curl".into())));
        assert!(!after(ProbeError::Failed("connection reset".into())));
        assert!(!after(ProbeError::Timeout(Duration::from_secs(1))));
    }
}
