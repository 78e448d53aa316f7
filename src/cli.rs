//! The command line: argv → what to run. The only module that knows flag names.

use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tempfile::NamedTempFile;

use crate::backend;
use crate::exit::Exit;
use crate::host::Host;
use crate::plan::{Filter, Plan};
use crate::report::{self, Format, Reporter, Tee};
use crate::run::{self, RunOptions, Summary};
use crate::spec;

const EXAMPLES: &str = "\
Examples:
  ispec run specs/web.toml                      check this machine
  ispec run specs/ --format tap                 every spec in a folder, TAP on stdout
  ispec run specs/ --report junit:report.xml    terminal view and a JUnit file for CI
  ispec validate specs/                         type-check specs, touch no target
  ispec list specs/                             the checks a run would make

Exit codes: 0 all checks passed, 1 a check failed or errored,
            2 bad spec or command line (nothing ran), 3 target unreachable.";

/// Behavioral provisioning tests: prove an image, container or host behaves.
#[derive(Debug, Parser)]
#[command(name = "ispec", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check targets against specs and report.
    #[command(after_help = EXAMPLES)]
    Run(RunArgs),
    /// Parse and type-check specs; no target is touched.
    Validate(SpecArgs),
    /// Print the checks a run would make, one per line.
    List(SpecArgs),
}

#[derive(Debug, Args)]
struct SpecArgs {
    /// Spec files or folders of `*.toml` specs.
    #[arg(value_name = "SPEC_OR_DIR", required = true)]
    specs: Vec<PathBuf>,
    /// Keep only resources whose `kind id` or title contains this (repeatable).
    #[arg(long, value_name = "TEXT")]
    filter: Vec<String>,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    specs: SpecArgs,
    /// Target to check (repeatable): `local`.
    #[arg(short, long = "target", value_name = "URI", default_value = "local")]
    targets: Vec<String>,
    /// Format of standard output: human, tap, junit or json.
    #[arg(short, long, value_name = "F", default_value = "human")]
    format: Format,
    /// Also write a report in format F to FILE, atomically (repeatable).
    #[arg(long = "report", value_name = "F:FILE", value_parser = parse_report)]
    reports: Vec<(Format, PathBuf)>,
    /// How many resources are observed at once.
    #[arg(short, long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    jobs: u16,
    /// Time limit for observing one resource, e.g. `30s`.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Colors in the human format: auto (terminal, no NO_COLOR), always or never.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "always", "never"])]
    color: String,
}

