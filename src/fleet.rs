//! Several targets checked at once: at most `parallel` targets at a time, each run by
//! [`run::execute`] with its own `jobs`, and the results handed to the reporter
//! grouped by target, in the order the targets were given, whatever order they
//! finish in.
//!
//! The first target not yet finished streams its results to the reporter as they come;
//! the targets after it are held back and handed on whole when their turn comes. The
//! reporter hears [`Reporter::progress`] as soon as any target judges a resource, so
//! a progress display advances with the work, not with the output.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread;
use std::time::Instant;

mod order;

pub use order::{Step, in_order};

use crate::host::Host;
use crate::plan::Plan;
use crate::report::Reporter;
use crate::run::{self, CheckResult, RunOptions, Summary};

/// One target and the plan it must pass.
pub struct Job {
    /// What to check.
    pub plan: Plan,
    /// Where.
    pub host: Host,
}

/// What a target's thread tells the reporting thread.
enum Event {
    /// A resource of some target was judged (in any order).
    Judged(Vec<CheckResult>),
    /// The next resource of target `.0`, in plan order.
    Resource(usize, Vec<CheckResult>),
    /// Target `.0` is done.
    Done(usize, io::Result<Summary>),
}

/// Hands one target's results to the reporting thread.
struct Forward {
    target: usize,
    tx: Sender<Event>,
}

impl Reporter for Forward {
    fn start(&mut self, _total: usize) -> io::Result<()> {
        Ok(())
    }

    fn resource(&mut self, results: &[CheckResult]) -> io::Result<()> {
        self.tx
            .send(Event::Resource(self.target, results.to_vec()))
            .map_err(|_| io::Error::other("the report ended early"))
    }

    fn progress(&mut self, results: &[CheckResult]) {
        let _ = self.tx.send(Event::Judged(results.to_vec()));
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        Ok(())
    }
}

/// Checks every job's plan on its host, `opts.parallel` targets at a time (the
/// earlier ones first), and streams the results to `out` grouped by target in the
/// order of `jobs`. Like [`run::execute`], it calls neither `start` nor `finish`.
/// The summary adds up the targets' counts; its duration is the wall time of the
/// whole run.
pub fn execute(jobs: &[Job], opts: &RunOptions, out: &mut dyn Reporter) -> io::Result<Summary> {
    execute_each(jobs, opts, out).map(|(total, _)| total)
}

