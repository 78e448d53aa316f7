//! One resource on one target: observed (again, with backoff, while `within`
//! allows and a retry can help), judged, and a panic in its kind turned into an error
//! result.

use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use super::{CheckResult, FIRST_PAUSE, Outcome, RunOptions, known_os, own_facts};
use crate::gather::Mode;
use crate::host::{Host, ProbeError};
use crate::resource::Observed;
use crate::spec::Declared;

/// [`check_resource`], with a panic turned into an error result for the resource's
/// checks: a bug in one resource kind must not drop results and let a run pass.
pub(super) fn check_guarded(
    decl: &Arc<Declared>,
    host: &Host,
    opts: &RunOptions,
) -> Vec<CheckResult> {
    guarded(decl, host, || check_resource(decl, host, opts))
}

/// The results `check` gives, or, if it panics, an error for every check of `decl`.
pub(super) fn guarded(
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
pub(super) fn unobserved(
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
pub(super) fn hopeless(
    decl: &Declared,
    seen: &Result<Observed, ProbeError>,
    results: &[CheckResult],
) -> bool {
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

pub(super) fn judge(
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
