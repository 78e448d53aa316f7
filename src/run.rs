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
use crate::spec::{Declared, Location};

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
    /// The pause between attempts of a resource with `within`.
    pub retry_interval: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            jobs: 8,
            parallel: 8,
            timeout: Duration::from_secs(30),
            retry_interval: Duration::from_millis(500),
        }
    }
}

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
    /// Where the property was written.
    pub location: Location,
    /// How long observing the resource took (all attempts).
    pub duration: Duration,
    /// How many times the resource was observed.
    pub attempts: u32,
}

impl CheckResult {
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
                if tx.send((i, check_resource(decl, &host, &opts))).is_err() {
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
    let wanted: Vec<&'static str> = decl.checks.iter().map(|c| c.prop.name).collect();
    let ask = Ask {
        os,
        timeout: decl.timeout.unwrap_or(opts.timeout),
        host,
    };
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
        return judge(decl, host, &Ok(Observed::new()), 0, started)
            .into_iter()
            .map(|mut r| {
                r.outcome = Outcome::Skip("`skip = true` in the spec".into());
                r.actual = None;
                r
            })
            .collect();
    }
    let timeout = decl.timeout.unwrap_or(opts.timeout);
    let deadline = decl.within.map(|w| started + w);
    let mut attempts = 0;
    let mut view = host.with_timeout(timeout);
    loop {
        attempts += 1;
        let seen = observe(decl, &view, timeout);
        let results = judge(decl, host, &seen, attempts, started);
        // The last attempt is made at the deadline, so `within = "1s"` gives the
        // target the whole second.
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let done =
            results.iter().all(|r| r.outcome == Outcome::Pass) || left.is_none_or(|l| l.is_zero());
        if done {
            return results;
        }
        thread::sleep(left.map_or(opts.retry_interval, |l| l.min(opts.retry_interval)));
        view = view.fresh();
        if !matches!(view.mode(), Mode::Local | Mode::PerFact) {
            view.prefetch_light(facts_of(decl, None, None, opts));
            let os = known_os(&view);
            view.prefetch_light(facts_of(decl, os.as_ref(), Some(&view), opts));
        }
    }
}

/// Runs the probe on its own thread so a stuck target cannot hold the run past `timeout`.
fn observe(decl: &Arc<Declared>, host: &Host, timeout: Duration) -> Result<Observed, ProbeError> {
    let wanted: Vec<&'static str> = decl.checks.iter().map(|c| c.prop.name).collect();
    let (tx, rx) = mpsc::channel();
    let (resource, host) = (Arc::clone(&decl.resource), host.clone());
    thread::spawn(move || {
        let _ = tx.send(resource.probe(&host, &wanted));
    });
    // A little grace beyond the backend's own limit, so its clearer error wins.
    match rx.recv_timeout(timeout + Duration::from_millis(500)) {
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
            let value = match seen {
                Ok(seen) => seen.get(check.prop.name),
                Err(e) => Err(e.clone()),
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
                target: host.target().to_string(),
                kind: decl.kind.key,
                id: decl.id.clone(),
                title: decl.title.clone(),
                property: check.prop.name,
                outcome,
                expected: check.expect.to_string(),
                actual,
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
