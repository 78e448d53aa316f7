//! `ispec run`: specs × targets (or a suite's targets and their specs) → reports.

use std::io::{self, IsTerminal};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::RunArgs;
use super::plan::{Planned, Plans, planned};
use super::stats::StatsPrinter;
use crate::backend::docker::{Container, ContainerSpec, Owned, network};
use crate::backend::{self, Backend, BackendError, ConnectError, ConnectOptions, TargetSpec};
use crate::exit::Exit;
use crate::fleet::{self, Job};
use crate::gather::Mode;
use crate::host::{Host, Phase};
use crate::report::{self, Format, ReportFile, Reporter, Tee};
use crate::run::{RunOptions, Summary};

/// Runs `ispec run` and returns the exit code.
pub(super) fn run(args: &RunArgs) -> u8 {
    let owned = Arc::new(Owned::new());
    let unfinished: Arc<Mutex<Vec<ReportFile>>> = Arc::default();
    on_interrupt(&owned, &unfinished);
    // Removes the run's containers when the run ends, also by a panic. (Dropping the
    // backends would too, but a check's thread may still hold one as the process exits.)
    let _finish = owned.finish_on_drop();
    let planned = match plan_targets(args) {
        Ok(planned) => planned,
        Err(code) => return code,
    };
    // Report files before any target is touched: a bad `--report` is exit 2 before
    // a container starts.
    let files = match report_files(&args.reports) {
        Ok(files) => files,
        Err(code) => return code,
    };
    unfinished
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .extend(files.iter().map(|(_, file)| file.clone()));
    let within = args.within.or(planned.within);
    let jobs = match connect_jobs(args, planned.targets, &owned) {
        Ok(jobs) => jobs,
        Err(code) => {
            wait_if_interrupted(&owned);
            return code;
        }
    };
    let color = match args.color.as_str() {
        "always" => true,
        "never" => false,
        _ => console::colors_enabled() && io::stdout().is_terminal(),
    };
    let stdout = Box::new(io::stdout());
    let mut reporters = vec![if args.quiet && args.format == Format::Human {
        Box::new(report::Human::new(stdout, color).quiet())
    } else {
        report::reporter(args.format, stdout, color)
    }];
    reporters.extend(
        files
            .iter()
            .map(|(format, file)| report::reporter(*format, file.writer(), false)),
    );
    reporters.push(Box::new(StatsPrinter { all: args.stats }));
    let mut out = Tee::new(reporters, progress());
    let opts = RunOptions {
        jobs: usize::from(args.jobs),
        parallel: usize::from(args.parallel),
        timeout: args.timeout,
        within,
        output_lines: args.tail,
        ..RunOptions::default()
    };
    let ran = run_all(&jobs, &opts, &mut out);
    wait_if_interrupted(&owned);
    match ran {
        Ok(summary) => {
            for (_, file) in &files {
                if let Err(e) = file.commit() {
                    eprintln!(
                        "error: cannot write report `{}`: {e}",
                        file.path().display()
                    );
                    return Exit::FAILED;
                }
            }
            if summary.ok() {
                Exit::PASSED
            } else {
                Exit::FAILED
            }
        }
        Err(e) => {
            eprintln!("error: cannot write the report: {e}");
            Exit::FAILED
        }
    }
}

/// The targets (`--target`, `--image`, or the suite's) and the plan each must pass,
/// with the container flags applied; specs are loaded and checked, nothing is
/// touched.
fn plan_targets(args: &RunArgs) -> Result<Plans, u8> {
    let mut targets: Vec<TargetSpec> = args
        .targets
        .iter()
        .map(|t| TargetSpec::Uri(t.clone()))
        .collect();
    for image in &args.container.images {
        match args.container.spec(image) {
            Ok(spec) => targets.push(TargetSpec::Image(Box::new(spec))),
            Err(e) => {
                eprintln!("error: {e}");
                return Err(Exit::INVALID);
            }
        }
    }
    let mut planned = planned(&args.specs, &targets)?;
    // Flags shape `--image` containers directly; a suite's image targets get them
    // added, all before anything starts.
    if args.specs.specs.is_empty() {
        for p in &mut planned.targets {
            if let TargetSpec::Image(spec) = &mut p.target {
                if let Err(e) = args.container.apply(spec) {
                    eprintln!("error: {e}");
                    return Err(Exit::INVALID);
                }
            }
        }
    }
    Ok(planned)
}

