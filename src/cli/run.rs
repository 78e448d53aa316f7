//! `ispec run`: specs × targets (or a suite's targets and their specs) → reports.

use std::io::{self, IsTerminal};
use std::sync::Arc;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::{RunArgs, planned};
use crate::backend::docker::{Container, ContainerSpec, Owned};
use crate::backend::{self, Backend, BackendError, ConnectError, ConnectOptions, TargetSpec};
use crate::exit::Exit;
use crate::fleet::{self, Job};
use crate::host::Host;
use crate::report::{self, Format, ReportFile, Reporter, Tee};
use crate::run::{RunOptions, Summary};

/// Runs `ispec run` and returns the exit code.
pub(super) fn run(args: &RunArgs) -> u8 {
    let owned = Arc::new(Owned::new());
    on_interrupt(&owned);
    // Removes the run's containers when the run ends, also by a panic. (Dropping the
    // backends would too, but a check's thread may still hold one as the process exits.)
    let _finish = Finish(Arc::clone(&owned));
    let jobs = match jobs(args, &owned) {
        Ok(jobs) => jobs,
        Err(code) => {
            wait_if_interrupted(&owned);
            return code;
        }
    };
    let files = match report_files(&args.reports) {
        Ok(files) => files,
        Err(code) => return code,
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
    let mut out = Tee::new(reporters, progress());
    let opts = RunOptions {
        jobs: usize::from(args.jobs),
        parallel: usize::from(args.parallel),
        timeout: args.timeout,
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

/// The targets and their plans, each target connected (throwaway containers
/// started and ready). Started containers are registered in `owned`.
fn jobs(args: &RunArgs, owned: &Arc<Owned>) -> Result<Vec<Job>, u8> {
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
    let planned = planned(&args.specs, &targets)?;
    // Flags shape `--image` containers directly; a suite's image targets get them added.
    let from_suite = args.specs.specs.is_empty();
    let options = ConnectOptions {
        user: args.container.user.clone(),
        ..ConnectOptions::default()
    };
    let mut jobs = Vec::new();
    for (target, plan) in planned {
        let backend: Result<Box<dyn Backend>, ConnectError> = match target {
            TargetSpec::Uri(uri) => backend::connect(&uri, &options),
            TargetSpec::Image(mut spec) => {
                if from_suite {
                    if let Err(e) = args.container.apply(&mut spec) {
                        eprintln!("error: {e}");
                        return Err(Exit::INVALID);
                    }
                }
                start(&spec, owned).map_err(ConnectError::Backend)
            }
        };
        match backend {
            Ok(b) => jobs.push(Job {
                plan,
                host: Host::new(b),
            }),
            Err(e @ ConnectError::Backend(_)) => {
                eprintln!("error: {e}");
                return Err(Exit::UNREACHABLE);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Err(Exit::INVALID);
            }
        }
    }
    Ok(jobs)
}

/// Starts a throwaway container, showing on a terminal what is happening.
fn start(spec: &ContainerSpec, owned: &Arc<Owned>) -> Result<Box<dyn Backend>, BackendError> {
    let spinner = io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
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
    if spec.keep {
        let name = container.name().unwrap_or_default();
        eprintln!(
            "kept container {name} (from {}): get in with `docker exec -it {name} sh`; \
             remove it with `docker rm -fv {name}` or `ispec clean`",
            spec.image
        );
    }
    Ok(Box::new(container))
}

/// Removes the run's throwaway containers (but kept ones) when dropped.
struct Finish(Arc<Owned>);

impl Drop for Finish {
    fn drop(&mut self) {
        self.0.finish();
    }
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

/// On Ctrl-C or SIGTERM: remove every container this run started, then exit with
/// 128 + the signal's number, as shells do.
fn on_interrupt(owned: &Arc<Owned>) {
    let owned = Arc::clone(owned);
    let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let removed = owned.remove_all();
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
    let total = fleet::execute(jobs, opts, out)?;
    out.finish(&total)?;
    Ok(total)
}
