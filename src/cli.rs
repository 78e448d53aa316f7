//! The command line: argv → what to run. The only module that knows flag names.

mod add;
mod run;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::backend::TargetSpec;
use crate::backend::docker::{ContainerSpec, Wait, parse_port};
use crate::exit::Exit;
use crate::plan::{Filter, Plan};
use crate::report::Format;
use crate::spec;

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
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Human format: show only resources that failed or errored.
    #[arg(short, long)]
    quiet: bool,
    /// Colors in the human format: auto (terminal, no NO_COLOR), always or never.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "always", "never"])]
    color: String,
    /// Throwaway containers and checks in containers (last: its help heading applies
    /// to every flag after it).
    #[command(flatten)]
    container: ContainerArgs,
    #[command(flatten)]
    ssh: SshArgs,
}

/// How `ssh://` targets are reached.
#[derive(Debug, Args)]
#[command(next_help_heading = "SSH")]
struct SshArgs {
    /// An identity (private key) file to log in with, tried after the agent (repeatable).
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    identities: Vec<PathBuf>,
    /// The OpenSSH client config to read [default: ~/.ssh/config].
    #[arg(long, value_name = "FILE")]
    ssh_config: Option<PathBuf>,
    /// The known hosts file to check host keys against [default: ~/.ssh/known_hosts].
    #[arg(long, value_name = "FILE")]
    known_hosts: Option<PathBuf>,
    /// Accept and record the host key of a host not in known hosts (a changed key is
    /// still refused).
    #[arg(long)]
    accept_new_host_key: bool,
    /// Run every check's commands as root through `sudo` (password: ISPEC_SUDO_PASSWORD).
    #[arg(long)]
    sudo: bool,
    /// How long connecting and logging in to a host may take.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    connect_timeout: Duration,
}

impl SshArgs {
    fn options(&self) -> crate::backend::ssh::SshOptions {
        crate::backend::ssh::SshOptions {
            identities: self.identities.clone(),
            config: self.ssh_config.clone(),
            known_hosts: self.known_hosts.clone(),
            accept_new_host_keys: self.accept_new_host_key,
            sudo: self.sudo,
            connect_timeout: self.connect_timeout,
        }
    }
}

/// Throwaway containers (`--image`) and how checks run in containers.
#[derive(Debug, Args)]
#[command(next_help_heading = "Containers")]
struct ContainerArgs {
    /// Start a throwaway container from IMAGE, check it, remove it (repeatable).
    #[arg(long = "image", value_name = "IMAGE")]
    images: Vec<String>,
    /// Set an environment variable in the container; `KEY` alone passes this machine's
    /// value (repeatable).
    #[arg(short, long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<String>,
    /// Replace the image's command, split like a shell would, e.g. `"nginx -g 'daemon off;'"`.
    #[arg(long, value_name = "COMMAND")]
    cmd: Option<String>,
    /// Replace the image's entrypoint, split like a shell would.
    #[arg(long, value_name = "COMMAND")]
    entrypoint: Option<String>,
    /// Run checks (and a throwaway container) as this user, e.g. `www-data` or `1000:1000`.
    #[arg(short, long, value_name = "USER")]
    user: Option<String>,
    /// Publish a port: `80`, `8080:80`, `IP:8080:80/udp`; on 127.0.0.1 unless an IP is given.
    #[arg(short, long = "publish", value_name = "PORT", value_parser = parse_publish)]
    publish: Vec<String>,
    /// Mount a volume or folder: `SOURCE:DEST[:ro]` (repeatable).
    #[arg(short, long = "volume", value_name = "SRC:DEST")]
    volumes: Vec<String>,
    /// Mount a tmpfs: `DEST[:OPTIONS]` (repeatable).
    #[arg(long, value_name = "DEST")]
    tmpfs: Vec<String>,
    /// Run the throwaway container privileged.
    #[arg(long)]
    privileged: bool,
    /// Add a label to throwaway containers, e.g. the CI job's id (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    labels: Vec<String>,
    /// Before checking, wait until this TCP port listens inside the container.
    #[arg(long, value_name = "PORT")]
    wait_port: Option<u16>,
    /// Before checking, wait until the container prints a line containing TEXT.
    #[arg(long, value_name = "TEXT")]
    wait_log: Option<String>,
    /// Before checking, wait for the image's HEALTHCHECK to pass (the default when it
    /// has one and nothing else is waited for); `--wait-health=false` skips it.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    wait_health: Option<bool>,
    /// How long the container may take to become ready [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    wait_within: Option<Duration>,
    /// Leave throwaway containers running afterwards, and print how to get in.
    #[arg(long)]
    keep: bool,
}

