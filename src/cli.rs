//! The command line: argv → what to run. The only module that knows flag names. It
//! is the `ispec` binary's, not part of the library's API (hidden from its docs).

mod add;
mod plan;
mod run;
mod stats;
mod target_flags;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::exit::Exit;
use crate::report::Format;
use crate::spec;
use plan::{Planned, planned};
use target_flags::{ContainerArgs, SshArgs};

const EXAMPLES: &str = "\
Examples:
  ispec run specs/web.toml                      check this machine
  ispec run specs/ --format tap                 every spec in a folder, TAP on stdout
  ispec run specs/ --report junit:report.xml    terminal view and a JUnit file for CI
  ispec validate specs/                         type-check specs, touch no target
  ispec list specs/                             the checks a run would make
  ispec run                                     the suite in ./ispec.toml
  ispec run specs/ --image web:candidate        start a throwaway container, check it, remove it
  ispec run specs/ -t docker://web-1            check a running container
  ispec run specs/ -t ssh://web-1 --sudo        check a host over SSH, as root
  ispec add user www-data                       print a resource's state as spec TOML
  ispec clean                                   remove containers a killed run left behind

Exit codes: 0 all checks passed, 1 a check failed or errored,
            2 bad spec or command line (nothing ran), 3 target unreachable,
            130/143 interrupted by Ctrl-C/SIGTERM (containers removed).";

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
    Run(Box<RunArgs>),
    /// Parse and type-check specs; no target is touched.
    Validate(SpecArgs),
    /// Print the checks a run would make, one per line.
    List(SpecArgs),
    /// Print the current state of one resource as spec TOML, to start a spec from.
    Add(AddArgs),
    /// Remove the containers ispec started that a killed run (or `--keep`) left behind.
    Clean(CleanArgs),
}

#[derive(Debug, Args)]
struct CleanArgs {
    /// Also remove containers of ispec runs that are still going.
    #[arg(long)]
    all: bool,
    /// Only containers with this label, `KEY` or `KEY=VALUE`, e.g. a CI job's (repeatable).
    #[arg(long = "label", value_name = "KEY[=VALUE]")]
    labels: Vec<String>,
}

#[derive(Debug, Args)]
struct SpecArgs {
    /// Spec files or folders of `*.toml` specs; none: the suite (`ispec.toml`).
    #[arg(value_name = "SPEC_OR_DIR")]
    specs: Vec<PathBuf>,
    /// Keep only resources whose `kind id` or title contains this (repeatable).
    #[arg(long, value_name = "TEXT")]
    filter: Vec<String>,
    /// The suite file to use when no SPEC is given.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "ispec.toml",
        conflicts_with = "specs"
    )]
    suite: PathBuf,
    /// Only this target or role of the suite (repeatable).
    #[arg(long, value_name = "NAME", conflicts_with = "specs")]
    only: Vec<String>,
    /// Gives `${KEY}` in specs and the suite this value, over the environment and the
    /// suite's `[vars]` (repeatable).
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = spec::parse_var)]
    vars: Vec<(String, String)>,
}

impl SpecArgs {
    /// The variables `--var` sets, over the environment.
    fn variables(&self) -> spec::Vars {
        let mut vars = spec::Vars::from_env();
        for (k, v) in &self.vars {
            vars.set(k, v);
        }
        vars
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    specs: SpecArgs,
    /// Target to check (repeatable): `local` (the default), `docker://CONTAINER` or
    /// `ssh://[USER@]HOST[:PORT]`.
    #[arg(short, long = "target", value_name = "URI")]
    targets: Vec<String>,
    /// Format of standard output: human, tap, junit or json.
    #[arg(short, long, value_name = "F", default_value = "human")]
    format: Format,
    /// Also write a report in format F to FILE, atomically (repeatable).
    #[arg(long = "report", value_name = "F:FILE", value_parser = parse_report)]
    reports: Vec<(Format, PathBuf)>,
    /// How many resources are observed at once on each target.
    #[arg(short, long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    jobs: u16,
    /// How many targets are checked at once (each with its own `--jobs`).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    parallel: u16,
    /// Time limit for observing one resource, e.g. `30s`.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::spec::parse_duration)]
    timeout: Duration,
    /// Retry each failing resource without a `within` of its own until it holds or
    /// this much time has passed, e.g. `20s` (over the suite's `[defaults] within`)
    #[arg(long, value_name = "DURATION", value_parser = crate::spec::parse_duration)]
    within: Option<Duration>,
    /// Human format: show only resources that failed or errored.
    #[arg(short, long)]
    quiet: bool,
    /// When a container's checks do not all hold, show the last N lines it printed
    /// (standard output and error) in the report; 0 shows none.
    #[arg(long, value_name = "N", default_value_t = 20)]
    tail: usize,
    /// Colors in the human format: auto (terminal, no NO_COLOR), always or never.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "always", "never"])]
    color: String,
    /// How facts are gathered from a target: `probe` (ispec's static probe, copied in
    /// and run once per batch), `script` (one shell script per batch) or `per-fact`
    /// (one round trip per fact). Each falls back to the next where it cannot work.
    #[arg(long, value_name = "HOW", default_value = "probe", value_parser = ["probe", "script", "per-fact"])]
    gather: String,
    /// Same as `--gather script`: copy nothing into the target.
    #[arg(long, conflicts_with = "gather")]
    no_probe: bool,
    /// Print round trips, bytes moved and time per phase for each target on standard
    /// error when the run ends (the JSON report always has them).
    #[arg(long)]
    stats: bool,
    /// Throwaway containers and checks in containers (last: its help heading applies
    /// to every flag after it).
    #[command(flatten)]
    container: ContainerArgs,
    #[command(flatten)]
    ssh: SshArgs,
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
        Command::Run(args) => run::run(&args),
        Command::Add(args) => add::add(&args),
        Command::Clean(args) => clean(&args),
    })
}