/// Connects every planned target (throwaway containers started and ready), up to
/// `--parallel` at once, each after the targets it starts `after`. A suite's image
/// targets first get a private network of their own. Started containers and the
/// network are registered in `owned`. When a target cannot be reached, every failure
/// is printed, in target order, and the exit code returned.
fn connect_jobs(
    args: &RunArgs,
    mut planned: Vec<Planned>,
    owned: &Arc<Owned>,
) -> Result<Vec<Job>, u8> {
    let options = ConnectOptions {
        user: args.container.user.clone(),
        ssh: args.ssh.options(),
    };
    let suite_images = planned.iter_mut().filter_map(|p| match &mut p.target {
        TargetSpec::Image(spec) if spec.name.is_some() => Some(spec.as_mut()),
        _ => None,
    });
    if let Err(e) = network::join(owned, &args.container.labels, suite_images) {
        eprintln!("error: {e}");
        return Err(Exit::UNREACHABLE);
    }
    let connected = connect_all(&planned, &options, owned, usize::from(args.parallel));
    let mut failed = None;
    for (p, result) in planned.iter().zip(&connected) {
        match result {
            Some(Ok(Connected { kept, .. })) => {
                // Said also when the run stops here: a kept container stays.
                if let Some(kept) = kept {
                    eprintln!("{kept}");
                }
            }
            Some(Err(e @ ConnectError::Backend(_))) => {
                eprintln!("error: {e}");
                failed = failed.or(Some(Exit::UNREACHABLE));
            }
            Some(Err(e)) => {
                eprintln!("error: {e}");
                failed = Some(Exit::INVALID);
            }
            None => {
                if let Some(dep) = p
                    .after
                    .iter()
                    .find(|d| !matches!(connected[**d], Some(Ok(_))))
                {
                    eprintln!(
                        "note: `{}` was not started: it starts after `{}`, which is not up",
                        p.shown(),
                        planned[*dep].shown()
                    );
                }
            }
        }
    }
    if let Some(code) = failed {
        return Err(code);
    }
    let mode = match args.gather.as_str() {
        _ if args.no_probe => Mode::Script,
        "script" => Mode::Script,
        "per-fact" => Mode::PerFact,
        _ => Mode::Probe,
    };
    let mut jobs = Vec::new();
    for (p, connected) in planned.into_iter().zip(connected) {
        if let Some(Ok(c)) = connected {
            let mut host = Host::gathering(c.backend, mode, usize::from(args.jobs));
            if let Some(name) = &p.name {
                host = host.named_in_suite(name, &p.target);
            }
            host.add_phase(c.phase, c.took);
            jobs.push(Job { plan: p.plan, host });
        }
    }
    Ok(jobs)
}

/// A connected target.
struct Connected {
    backend: Box<dyn Backend>,
    /// What to say about it when it was kept (`--keep`).
    kept: Option<String>,
    /// What reaching it was: connecting, or starting a throwaway container.
    phase: Phase,
    took: Duration,
}

/// Connects each planned target, up to `parallel` at once, earlier targets first and
/// each only once every target it starts `after` is up ([`fleet::in_order`]): once
/// one fails, throwaway containers not yet begun are not started (`None`), and
/// neither are targets whose `after` failed.
fn connect_all(
    planned: &[Planned],
    options: &ConnectOptions,
    owned: &Arc<Owned>,
    parallel: usize,
) -> Vec<Option<Result<Connected, ConnectError>>> {
    let spinners = io::stderr()
        .is_terminal()
        .then(indicatif::MultiProgress::new);
    let steps: Vec<fleet::Step> = planned
        .iter()
        .map(|p| fleet::Step {
            after: p.after.clone(),
            held_back_by_failure: matches!(p.target, TargetSpec::Image(_)),
        })
        .collect();
    fleet::in_order(&steps, parallel, |i| {
        let p = &planned[i];
        let began = Instant::now();
        match &p.target {
            TargetSpec::Uri(_) | TargetSpec::Ssh(_) => {
                backend::reach(&p.target, options, owned, &|_| {}).map(|backend| Connected {
                    backend,
                    kept: None,
                    phase: Phase::Connect,
                    took: began.elapsed(),
                })
            }
            TargetSpec::Image(spec) => {
                start(spec, owned, spinners.as_ref()).map_err(ConnectError::Backend)
            }
        }
    })
}