impl ContainerArgs {
    /// The throwaway container for `image`, as the flags shape it.
    fn spec(&self, image: &str) -> Result<ContainerSpec, String> {
        let split = |flag: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| shell_words::split(t).map_err(|e| format!("`--{flag}`: {e}")))
                .transpose()
        };
        Ok(ContainerSpec {
            image: image.to_string(),
            env: self.env.clone(),
            cmd: split("cmd", &self.cmd)?,
            entrypoint: split("entrypoint", &self.entrypoint)?,
            user: self.user.clone(),
            ports: self.publish.clone(),
            volumes: self.volumes.clone(),
            tmpfs: self.tmpfs.clone(),
            privileged: self.privileged,
            labels: self.labels.clone(),
            wait: Wait {
                port: self.wait_port,
                log: self.wait_log.clone(),
                health: self.wait_health,
                within: self.wait_within.unwrap_or(Wait::default().within),
            },
            keep: self.keep,
        })
    }

    /// Applies the flags to a suite's image target: lists (env, ports, volumes, tmpfs,
    /// labels) add to what the suite says, the rest replace it when given.
    fn apply(&self, spec: &mut ContainerSpec) -> Result<(), String> {
        let flags = self.spec(&spec.image)?;
        spec.env.extend(flags.env);
        spec.ports.extend(flags.ports);
        spec.volumes.extend(flags.volumes);
        spec.tmpfs.extend(flags.tmpfs);
        spec.labels.extend(flags.labels);
        spec.cmd = flags.cmd.or(spec.cmd.take());
        spec.entrypoint = flags.entrypoint.or(spec.entrypoint.take());
        spec.user = flags.user.or(spec.user.take());
        spec.privileged |= flags.privileged;
        spec.keep |= flags.keep;
        spec.wait.port = flags.wait.port.or(spec.wait.port);
        spec.wait.log = flags.wait.log.or(spec.wait.log.take());
        spec.wait.health = flags.wait.health.or(spec.wait.health);
        if let Some(within) = self.wait_within {
            spec.wait.within = within;
        }
        Ok(())
    }
}

fn parse_label(s: &str) -> Result<String, String> {
    match s.split_once('=') {
        Some((key, _)) if !key.is_empty() => Ok(s.to_string()),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

/// `KEY=VALUE`, or `KEY` alone for this machine's value of it (as `docker run -e`).
fn parse_env(s: &str) -> Result<String, String> {
    match s.split_once('=') {
        Some((key, _)) if !key.is_empty() => Ok(s.to_string()),
        None if !s.is_empty() => std::env::var(s)
            .map(|value| format!("{s}={value}"))
            .map_err(|_| format!("`{s}` is not set here; write `{s}=VALUE`")),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

fn parse_publish(s: &str) -> Result<String, String> {
    parse_port(s).map(|_| s.to_string())
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

/// One target and the plan it must pass, before anything is touched.
struct Planned {
    target: TargetSpec,
    /// The suite roles that gave it its specs.
    roles: Vec<String>,
    plan: Plan,
}

/// What to check: every SPEC on each target (`--target` URIs and `--image` images;
/// `local` when none), or, with no SPEC, the suite's targets and the specs each must
/// pass. Everything is loaded and type-checked before anything runs; errors are
/// printed and become the exit code.
fn planned(args: &SpecArgs, targets: &[TargetSpec]) -> Result<Vec<Planned>, u8> {
    if !args.specs.is_empty() {
        let targets = if targets.is_empty() {
            vec![TargetSpec::Uri("local".to_string())]
        } else {
            targets.to_vec()
        };
        let plan = load_plan(&args.specs, &args.filter)?;
        return Ok(targets
            .into_iter()
            .map(|target| Planned {
                target,
                roles: Vec::new(),
                plan: plan.clone(),
            })
            .collect());
    }
    if !targets.is_empty() {
        eprintln!(
            "error: `--target` and `--image` need SPEC arguments; a suite (`{}`) names its own targets",
            args.suite.display()
        );
        return Err(Exit::INVALID);
    }
    if !args.suite.exists() {
        eprintln!(
            "error: no SPEC given and no suite `{}` here\n  = help: name specs (`ispec run specs/`) or write an `ispec.toml` (see the book's Commands chapter)",
            args.suite.display()
        );
        return Err(Exit::INVALID);
    }
    let mut suite = spec::load_suite(&args.suite).map_err(|errors| {
        eprint!("{errors}");
        Exit::INVALID
    })?;
    if !args.only.is_empty() {
        suite = suite.only(&args.only).map_err(|e| {
            eprintln!("error: {e}");
            Exit::INVALID
        })?;
    }
    // Hosts of one role share its specs: load them once, not once per host.
    let mut plans: Vec<(Vec<PathBuf>, Plan)> = Vec::new();
    let mut planned = Vec::new();
    for t in suite.targets() {
        let plan = if let Some((_, plan)) = plans.iter().find(|(specs, _)| *specs == t.specs) {
            plan.clone()
        } else {
            let plan = load_plan(&t.specs, &args.filter)?;
            plans.push((t.specs.clone(), plan.clone()));
            plan
        };
        planned.push(Planned {
            target: t.target,
            roles: t.roles,
            plan,
        });
    }
    Ok(planned)
}

/// Loads and plans specs, printing spec errors; the error is the exit code.
fn load_plan(specs: &[PathBuf], filter: &[String]) -> Result<Plan, u8> {
    match spec::load(specs) {
        Ok(spec) => Ok(Plan::build(
            spec,
            &Filter {
                patterns: filter.to_vec(),
            },
        )),
        Err(errors) => {
            eprint!("{errors}");
            Err(Exit::INVALID)
        }
    }
}

fn validate(args: &SpecArgs) -> u8 {
    match planned(args, &[]) {
        Ok(plans) => {
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
            for Planned {
                target,
                roles,
                plan,
            } in &plans
            {
                if args.specs.is_empty() {
                    let _ = write!(out, "# target {}", target.name());
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
            for c in &removed {
                println!(
                    "removed {}{} (from {})",
                    c.name,
                    if c.kept { ", kept with --keep" } else { "" },
                    c.image
                );
            }
            println!(
                "{} container{} removed",
                removed.len(),
                if removed.len() == 1 { "" } else { "s" }
            );
            Exit::PASSED
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::UNREACHABLE
        }
    }
}