/// [`execute`], with each target's own summary too, in the order of `jobs`.
fn execute_each(
    jobs: &[Job],
    opts: &RunOptions,
    out: &mut dyn Reporter,
) -> io::Result<(Summary, Vec<Summary>)> {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    let mut total = thread::scope(|scope| {
        for _ in 0..opts.parallel.clamp(1, jobs.len().max(1)) {
            let (tx, next) = (tx.clone(), &next);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let mut forward = Forward {
                        target: i,
                        tx: tx.clone(),
                    };
                    let done = run::execute(&job.plan, &job.host, opts, &mut forward);
                    if tx.send(Event::Done(i, done)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let reported = report(rx.iter(), jobs.len(), out);
        // The targets still running stop at their next result: nobody hears it.
        drop(rx);
        reported
    })?;
    total.0.duration = started.elapsed();
    Ok(total)
}

/// [`execute`], then closes every target (throwaway containers go) all at once,
/// whatever the run's outcome. No target is closed before every one is done:
/// targets of one run may reach each other.
pub fn execute_and_close(
    jobs: &[Job],
    opts: &RunOptions,
    out: &mut dyn Reporter,
) -> io::Result<Summary> {
    let ran = execute_each(jobs, opts, out).and_then(|(total, each)| {
        show_output(jobs, &each, opts.output_lines, out)?;
        Ok(total)
    });
    thread::scope(|scope| {
        for job in jobs {
            scope.spawn(|| job.host.close());
        }
    });
    ran
}

/// Hands `out` the last `lines` lines of output of each target whose checks did not
/// all hold, where the target has output (a container), before it goes. A tail that
/// cannot be read is shown as one line saying why.
fn show_output(
    jobs: &[Job],
    each: &[Summary],
    lines: usize,
    out: &mut dyn Reporter,
) -> io::Result<()> {
    if lines == 0 {
        return Ok(());
    }
    for (job, summary) in jobs.iter().zip(each) {
        if summary.ok() {
            continue;
        }
        let tail = match job.host.output_tail(lines) {
            None => continue,
            Some(Ok(tail)) => tail,
            Some(Err(why)) => vec![format!("(its output could not be read: {why})")],
        };
        if !tail.is_empty() {
            out.target_output(job.host.name(), &tail)?;
        }
    }
    Ok(())
}

/// Hands `events` on to `out` grouped by target, in target order; returns the sum of
/// the targets' summaries, and each one's.
fn report(
    events: impl Iterator<Item = Event>,
    targets: usize,
    out: &mut dyn Reporter,
) -> io::Result<(Summary, Vec<Summary>)> {
    let mut waiting: Vec<Vec<Vec<CheckResult>>> = vec![Vec::new(); targets];
    let mut done: Vec<Option<Summary>> = vec![None; targets];
    // The target whose results go straight to `out`: every one before it is done.
    let mut head = 0;
    for event in events {
        match event {
            Event::Judged(results) => out.progress(&results),
            Event::Resource(i, results) if i == head => out.resource(&results)?,
            Event::Resource(i, results) => waiting[i].push(results),
            Event::Done(i, summary) => {
                done[i] = Some(summary?);
                while head < targets && done[head].is_some() {
                    head += 1;
                    for results in waiting
                        .get_mut(head)
                        .map(std::mem::take)
                        .unwrap_or_default()
                    {
                        out.resource(&results)?;
                    }
                }
            }
        }
    }
    let each: Vec<Summary> = done.into_iter().map(Option::unwrap_or_default).collect();
    let mut total = Summary::default();
    for s in &each {
        total.passed += s.passed;
        total.failed += s.failed;
        total.skipped += s.skipped;
        total.errored += s.errored;
    }
    Ok((total, each))
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::run::Outcome;
    use crate::spec::Location;

    fn result(target: usize, id: usize) -> Vec<CheckResult> {
        vec![CheckResult {
            target: format!("t{target}"),
            kind: "command",
            id: id.to_string(),
            title: None,
            property: "exit-status",
            outcome: Outcome::Pass,
            expected: "0".into(),
            actual: Some("0".into()),
            note: None,
            location: Location {
                file: Arc::from(Path::new("spec.toml")),
                line: 1,
                column: 1,
            },
            duration: Duration::ZERO,
            attempts: 1,
        }]
    }

    fn summary(passed: usize) -> Summary {
        Summary {
            passed,
            ..Summary::default()
        }
    }

    /// Remembers what it heard: `p t/id` for progress, `r t/id` for results.
    #[derive(Default)]
    struct Heard(Vec<String>);

    impl Reporter for Heard {
        fn start(&mut self, _total: usize) -> io::Result<()> {
            Ok(())
        }
        fn resource(&mut self, results: &[CheckResult]) -> io::Result<()> {
            self.0
                .push(format!("r {}/{}", results[0].target, results[0].id));
            Ok(())
        }
        fn progress(&mut self, results: &[CheckResult]) {
            self.0
                .push(format!("p {}/{}", results[0].target, results[0].id));
        }
        fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn later_targets_wait_for_earlier_ones_and_progress_does_not() {
        use Event::{Done, Judged, Resource};
        // Target 1 finishes first, target 2 next, target 0 last.
        let events = vec![
            Judged(result(1, 0)),
            Resource(1, result(1, 0)),
            Judged(result(0, 0)),
            Resource(0, result(0, 0)),
            Judged(result(2, 0)),
            Resource(2, result(2, 0)),
            Done(1, Ok(summary(1))),
            Done(2, Ok(summary(1))),
            Judged(result(0, 1)),
            Resource(0, result(0, 1)),
            Done(0, Ok(summary(2))),
        ];
        let mut heard = Heard::default();
        let (total, each) = report(events.into_iter(), 3, &mut heard).unwrap();
        assert_eq!(total.passed, 4);
        let passed: Vec<usize> = each.iter().map(|s| s.passed).collect();
        assert_eq!(
            passed,
            [2, 1, 1],
            "each target's own count, in target order"
        );
        assert_eq!(
            heard.0,
            [
                "p t1/0", "p t0/0", "r t0/0", "p t2/0", "p t0/1", "r t0/1", "r t1/0", "r t2/0"
            ]
        );
    }

    #[test]
    fn local_twice_in_parallel_is_grouped_in_order() {
        let spec = crate::spec::load_str(
            Path::new("spec.toml"),
            "[command.\"sleep 0.2\"]\nexit-status = 0\n\n[command.\"true\"]\nexit-status = 0\n",
        )
        .unwrap();
        let plan = Plan::build(spec, &crate::plan::Filter::default());
        let jobs: Vec<Job> = (0..3)
            .map(|_| Job {
                plan: plan.clone(),
                host: Host::local(),
            })
            .collect();
        let mut heard = Heard::default();
        let opts = RunOptions {
            parallel: 3,
            ..RunOptions::default()
        };
        let total = execute(&jobs, &opts, &mut heard).unwrap();
        assert_eq!(total.passed, 6);
        let results: Vec<&String> = heard.0.iter().filter(|h| h.starts_with('r')).collect();
        assert_eq!(
            results,
            ["r local/sleep 0.2", "r local/true"]
                .repeat(3)
                .iter()
                .collect::<Vec<_>>()
        );
    }

    /// How the targets of a test were closed: how many, and at most how many at once.
    #[derive(Default)]
    struct Closings {
        done: AtomicUsize,
        now: AtomicUsize,
        most_at_once: AtomicUsize,
    }

    /// A target whose closing takes a while, and says when it closes.
    struct SlowToClose(Arc<Closings>);

    impl crate::backend::Backend for SlowToClose {
        fn target(&self) -> &'static str {
            "slow-to-close"
        }

        fn exec(
            &self,
            _cmd: &crate::cmd::Cmd,
            _timeout: Duration,
        ) -> Result<crate::cmd::Output, crate::backend::BackendError> {
            Err(crate::backend::BackendError::Failed(
                "nothing runs here".into(),
            ))
        }

        fn close(&self) {
            let now = self.0.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.0.most_at_once.fetch_max(now, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(300));
            self.0.now.fetch_sub(1, Ordering::SeqCst);
            self.0.done.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn every_target_is_closed_after_the_run_all_at_once() {
        let closed = Arc::new(Closings::default());
        let empty = Plan::build(
            crate::spec::load_str(Path::new("spec.toml"), "").unwrap(),
            &crate::plan::Filter::default(),
        );
        let jobs: Vec<Job> = (0..3)
            .map(|i| Job {
                plan: empty.clone(),
                host: Host::new(Box::new(SlowToClose(Arc::clone(&closed)))).named(format!("t{i}")),
            })
            .collect();
        execute_and_close(&jobs, &RunOptions::default(), &mut Heard::default()).unwrap();
        assert_eq!(closed.done.load(Ordering::SeqCst), 3);
        // Closed side by side, not one after another.
        assert_eq!(closed.most_at_once.load(Ordering::SeqCst), 3);
    }
}
