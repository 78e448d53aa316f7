//! `process`: whether processes of a given name run, how many, as whom, with what
//! command lines, how many are zombies and how many descriptors they hold open. The
//! id `*` stands for every process of the target, for the hygiene of a whole
//! container or host (`[process."*"] zombies = 0`).
//!
//! One fixed shell script walks `/proc` once per run and lists every process; all
//! process checks share that listing. No `ps` is needed, as containers often lack
//! procps. The script prints NUL-separated fields, the one byte that can appear in
//! neither a process name nor a command line once its NULs are made spaces.

use std::fmt::Write as _;

use crate::cmd::Cmd;
use crate::expect::{Ty, Value};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};

use super::{Kind, Observed, Options, PropDef, Resource, user};

pub(super) const KIND: Kind = Kind {
    key: "process",
    props: &[
        PropDef::gate("running", "at least one process of that name runs"),
        PropDef::new("count", Ty::Int, "how many processes of that name run"),
        PropDef::new(
            "users",
            Ty::List,
            "the distinct users the processes run as (effective uid; a number if not in /etc/passwd)",
        ),
        PropDef::new(
            "args",
            Ty::Str,
            "the full command lines of the processes, one per line",
        ),
        PropDef::new(
            "zombies",
            Ty::Int,
            "how many of the processes are zombies (exited, never reaped by their parent)",
        ),
        PropDef::new(
            "open-fds",
            Ty::Int,
            "the most descriptors one of the processes holds open (needs root for other users' processes)",
        ),
        PropDef::new(
            "total-open-fds",
            Ty::Int,
            "the descriptors all the processes hold open together (needs root for other users' processes)",
        ),
    ],
    options: &[],
    new,
};

/// The id that matches every process of the target, for checks of the whole target
/// (`[process."*"] zombies = 0`).
pub(crate) const EVERY: &str = "*";

/// The longest process name the kernel keeps (`TASK_COMM_LEN` less the NUL).
const COMM_MAX: usize = 15;

/// Lists every process as `pid NUL euid NUL comm NUL cmdline NUL state NUL fds NUL`
/// (the probe's format, [`Query::Processes`](ispec_probe::wire::Query::Processes)),
/// the command line's own NULs turned into spaces, the state the letter of `State:`
/// in `status` (`Z`: a zombie), `fds` the entries of `/proc/PID/fd`, or `-` when this
/// user may not read it. A process that exits while it is read is left out.
/// The script's own shell (`$$`) is left out, so it never matches a check, and so is
/// the process named by its first argument (the shell of a gathering script); the `tr`
/// it starts are not listed because the glob is expanded before any of them runs.
/// `read` keeps only the first line of a name that holds a newline. When `/proc` is
/// mounted with `hidepid` and pid 1 is hidden, other users' processes would silently
/// be missing, so the script stops instead.
pub(crate) const SCRIPT: &str = r#"[ -r /proc/self/status ] || { echo '/proc is not mounted' >&2; exit 3; }
[ -r /proc/1/status ] || { echo 'processes of other users are hidden' >&2; exit 4; }
skip=${1:-}
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  { [ "$pid" = "$$" ] || [ "$pid" = "$skip" ]; } && continue
  uid= state=-
  { while read -r key real eff rest; do
      case $key in
        State:) state=$real ;;
        Uid:) uid=$eff; break ;;
      esac
    done < "$d/status"; } 2>/dev/null
  [ -n "$uid" ] || continue
  IFS= read -r comm < "$d/comm" 2>/dev/null || continue
  args=$(tr '\000' ' ' < "$d/cmdline" 2>/dev/null)
  fds=-
  if [ -r "$d/fd" ] && [ -x "$d/fd" ]; then
    set -- "$d"/fd/[0-9]*
    if [ -L "$1" ]; then fds=$#; else fds=0; fi
  fi
  printf '%s\000%s\000%s\000%s\000%s\000%s\000' "$pid" "$uid" "$comm" "$args" "$state" "$fds"
done
"#;

/// One process as the script lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProcEntry {
    pid: u32,
    uid: u32,
    /// The kernel's name for it, at most 15 bytes.
    comm: String,
    /// The command line, words joined by spaces; empty for kernel threads and zombies.
    args: String,
    /// The state letter: `R`, `S`, `D`, `Z` (a zombie), ...
    state: String,
    /// How many descriptors it holds open; `None` when this user may not see them.
    fds: Option<u32>,
}

