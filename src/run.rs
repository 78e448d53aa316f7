//! Runs a plan against a host: resources observed in parallel (bounded by `jobs`),
//! checks judged locally, results handed to the reporter in plan order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::gather::{Ask, Fact, Mode};
use crate::host::{Host, Phase, ProbeError};
use crate::os::OsInfo;
use crate::plan::Plan;
use crate::report::Reporter;
use crate::resource::Observed;
use crate::spec::Declared;

mod result;

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

/// [`check_resource`], with a panic turned into an error result for the resource's
/// checks: a bug in one resource kind must not drop results and let a run pass.
fn check_guarded(decl: &Arc<Declared>, host: &Host, opts: &RunOptions) -> Vec<CheckResult> {
    guarded(decl, host, || check_resource(decl, host, opts))
}

/// The results `check` gives, or, if it panics, an error for every check of `decl`.
fn guarded(
    decl: &Declared,
    host: &Host,
    check: impl FnOnce() -> Vec<CheckResult>,
) -> Vec<CheckResult> {
    let started = Instant::now();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).unwrap_or_else(|panic| {
        let why = format!(
            "ispec bug: checking this resource panicked: {} (please report it)",
            panic_message(&*panic)
        );
        unobserved(decl, host, &Outcome::Error(why), started)
    })
}

/// What a panic said, when it said it in words.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
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

/// Observes one resource (retrying while `within` allows) and judges its checks.
pub fn check_resource(decl: &Arc<Declared>, host: &Host, opts: &RunOptions) -> Vec<CheckResult> {
    let started = Instant::now();
    if decl.skip {
        return unobserved(
            decl,
            host,
            &Outcome::Skip("`skip = true` in the spec".into()),
            started,
        );
    }
    if let Some(when) = &decl.when {
        match when.skip_reason(&host.with_timeout(decl.timeout.unwrap_or(opts.timeout))) {
            Ok(None) => {}
            Ok(Some(reason)) => return unobserved(decl, host, &Outcome::Skip(reason), started),
            Err(e) => {
                let why = format!("cannot tell whether `when = \"{when}\"` holds: {e}");
                return unobserved(decl, host, &Outcome::Error(why), started);
            }
        }
    }
    let timeout = decl.timeout.unwrap_or(opts.timeout);
    // A `within` too long for the clock waits as long as the clock can count.
    let deadline = decl.within.or(opts.within).map(|w| {
        started
            .checked_add(w)
            .unwrap_or_else(|| far_future(started))
    });
    let longest_pause = opts.retry_interval.max(FIRST_PAUSE);
    let mut attempts = 0;
    let mut pause = FIRST_PAUSE;
    let mut view = host.with_timeout(timeout);
    loop {
        attempts += 1;
        let seen = observe(decl, &view, view.timeout());
        let results = judge(decl, host, &seen, attempts, started);
        // The last attempt is made at the deadline, so `within = "1s"` gives the
        // target the whole second.
        let Some(deadline) = deadline else {
            return results;
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero()
            || results.iter().all(|r| r.outcome == Outcome::Pass)
            || hopeless(decl, &seen, &results)
        {
            return results;
        }
        // Backoff: quick retries for what is nearly ready, few for what is slow.
        thread::sleep(left.min(pause));
        pause = (pause * 2).min(longest_pause);
        // A retry gets no more time than `within` has left (but at least
        // RETRY_FLOOR), so a slow target cannot stretch `within` by a whole
        // `timeout` each attempt.
        let left = deadline.saturating_duration_since(Instant::now());
        view = host
            .with_timeout(timeout.min(left.max(RETRY_FLOOR)))
            .fresh();
        if !matches!(view.mode(), Mode::Local | Mode::PerFact) {
            // The condition held and the OS is known: ask again for the resource's
            // own facts only, in one round trip.
            view.prefetch_light(own_facts(
                decl,
                known_os(host).as_ref(),
                Some(&view),
                view.timeout(),
            ));
        }
    }
}

/// The shortest time limit of an attempt after the first.
const RETRY_FLOOR: Duration = Duration::from_secs(1);

/// A moment a century after `from`: a deadline no run reaches.
fn far_future(from: Instant) -> Instant {
    from.checked_add(Duration::from_secs(100 * 365 * 24 * 60 * 60))
        .unwrap_or(from)
}

/// Every check of a resource that was not observed, with one outcome and no value.
fn unobserved(
    decl: &Declared,
    host: &Host,
    outcome: &Outcome,
    started: Instant,
) -> Vec<CheckResult> {
    judge(decl, host, &Ok(Observed::new()), 0, started)
        .into_iter()
        .map(|mut r| {
            r.outcome = outcome.clone();
            r.actual = None;
            r
        })
        .collect()
}

/// True when every check that does not hold has an error no retry can mend: a tool
/// missing on the target, permission denied, a check not supported there, a target
/// that is gone.
fn hopeless(decl: &Declared, seen: &Result<Observed, ProbeError>, results: &[CheckResult]) -> bool {
    let lasting = |e: &ProbeError| {
        matches!(
            e,
            ProbeError::ToolMissing(_)
                | ProbeError::Denied(_)
                | ProbeError::Unsupported { .. }
                | ProbeError::Gone(_)
        )
    };
    decl.checks
        .iter()
        .zip(results)
        .filter(|(_, r)| matches!(r.outcome, Outcome::Fail | Outcome::Error(_)))
        .all(|(check, _)| match seen {
            Err(e) => lasting(e),
            Ok(seen) => seen.get(check.prop.name).err().is_some_and(|e| lasting(&e)),
        })
}

/// Runs the probe on its own thread so a stuck target cannot hold the run past `timeout`.
fn observe(decl: &Arc<Declared>, host: &Host, timeout: Duration) -> Result<Observed, ProbeError> {
    let wanted: Vec<&'static str> = decl.checks.iter().map(|c| c.prop.name).collect();
    let (tx, rx) = mpsc::channel();
    let (resource, host) = (Arc::clone(&decl.resource), host.clone());
    thread::spawn(move || {
        let seen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            resource.probe(&host, &wanted)
        }))
        .unwrap_or_else(|panic| {
            Err(ProbeError::Failed(format!(
                "ispec bug: the probe panicked: {} (please report it)",
                panic_message(&*panic)
            )))
        });
        let _ = tx.send(seen);
    });
    // A little grace beyond the backend's own limit, so its clearer error wins.
    match rx.recv_timeout(timeout.saturating_add(Duration::from_millis(500))) {
        Ok(seen) => seen,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(ProbeError::Timeout(timeout)),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(ProbeError::Failed(
            "the probe stopped unexpectedly (a bug in ispec; please report it)".into(),
        )),
    }
}