/// Starts a throwaway container, showing on a terminal what is happening (one
/// spinner line per container starting).
fn start(
    spec: &ContainerSpec,
    owned: &Arc<Owned>,
    spinners: Option<&indicatif::MultiProgress>,
) -> Result<Connected, BackendError> {
    let began = Instant::now();
    let spinner = spinners.map(|lines| {
        let bar = lines.add(indicatif::ProgressBar::new_spinner());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let say = |what: &str| {
        if let Some(bar) = &spinner {
            bar.set_message(format!("{}: {what}", spec.image));
        }
    };
    let started = Container::start(spec, owned, &say);
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let container = started?;
    let took = began.elapsed();
    let kept = spec.keep.then(|| {
        let name = container.name().unwrap_or_default();
        format!(
            "kept container {name} (from {}): get in with `docker exec -it {name} sh`; \
             remove it with `docker rm -fv {name}` or `ispec clean`",
            spec.image
        )
    });
    Ok(Connected {
        backend: Box::new(container),
        kept,
        phase: Phase::Setup,
        took,
    })
}

/// After Ctrl-C or SIGTERM, what failed did so because its container went away: the
/// signal thread exits the process with the signal's code once it is done, so the
/// run's own exit code must not win the race.
fn wait_if_interrupted(owned: &Owned) {
    if owned.is_closing() {
        loop {
            std::thread::park();
        }
    }
}

/// On Ctrl-C or SIGTERM: remove every container this run started and the unfinished
/// report files, then exit with 128 + the signal's number, as shells do.
fn on_interrupt(owned: &Arc<Owned>, unfinished: &Arc<Mutex<Vec<ReportFile>>>) {
    let owned = Arc::clone(owned);
    let unfinished = Arc::clone(unfinished);
    let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let removed = owned.remove_all();
            for file in unfinished
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
            {
                file.discard();
            }
            let name = if signal == SIGINT {
                "interrupted"
            } else {
                "terminated"
            };
            eprintln!(
                "\n{name}: removed {removed} container{} this run started",
                if removed == 1 { "" } else { "s" }
            );
            std::process::exit(128 + signal);
        }
    });
}

fn report_files(reports: &[(Format, std::path::PathBuf)]) -> Result<Vec<(Format, ReportFile)>, u8> {
    let mut files: Vec<(Format, ReportFile)> = Vec::new();
    for (format, path) in reports {
        if files.iter().any(|(_, f)| f.path() == path) {
            eprintln!(
                "error: two `--report` flags write `{}`; give each report its own file",
                path.display()
            );
            return Err(Exit::INVALID);
        }
        match ReportFile::create(path) {
            Ok(file) => files.push((*format, file)),
            Err(why) => {
                eprintln!("error: {why}");
                return Err(Exit::INVALID);
            }
        }
    }
    Ok(files)
}

/// A progress line on standard error, only when it is a terminal.
fn progress() -> Option<indicatif::ProgressBar> {
    io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} checks {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    })
}

fn run_all(jobs: &[Job], opts: &RunOptions, out: &mut Tee) -> io::Result<Summary> {
    out.start(jobs.iter().map(|j| j.plan.check_count()).sum())?;
    let total = fleet::execute_and_close(jobs, opts, out)?;
    // What each target cost, teardown included.
    for job in jobs {
        out.target_done(job.host.name(), &job.host.stats())?;
    }
    out.finish(&total)?;
    Ok(total)
}