impl ProcEntry {
    /// Returns true if and only if this process is called `name`: its kernel name, the
    /// file name of its `argv[0]`, or, for a name longer than the kernel keeps, the file
    /// name of `argv[1]` when the kernel name is the cut name (a script started
    /// through its `#!` line runs as `interpreter script`).
    fn is_named(&self, name: &str) -> bool {
        let mut words = self.args.split(' ');
        if self.comm == name || base(words.next()) == Some(name) {
            return true;
        }
        name.len() > COMM_MAX
            && self.comm.len() == COMM_MAX
            && name.as_bytes().starts_with(self.comm.as_bytes())
            && base(words.next()) == Some(name)
    }

    /// Returns true if and only if the process has exited and its parent has not
    /// reaped it.
    fn is_zombie(&self) -> bool {
        self.state == "Z"
    }

    /// The command line as `ps` shows it: a process without one as `[name]`.
    fn command_line(&self) -> String {
        if self.args.is_empty() {
            format!("[{}]", self.comm)
        } else {
            self.args.clone()
        }
    }
}

/// The file name of a command line word, as `argv[0]` is matched.
fn base(word: Option<&str>) -> Option<&str> {
    word.and_then(|w| w.rsplit('/').next())
}

/// How many fields a record of the listing has.
const FIELDS: usize = 6;

