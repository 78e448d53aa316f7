//! `process`: whether processes of a given name run, how many, as whom, with what
//! command lines.
//!
//! One fixed shell script walks `/proc` once per run and lists every process; all
//! process checks share that listing. No `ps` is needed, as containers often lack
//! procps. The script prints NUL-separated fields, the one byte that can appear in
//! neither a process name nor a command line once its NULs are made spaces.

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
    ],
    options: &[],
    new,
};

/// The longest process name the kernel keeps (`TASK_COMM_LEN` less the NUL).
const COMM_MAX: usize = 15;

/// Lists every process as `pid NUL euid NUL comm NUL cmdline NUL`, the command line's
/// own NULs turned into spaces. A process that exits while it is read is left out.
/// The script's own shell (`$$`) is left out, so it never matches a check, and so is
/// the process named by its first argument (the shell of a gathering script); the `tr`
/// it starts are not listed because the glob is expanded before any of them runs.
/// `read` keeps only the first line of a name that holds a newline. When `/proc` is
/// mounted with `hidepid` and pid 1 is hidden, other users' processes would silently
/// be missing, so the script stops instead.
pub(crate) const SCRIPT: &str = r#"[ -r /proc/self/status ] || { echo '/proc is not mounted' >&2; exit 3; }
[ -r /proc/1/status ] || { echo 'processes of other users are hidden' >&2; exit 4; }
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  { [ "$pid" = "$$" ] || [ "$pid" = "${1:-}" ]; } && continue
  uid=
  { while read -r key real eff rest; do
      if [ "$key" = Uid: ]; then uid=$eff; break; fi
    done < "$d/status"; } 2>/dev/null
  [ -n "$uid" ] || continue
  IFS= read -r comm < "$d/comm" 2>/dev/null || continue
  args=$(tr '\000' ' ' < "$d/cmdline" 2>/dev/null)
  printf '%s\000%s\000%s\000%s\000' "$pid" "$uid" "$comm" "$args"
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
    if fields.len() % 4 != 0 {
        return Err(format!(
            "the process listing has {} fields, not a multiple of 4",
            fields.len()
        ));
    }
    let mut entries = fields
        .chunks_exact(4)
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

#[derive(Debug)]
struct Process {
    name: String,
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
            .filter(|p| p.is_named(&self.name))
            .collect();
        let mut seen = Observed::new();
        seen.set("running", Value::Bool(!matching.is_empty()));
        seen.set(
            "count",
            Value::Int(i64::try_from(matching.len()).unwrap_or(i64::MAX)),
        );
        let lines: Vec<String> = matching.iter().map(ProcEntry::command_line).collect();
        seen.set("args", Value::Str(lines.join("\n")));
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
    fn refuses_broken_listings() {
        assert_eq!(parse_processes(b"").unwrap(), []);
        assert!(parse_processes(b"1\x000\x00init").is_err());
        assert!(parse_processes(b"1\x000\x00init\x00").is_err());
        assert!(parse_processes(b"x\x000\x00init\x00/sbin/init\x00").is_err());
    }

    #[test]
    fn the_script_lists_local_processes_but_not_itself() {
        let host = Host::local();
        let entries = processes(&host).unwrap();
        let me = std::process::id();
        let this = entries.iter().find(|p| p.pid == me).unwrap();
        let argv: Vec<String> = std::env::args().collect();
        assert_eq!(this.args, argv.join(" "));
        assert!(
            !entries.iter().any(|p| p.args.contains("/proc/[0-9]*")),
            "the probe's own shell was listed"
        );
        let seen = new("ispec-no-such-process", &Options::new())
            .unwrap()
            .probe(&host, &["running", "users"])
            .unwrap();
        assert_eq!(seen.get("running").unwrap(), &Value::Bool(false));
        assert_eq!(seen.get("count").unwrap(), &Value::Int(0));
        assert_eq!(seen.get("users").unwrap(), &Value::List(vec![]));
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