fn judge(
    decl: &Declared,
    host: &Host,
    seen: &Result<Observed, ProbeError>,
    attempts: u32,
    started: Instant,
) -> Vec<CheckResult> {
    let mut results: Vec<CheckResult> = decl
        .checks
        .iter()
        .map(|check| {
            let (value, note) = match seen {
                Ok(seen) => (seen.get(check.prop.name), seen.note_of(check.prop.name)),
                Err(e) => (Err(e.clone()), None),
            };
            let (outcome, actual) = match value {
                Err(e) => (Outcome::Error(e.to_string()), None),
                Ok(value) => (
                    if check.expect.holds(value) {
                        Outcome::Pass
                    } else {
                        Outcome::Fail
                    },
                    Some(value.to_string()),
                ),
            };
            CheckResult {
                target: host.name().to_string(),
                kind: decl.kind.key,
                id: decl.id.clone(),
                title: decl.title.clone(),
                property: check.prop.name,
                outcome,
                expected: check.expect.to_string(),
                actual,
                note: note.map(str::to_string),
                location: check.location.clone(),
                duration: started.elapsed(),
                attempts,
            }
        })
        .collect();
    // A gate that does not hold (`exists`, `installed`, ...) makes the rest moot.
    let failed_gate = decl
        .checks
        .iter()
        .zip(&results)
        .find(|(c, r)| c.prop.gate && r.outcome != Outcome::Pass)
        .map(|(c, _)| c.prop.name);
    if let Some(gate) = failed_gate {
        for (check, r) in decl.checks.iter().zip(results.iter_mut()) {
            if !check.prop.gate && r.outcome != Outcome::Pass {
                r.outcome = Outcome::Skip(format!("`{gate}` did not hold"));
            }
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::path::Path;

    use super::*;
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

    /// Keeps every result it hears.
    #[derive(Default)]
    struct Kept(Vec<CheckResult>);

    impl Reporter for Kept {
        fn start(&mut self, _total: usize) -> io::Result<()> {
            Ok(())
        }
        fn resource(&mut self, results: &[CheckResult]) -> io::Result<()> {
            self.0.extend_from_slice(results);
            Ok(())
        }
        fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
            Ok(())
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
        let mut kept = Kept::default();
        let summary = execute(&plan, &Host::local(), &RunOptions::default(), &mut kept).unwrap();
        let seen: Vec<(&str, &Outcome)> =
            kept.0.iter().map(|r| (r.id.as_str(), &r.outcome)).collect();
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