/// Parses the script's output, sorted by pid.
fn parse_processes(out: &[u8]) -> Result<Vec<ProcEntry>, String> {
    let Some(body) = out.strip_suffix(b"\0") else {
        return if out.is_empty() {
            Ok(Vec::new())
        } else {
            Err("the process listing ends in the middle of a field".into())
        };
    };
    let fields: Vec<String> = body
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    if fields.len() % FIELDS != 0 {
        return Err(format!(
            "the process listing has {} fields, not a multiple of {FIELDS}",
            fields.len()
        ));
    }
    let mut entries = fields
        .chunks_exact(FIELDS)
        .map(|f| {
            let num = |s: &str| {
                s.parse::<u32>()
                    .map_err(|_| format!("unexpected process listing record {f:?}"))
            };
            Ok(ProcEntry {
                pid: num(&f[0])?,
                uid: num(&f[1])?,
                comm: f[2].clone(),
                // The last NUL of a command line became a trailing space.
                args: f[3].trim_end_matches(' ').to_string(),
                state: f[4].clone(),
                fds: if f[5] == "-" { None } else { Some(num(&f[5])?) },
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    entries.sort_by_key(|e| e.pid);
    Ok(entries)
}

/// Every process on the target, listed once per run for every check.
fn processes(host: &Host) -> Result<Vec<ProcEntry>, ProbeError> {
    if let Some(listing) = host.gathered_processes() {
        return parse_processes(&listing?).map_err(ProbeError::Failed);
    }
    let out = match host.run_memo(&Cmd::shell(SCRIPT)) {
        Ok(out) => out,
        // No shell on the target (a `FROM scratch` image): the backend may list the
        // processes itself.
        Err(ProbeError::ToolMissing(tool)) => {
            let listing = host
                .processes()
                .unwrap_or(Err(ProbeError::ToolMissing(tool)))?;
            return parse_processes(&listing).map_err(ProbeError::Failed);
        }
        Err(e) => return Err(e),
    };
    match out.status {
        Some(0) => parse_processes(&out.stdout).map_err(ProbeError::Failed),
        Some(3) => Err(ProbeError::Failed(
            "`/proc` is not mounted on the target; process checks read it".into(),
        )),
        Some(4) => Err(ProbeError::Denied(
            "`/proc` hides other users' processes (`hidepid`); check as root".into(),
        )),
        _ => Err(ProbeError::Failed(format!(
            "listing processes failed: {}",
            out.stderr_text()
        ))),
    }
}

/// How many pids an error names before it says how many more there are.
const PIDS_NAMED: usize = 10;

/// The open descriptors of each of `procs`; an error naming the processes whose
/// descriptors this user may not see, as a count of some would be too low.
fn open_fds(procs: &[ProcEntry]) -> Result<Vec<u32>, ProbeError> {
    let hidden: Vec<String> = procs
        .iter()
        .filter(|p| p.fds.is_none())
        .map(|p| p.pid.to_string())
        .collect();
    if hidden.is_empty() {
        return Ok(procs.iter().filter_map(|p| p.fds).collect());
    }
    let mut pids = hidden[..hidden.len().min(PIDS_NAMED)].join(", ");
    if hidden.len() > PIDS_NAMED {
        let _ = write!(pids, " and {} more", hidden.len() - PIDS_NAMED);
    }
    Err(ProbeError::Denied(format!(
        "cannot count the open descriptors of pid{} {pids} (another user's processes); \
         check as root (`--sudo`, `--user root`)",
        if hidden.len() == 1 { "" } else { "s" }
    )))
}

/// A count as a value.
fn int(n: impl TryInto<i64>) -> Value {
    Value::Int(n.try_into().unwrap_or(i64::MAX))
}

#[derive(Debug)]
struct Process {
    /// The name processes are matched by, or [`EVERY`].
    name: String,
}

impl Process {
    /// Returns true if and only if this check is about `process`.
    fn covers(&self, process: &ProcEntry) -> bool {
        self.name == EVERY || process.is_named(&self.name)
    }
}

fn new(id: &str, _options: &Options) -> Result<Box<dyn Resource>, String> {
    if id.is_empty() {
        return Err("the process name is empty".into());
    }
    if let Some(c) = id.chars().find(|c| c.is_control()) {
        return Err(format!(
            "a process name cannot contain {c:?}; write the program's name, e.g. `nginx`"
        ));
    }
    Ok(Box::new(Process {
        name: id.to_string(),
    }))
}

impl Resource for Process {
    fn facts(&self, wanted: &[&'static str], _ask: &Ask<'_>) -> Vec<Fact> {
        let mut facts = vec![Fact::Processes];
        if super::wants(wanted, "users") {
            facts.push(Fact::Read(user::PASSWD_PATH.into()));
        }
        facts
    }

    fn probe(&self, host: &Host, wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        let matching: Vec<ProcEntry> = processes(host)?
            .into_iter()
            .filter(|p| self.covers(p))
            .collect();
        let mut seen = Observed::new();
        seen.set("running", Value::Bool(!matching.is_empty()));
        seen.set("count", int(matching.len()));
        let lines: Vec<String> = matching.iter().map(ProcEntry::command_line).collect();
        seen.set("args", Value::Str(lines.join("\n")));
        seen.set(
            "zombies",
            int(matching.iter().filter(|p| p.is_zombie()).count()),
        );
        if matching.is_empty() && self.name != EVERY {
            // Hygiene of a process that does not run cannot be seen: "no zombies"
            // would pass for a service that crashed.
            for prop in ["zombies", "open-fds", "total-open-fds"] {
                seen.put(
                    prop,
                    Err(ProbeError::Failed(format!(
                        "no process named `{}` runs, so its {prop} cannot be counted",
                        self.name
                    ))),
                );
            }
        } else if super::wants(wanted, "open-fds") || super::wants(wanted, "total-open-fds") {
            let fds = open_fds(&matching);
            seen.put(
                "open-fds",
                fds.clone()
                    .map(|fds| int(fds.iter().copied().max().unwrap_or(0))),
            );
            seen.put(
                "total-open-fds",
                fds.map(|fds| int(fds.iter().map(|&n| u64::from(n)).sum::<u64>())),
            );
        }
        if super::wants(wanted, "users") {
            let users = user::passwd(host).map(|accounts| {
                let mut names: Vec<String> = Vec::new();
                for p in &matching {
                    let name = accounts
                        .iter()
                        .flatten()
                        .find(|u| u.uid == i64::from(p.uid))
                        .map_or_else(|| p.uid.to_string(), |u| u.name.clone());
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                Value::List(names)
            });
            seen.put("users", users);
        }
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(os: &str) -> Vec<u8> {
        crate::resource::fixture("process", os, "processes").into_bytes()
    }

    fn fixture_case(os: &str, case: &str) -> Vec<u8> {
        crate::resource::fixture("process", os, case).into_bytes()
    }

    fn named<'a>(entries: &'a [ProcEntry], name: &str) -> Vec<&'a ProcEntry> {
        entries.iter().filter(|p| p.is_named(name)).collect()
    }

    #[test]
    fn parses_a_debian_listing() {
        let entries = parse_processes(&fixture("debian-12")).unwrap();
        assert_eq!(entries.len(), 12);
        assert!(entries.windows(2).all(|w| w[0].pid < w[1].pid));
        let kthreadd = &named(&entries, "kthreadd")[0];
        assert_eq!((kthreadd.pid, kthreadd.uid), (2, 0));
        assert_eq!(kthreadd.command_line(), "[kthreadd]");
        let sleeps = named(&entries, "sleep");
        assert_eq!(sleeps.len(), 4);
        assert_eq!(sleeps[0].uid, 65534);
        assert_eq!(sleeps[0].args, "sleep 3601");
        assert_eq!(sleeps[1].uid, 4242);
        // An argument with a newline stays in its record. The `#!` script counts as
        // `sh` too: its `argv[0]` is `/bin/sh`.
        let sh = named(&entries, "sh");
        assert_eq!(sh.len(), 2);
        assert_eq!(sh[0].args, "/bin/sh ./my-long-script-name.sh");
        assert_eq!(sh[1].args, "sh -c sleep 3604; true sh line1\nline2");
        // `python3 script` is named after the interpreter, not the script.
        assert_eq!(named(&entries, "python3").len(), 1);
        assert!(named(&entries, "ispec_listen.py").is_empty());
    }

    #[test]
    fn long_names_match_past_the_kernel_cut() {
        let entries = parse_processes(&fixture("debian-12")).unwrap();
        let sleeper = named(&entries, "ispec-sleeper-long-name-xyz");
        assert_eq!(sleeper.len(), 1);
        assert_eq!(sleeper[0].comm, "ispec-sleeper-l");
        assert_eq!(sleeper[0].args, "./ispec-sleeper-long-name-xyz 3600 0.5");
        // The cut name itself is the kernel's name, so it matches too.
        assert_eq!(named(&entries, "ispec-sleeper-l").len(), 1);
        assert!(named(&entries, "ispec-sleeper-long-name-abc").is_empty());
        // A `#!` script with a long name runs as `/bin/sh ./my-long-script-name.sh`.
        let script = named(&entries, "my-long-script-name.sh");
        assert_eq!(script.len(), 1);
        assert_eq!(script[0].comm, "my-long-script-");
        assert!(named(&entries, "my-long-script-name.py").is_empty());
    }

    #[test]
    fn parses_an_alpine_listing() {
        let entries = parse_processes(&fixture("alpine-3.19")).unwrap();
        let crond = named(&entries, "crond");
        assert_eq!(crond.len(), 1);
        assert_eq!(crond[0].args, "/usr/sbin/crond -f -l 2");
        let nginx = named(&entries, "nginx");
        assert_eq!(nginx.len(), 3);
        assert_eq!(
            nginx[0].args,
            "nginx: master process /usr/sbin/nginx -g daemon off;"
        );
        assert_eq!(nginx[1].uid, 100);
    }

    #[test]
    fn parses_states_and_open_descriptors() {
        let entries = parse_processes(&fixture("debian-12")).unwrap();
        let kthreadd = &named(&entries, "kthreadd")[0];
        assert_eq!((kthreadd.state.as_str(), kthreadd.fds), ("I", Some(0)));
        let entries = parse_processes(&fixture_case("debian-12", "hygiene")).unwrap();
        let sleeps = named(&entries, "sleep");
        assert_eq!(sleeps.len(), 3);
        assert_eq!(sleeps.iter().filter(|p| p.is_zombie()).count(), 2);
        assert!(!sleeps[0].is_zombie());
        assert_eq!(sleeps[1].command_line(), "[sleep]");
        let hog = named(&entries, "fdhog");
        assert_eq!(hog[0].fds, Some(1203));
        assert_eq!(open_fds(&entries).unwrap(), [3, 0, 0, 1203]);
    }

    #[test]
    fn descriptors_another_user_holds_are_an_error_naming_the_pids() {
        let entries = parse_processes(&fixture_case("debian-12", "hygiene-nobody")).unwrap();
        assert!(entries.iter().all(|p| p.fds.is_none()));
        // Zombies need no permission.
        assert_eq!(entries.iter().filter(|p| p.is_zombie()).count(), 2);
        let err = open_fds(&entries).unwrap_err();
        assert!(matches!(err, ProbeError::Denied(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("pids 1, 7, 8, 10 "), "{text}");
        assert!(text.contains("`--sudo`, `--user root`"), "{text}");
        let one = open_fds(&entries[..1]).unwrap_err().to_string();
        assert!(one.contains("pid 1 "), "{one}");
        let many: Vec<ProcEntry> = (1..=12)
            .map(|pid| ProcEntry {
                pid,
                ..entries[0].clone()
            })
            .collect();
        let text = open_fds(&many).unwrap_err().to_string();
        assert!(
            text.contains("pids 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more"),
            "{text}"
        );
    }

    #[test]
    fn the_star_covers_every_process() {
        let entries = parse_processes(&fixture_case("debian-12", "hygiene")).unwrap();
        let every = Process { name: EVERY.into() };
        assert!(entries.iter().all(|p| every.covers(p)));
        let hog = Process {
            name: "fdhog".into(),
        };
        assert_eq!(entries.iter().filter(|p| hog.covers(p)).count(), 1);
    }

    #[test]
    fn refuses_broken_listings() {
        assert_eq!(parse_processes(b"").unwrap(), []);
        assert!(parse_processes(b"1\x000\x00init").is_err());
        assert!(parse_processes(b"1\x000\x00init\x00").is_err());
        assert!(parse_processes(b"x\x000\x00init\x00/sbin/init\x00S\x004\x00").is_err());
        // The four fields of the listing before it had states and descriptors.
        assert!(parse_processes(b"1\x000\x00init\x00/sbin/init\x00").is_err());
        assert!(parse_processes(b"1\x000\x00init\x00/sbin/init\x00S\x00x\x00").is_err());
        let ok = parse_processes(b"1\x000\x00init\x00/sbin/init\x00S\x00-\x00").unwrap();
        assert_eq!((ok[0].state.as_str(), ok[0].fds), ("S", None));
    }

    #[test]
    fn the_script_lists_local_processes_but_not_itself() {
        let host = Host::local();
        let entries = processes(&host).unwrap();
        let me = std::process::id();
        let this = entries.iter().find(|p| p.pid == me).unwrap();
        let argv: Vec<String> = std::env::args().collect();
        assert_eq!(this.args, argv.join(" "));
        // The probe lists the same fields. (Here, not in a test of its own: a script
        // running on another thread would be listed by this one.) Threads of this
        // test open and close descriptors, so the counts may differ a little.
        let by_probe = ispec_probe::serve::listing(std::path::Path::new("/proc"), &[]).unwrap();
        let probe = parse_processes(&by_probe).unwrap();
        let that = probe.iter().find(|p| p.pid == me).unwrap();
        assert_eq!(
            (&this.comm, &this.args, &this.state),
            (&that.comm, &that.args, &that.state)
        );
        assert!(this.fds.is_some_and(|n| n >= 3), "{this:?}");
        assert!(that.fds.is_some_and(|n| n >= 3), "{that:?}");
        assert!(
            !entries.iter().any(|p| p.args.contains("/proc/[0-9]*")),
            "the probe's own shell was listed"
        );
        let seen = new("ispec-no-such-process", &Options::new())
            .unwrap()
            .probe(&host, &["running", "users", "zombies", "open-fds"])
            .unwrap();
        assert_eq!(seen.get("running").unwrap(), &Value::Bool(false));
        assert_eq!(seen.get("count").unwrap(), &Value::Int(0));
        assert_eq!(seen.get("users").unwrap(), &Value::List(vec![]));
        // The hygiene of a process that does not run is an error, never "no zombies".
        for prop in ["zombies", "open-fds", "total-open-fds"] {
            assert_eq!(
                seen.get(prop).unwrap_err().to_string(),
                format!(
                    "no process named `ispec-no-such-process` runs, so its {prop} cannot be counted"
                )
            );
        }
        // One listing served both probes.
        assert_eq!(host.round_trips(), 2);
    }

    #[test]
    fn names_are_checked() {
        assert!(new("", &Options::new()).is_err());
        assert!(new("a\nb", &Options::new()).is_err());
        assert!(new("$(touch /tmp/pwned)", &Options::new()).is_ok());
    }
}
