//! Reaching a suite's targets in order: each once every target it starts `after` is
//! up, up to `parallel` at once, earlier targets first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::thread;

/// Where a target is in [`in_order`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Progress {
    Waiting,
    Connecting,
    Up,
    /// Failed, or never begun.
    Down,
}

/// What [`in_order`] needs to know of each target.
#[derive(Clone, Debug, Default)]
pub struct Step {
    /// The targets (indexes) that must be up before this one is begun.
    pub after: Vec<usize>,
    /// Not begun once another target failed (a throwaway container would be started
    /// only to be removed unused). Others are still tried, so every unreachable host
    /// is named in one run.
    pub held_back_by_failure: bool,
}

/// Runs `reach(i)` for each step, up to `parallel` at once, earlier steps first and
/// each only once every step it comes `after` succeeded. A step whose `after` failed,
/// or that is held back by an earlier failure, is never begun: `None`.
pub fn in_order<T: Send, E: Send>(
    steps: &[Step],
    parallel: usize,
    reach: impl Fn(usize) -> Result<T, E> + Sync,
) -> Vec<Option<Result<T, E>>> {
    let failed = AtomicBool::new(false);
    let progress = Mutex::new(vec![Progress::Waiting; steps.len()]);
    let changed = Condvar::new();
    let slots: Vec<Mutex<Option<Result<T, E>>>> = steps.iter().map(|_| Mutex::new(None)).collect();
    // The next step to begin, or `None` when nothing is left; waits while every
    // waiting step still waits for another.
    let next = || {
        let mut states = progress.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let mut blocked = false;
            for (i, step) in steps.iter().enumerate() {
                if states[i] != Progress::Waiting {
                    continue;
                }
                let deps = || step.after.iter().map(|d| states[*d]);
                if deps().any(|s| s == Progress::Down)
                    || (step.held_back_by_failure && failed.load(Ordering::Relaxed))
                {
                    states[i] = Progress::Down;
                    changed.notify_all();
                } else if deps().all(|s| s == Progress::Up) {
                    states[i] = Progress::Connecting;
                    return Some(i);
                } else {
                    blocked = true;
                }
            }
            if !blocked {
                return None;
            }
            states = changed.wait(states).unwrap_or_else(PoisonError::into_inner);
        }
    };
    thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, steps.len().max(1)) {
            scope.spawn(|| {
                while let Some(i) = next() {
                    let _unwinding = DownIfUnwinding {
                        step: i,
                        progress: &progress,
                        changed: &changed,
                        failed: &failed,
                    };
                    let result = reach(i);
                    let up = result.is_ok();
                    if !up {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
                    progress.lock().unwrap_or_else(PoisonError::into_inner)[i] =
                        if up { Progress::Up } else { Progress::Down };
                    changed.notify_all();
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|s| s.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect()
}

/// Marks a step `Down` if reaching it panics, so the steps after it are not waited
/// for forever; the panic goes on to the caller once every thread has stopped.
struct DownIfUnwinding<'a> {
    step: usize,
    progress: &'a Mutex<Vec<Progress>>,
    changed: &'a Condvar,
    failed: &'a AtomicBool,
}

impl Drop for DownIfUnwinding<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.failed.store(true, Ordering::Relaxed);
            self.progress.lock().unwrap_or_else(PoisonError::into_inner)[self.step] =
                Progress::Down;
            self.changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn steps(after: &[&[usize]]) -> Vec<Step> {
        after
            .iter()
            .map(|a| Step {
                after: a.to_vec(),
                held_back_by_failure: true,
            })
            .collect()
    }

    #[test]
    fn each_step_begins_after_what_it_needs() {
        let began: Mutex<Vec<(usize, Instant)>> = Mutex::default();
        let ended: Mutex<Vec<(usize, Instant)>> = Mutex::default();
        let all = in_order(&steps(&[&[], &[0], &[1], &[]]), 4, |i| {
            began.lock().unwrap().push((i, Instant::now()));
            thread::sleep(Duration::from_millis(30));
            ended.lock().unwrap().push((i, Instant::now()));
            Ok::<usize, ()>(i)
        });
        assert!(all.iter().all(|r| matches!(r, Some(Ok(_)))));
        let at = |v: &Mutex<Vec<(usize, Instant)>>, i| {
            v.lock().unwrap().iter().find(|(j, _)| *j == i).unwrap().1
        };
        assert!(at(&began, 1) >= at(&ended, 0));
        assert!(at(&began, 2) >= at(&ended, 1));
        // Step 3 needs nothing: it runs alongside step 0.
        assert!(at(&began, 3) < at(&ended, 0));
    }

    #[test]
    fn a_failure_stops_what_needs_it_and_what_is_held_back() {
        let mut s = steps(&[&[], &[0], &[]]);
        s[2].held_back_by_failure = false;
        let all = in_order(&s, 1, |i| if i == 0 { Err("down") } else { Ok(i) });
        assert!(matches!(all[0], Some(Err("down"))));
        assert!(all[1].is_none(), "needs step 0");
        assert!(matches!(all[2], Some(Ok(2))), "still tried");
    }

    #[test]
    fn a_step_that_panics_lets_the_run_end_and_the_panic_through() {
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let outcome = std::panic::catch_unwind(|| {
                in_order(&steps(&[&[], &[0], &[]]), 2, |i| {
                    assert!(i != 0, "step 0 cannot be reached");
                    Ok::<usize, ()>(i)
                })
            });
            let _ = tx.send(outcome.is_err());
        });
        let panicked = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("in_order still waits for the steps after one that panicked");
        assert!(panicked, "the panic reaches the caller");
    }
}