fn parse_report(s: &str) -> Result<(Format, PathBuf), String> {
    let (format, file) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}` is not F:FILE, e.g. `junit:report.xml`"))?;
    if file.is_empty() {
        return Err(format!("`{s}` names no file, e.g. `junit:report.xml`"));
    }
    Ok((format.parse()?, PathBuf::from(file)))
}

/// Parses argv, exiting with code 2 and a usage message if it is wrong.
pub fn parse() -> Cli {
    match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::INVALID
            } else {
                Exit::PASSED
            };
            let _ = e.print();
            std::process::exit(i32::from(code));
        }
    }
}

/// Runs the parsed command and returns the exit code.
pub fn run(cli: Cli) -> ExitCode {
    ExitCode::from(match cli.command {
        Command::Validate(args) => validate(&args),
        Command::List(args) => list(&args),
        Command::Run(args) => run_checks(&args),
    })
}

fn load(args: &SpecArgs) -> Result<Plan, u8> {
    match spec::load(&args.specs) {
        Ok(spec) => Ok(Plan::build(
            spec,
            &Filter {
                patterns: args.filter.clone(),
            },
        )),
        Err(errors) => {
            eprint!("{errors}");
            Err(Exit::INVALID)
        }
    }
}

fn validate(args: &SpecArgs) -> u8 {
    match load(args) {
        Ok(plan) => {
            println!(
                "ok: {} resources, {} checks in {} spec files",
                plan.decls.len(),
                plan.check_count(),
                plan.files.len()
            );
            Exit::PASSED
        }
        Err(code) => code,
    }
}

fn list(args: &SpecArgs) -> u8 {
    match load(args) {
        Ok(plan) => {
            let mut out = io::stdout().lock();
            for decl in &plan.decls {
                for check in &decl.checks {
                    let _ = writeln!(
                        out,
                        "{} {} › {} = {}  ({})",
                        decl.kind.key,
                        decl.id,
                        check.prop.name,
                        check.expect,
                        check.location.short()
                    );
                }
            }
            Exit::PASSED
        }
        Err(code) => code,
    }
}

/// A report file: written to a temporary file beside it and renamed into place only
/// when the report is complete, so a crash never leaves half a report.
struct ReportFile {
    path: PathBuf,
    temp: Arc<Mutex<Option<NamedTempFile>>>,
}

struct TempWriter(Arc<Mutex<Option<NamedTempFile>>>);

impl Write for TempWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self
            .0
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .as_mut()
        {
            Some(f) => f.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self
            .0
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .as_mut()
        {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl ReportFile {
    /// Prepares the temporary file; the error is a sentence naming what to fix.
    fn create(path: &Path) -> Result<Self, String> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let cannot = |why: String| format!("cannot write report `{}`: {why}", path.display());
        if !dir.is_dir() {
            return Err(cannot(format!(
                "folder `{}` does not exist; create it first",
                dir.display()
            )));
        }
        if path.is_dir() {
            return Err(cannot("it is a folder; name a file in it".into()));
        }
        let temp = tempfile::Builder::new()
            .prefix(".ispec-report-")
            // As a plain `File::create` would (the umask applies), not the private 0600
            // of temporary files: CI archives reports for other users to read.
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(|e| cannot(io::Error::from(e.kind()).to_string()))?;
        Ok(Self {
            path: path.to_path_buf(),
            temp: Arc::new(Mutex::new(Some(temp))),
        })
    }

    fn writer(&self) -> Box<dyn Write + Send> {
        // Reporters write in small pieces; one system call per piece would be slow.
        Box::new(io::BufWriter::new(TempWriter(Arc::clone(&self.temp))))
    }

    fn commit(&self) -> io::Result<()> {
        let temp = self
            .temp
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .take();
        if let Some(temp) = temp {
            temp.persist(&self.path).map_err(|e| e.error)?;
        }
        Ok(())
    }
}

fn run_checks(args: &RunArgs) -> u8 {
    let plan = match load(&args.specs) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let mut files: Vec<(Format, ReportFile)> = Vec::new();
    for (format, path) in &args.reports {
        if files.iter().any(|(_, f)| f.path == *path) {
            eprintln!(
                "error: two `--report` flags write `{}`; give each report its own file",
                path.display()
            );
            return Exit::INVALID;
        }
        match ReportFile::create(path) {
            Ok(file) => files.push((*format, file)),
            Err(why) => {
                eprintln!("error: {why}");
                return Exit::INVALID;
            }
        }
    }
    let mut hosts = Vec::new();
    for target in &args.targets {
        match backend::connect(target) {
            Ok(b) => hosts.push(Host::new(b)),
            Err(e @ backend::ConnectError::Backend(_)) => {
                eprintln!("error: {e}");
                return Exit::UNREACHABLE;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::INVALID;
            }
        }
    }
    let color = match args.color.as_str() {
        "always" => true,
        "never" => false,
        _ => console::colors_enabled() && io::stdout().is_terminal(),
    };
    let mut reporters = vec![report::reporter(args.format, Box::new(io::stdout()), color)];
    reporters.extend(
        files
            .iter()
            .map(|(format, file)| report::reporter(*format, file.writer(), false)),
    );
    let progress = io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} checks {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut out = Tee::new(reporters, progress);
    let opts = RunOptions {
        jobs: usize::from(args.jobs),
        timeout: args.timeout,
        ..RunOptions::default()
    };
    match run_all(&plan, &hosts, &opts, &mut out) {
        Ok(summary) => {
            for (_, file) in &files {
                if let Err(e) = file.commit() {
                    eprintln!("error: cannot write report `{}`: {e}", file.path.display());
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

fn run_all(plan: &Plan, hosts: &[Host], opts: &RunOptions, out: &mut Tee) -> io::Result<Summary> {
    out.start(plan.check_count() * hosts.len())?;
    let mut total = Summary::default();
    for host in hosts {
        let s = run::execute(plan, host, opts, out)?;
        total.passed += s.passed;
        total.failed += s.failed;
        total.skipped += s.skipped;
        total.errored += s.errored;
        total.duration += s.duration;
    }
    out.finish(&total)?;
    Ok(total)
}