#[derive(Debug, Args)]
struct AddArgs {
    /// The resource kind, e.g. `user`.
    kind: String,
    /// The resource id, e.g. `www-data`.
    id: String,
    /// The target to read it from.
    #[arg(short, long, value_name = "URI", default_value = "local")]
    target: String,
    /// Read it as this user of a `docker://` container.
    #[arg(short, long, value_name = "USER")]
    user: Option<String>,
    #[command(flatten)]
    ssh: SshArgs,
}

fn validate(args: &SpecArgs) -> u8 {
    match planned(args, &[]) {
        Ok(plans) => {
            let plans = plans.targets;
            let resources: usize = plans.iter().map(|p| p.plan.decls.len()).sum();
            let checks: usize = plans.iter().map(|p| p.plan.check_count()).sum();
            let mut files: Vec<_> = plans.iter().flat_map(|p| p.plan.files.iter()).collect();
            files.sort();
            files.dedup();
            let mut roles: Vec<&String> = plans.iter().flat_map(|p| &p.roles).collect();
            roles.sort();
            roles.dedup();
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            let targets = match (args.specs.is_empty(), roles.len()) {
                (false, _) => String::new(),
                (true, 0) => format!(" for {} target{}", plans.len(), plural(plans.len())),
                (true, n) => format!(
                    " for {} target{} ({n} role{})",
                    plans.len(),
                    plural(plans.len()),
                    plural(n)
                ),
            };
            println!(
                "ok: {resources} resources, {checks} checks in {} spec files{targets}",
                files.len()
            );
            Exit::PASSED
        }
        Err(code) => code,
    }
}

fn list(args: &SpecArgs) -> u8 {
    match planned(args, &[]) {
        Ok(plans) => {
            let mut out = io::stdout().lock();
            for planned @ Planned {
                target,
                roles,
                plan,
                checked,
                ..
            } in &plans.targets
            {
                if args.specs.is_empty() {
                    let (shown, uri) = (planned.shown(), target.name());
                    let _ = write!(out, "# target {shown}");
                    if uri != shown {
                        let _ = write!(out, " ({uri})");
                    }
                    if !checked {
                        let _ = write!(
                            out,
                            " (started, not checked: a chosen target starts after it)"
                        );
                    }
                    let _ = match roles.as_slice() {
                        [] => writeln!(out),
                        [role] => writeln!(out, " (role {role})"),
                        roles => writeln!(out, " (roles {})", roles.join(", ")),
                    };
                }
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
            }
            Exit::PASSED
        }
        Err(code) => code,
    }
}

fn clean(args: &CleanArgs) -> u8 {
    match crate::backend::docker::clean(true, args.all, &args.labels) {
        Ok(removed) => {
            for c in &removed.containers {
                println!(
                    "removed {}{} (from {})",
                    c.name,
                    if c.kept { ", kept with --keep" } else { "" },
                    c.image
                );
            }
            for network in &removed.networks {
                println!("removed network {network}");
            }
            let count =
                |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            let mut said = vec![count(removed.containers.len(), "container")];
            if !removed.networks.is_empty() {
                said.push(count(removed.networks.len(), "network"));
            }
            println!("{} removed", said.join(" and "));
            Exit::PASSED
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::UNREACHABLE
        }
    }
}
