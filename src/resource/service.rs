//! `service`: whether a service is running and enabled at boot, as the init system sees it.
//!
//! The init system is told once per run from PID 1's command (`/proc/1/comm`) and, for
//! a PID 1 named `init`, from the marks systemd and OpenRC leave: systemd asks
//! `systemctl show`, OpenRC asks `rc-service` and `rc-update`, sysvinit asks `service`
//! and the `/etc/rcN.d` links. A target whose PID 1 is an application (most containers)
//! has no init system to ask: if the service has a script in `/etc/init.d` (an
//! entrypoint that starts services through their scripts), the script is asked as
//! sysvinit would; otherwise every check is an error that names PID 1 and points to
//! the `process` kind.

use crate::cmd::Cmd;
use crate::expect::{Ty, Value};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};

use super::{Kind, Observed, Options, PropDef, Resource, stdout_of};

mod answers;

use answers::{
    parse_rc_listing, parse_rc_update, parse_systemctl_show, running_from, sysv_enabled,
};

pub(super) const KIND: Kind = Kind {
    key: "service",
    props: &[
        PropDef::new("running", Ty::Bool, "the service is running (started)"),
        PropDef::new("enabled", Ty::Bool, "the service is started at boot"),
    ],
    options: &[],
    new,
};

/// Prints which marks of an init system exist; a fixed script with no data in it.
const MARKS_SCRIPT: &str = "for p in /run/systemd/system /run/openrc /sbin/openrc-run; do [ -e \"$p\" ] && echo \"$p\"; done; exit 0";

/// The runlevels whose `S??name` links start a sysvinit service at boot.
const RC_DIRS: [&str; 4] = ["/etc/rc2.d", "/etc/rc3.d", "/etc/rc4.d", "/etc/rc5.d"];

#[derive(Debug)]
struct Service {
    name: String,
}

fn new(id: &str, _options: &Options) -> Result<Box<dyn Resource>, String> {
    if id.is_empty() {
        return Err(
            "the service name is empty; write it as the init system knows it, \
                    e.g. `nginx` or `nginx.service`"
                .into(),
        );
    }
    if id.contains('/') || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{id}` is not a service name; write one name without `/` or spaces, \
             e.g. `nginx` or `getty@tty1.service`"
        ));
    }
    if id.starts_with('-') {
        return Err(format!(
            "`{id}` is not a service name (it starts with `-`, which tools read as an option)"
        ));
    }
    Ok(Box::new(Service {
        name: id.to_string(),
    }))
}

impl Service {
    /// The systemd unit: the name as written if it has a suffix, else `NAME.service`.
    fn unit(&self) -> String {
        if self.name.contains('.') {
            self.name.clone()
        } else {
            format!("{}.service", self.name)
        }
    }

    /// The script name for sysvinit and OpenRC, which know no `.service` suffix.
    fn script(&self) -> &str {
        self.name.strip_suffix(".service").unwrap_or(&self.name)
    }
}

/// The init system of a target.
#[derive(Debug, PartialEq, Eq)]
enum Init {
    Systemd,
    OpenRc,
    SysV,
    /// A supervisor ispec has no support for; its name.
    Unsupported(String),
    /// No init system: PID 1 is this command.
    None(String),
}

/// Decides the init system from PID 1's command and the marks found (paths printed by
/// [`MARKS_SCRIPT`]; they are only looked for when PID 1 is `init`).
fn init_of(pid1: &str, marks: &[&str]) -> Init {
    let has = |path: &str| marks.contains(&path);
    match pid1 {
        "systemd" => Init::Systemd,
        "openrc-init" => Init::OpenRc,
        "init" if has("/run/systemd/system") => Init::Systemd,
        "init" if has("/run/openrc") || has("/sbin/openrc-run") => Init::OpenRc,
        "init" => Init::SysV,
        "runit" | "runsvdir" | "s6-svscan" => Init::Unsupported(pid1.to_string()),
        other => Init::None(other.to_string()),
    }
}

/// Tells the target's init system; every step is memoized, so this is done once per run.
fn detect(host: &Host) -> Result<Init, ProbeError> {
    let Some(comm) = host.read_opt("/proc/1/comm")? else {
        return Err(ProbeError::Failed(
            "cannot tell the init system: `/proc/1/comm` does not exist on the target".into(),
        ));
    };
    let pid1 = String::from_utf8_lossy(&comm).trim().to_string();
    if pid1 != "init" {
        return Ok(init_of(&pid1, &[]));
    }
    let out = host.run_memo(&marks_cmd())?;
    let text = stdout_of(&out, "sh", &[0])?;
    Ok(init_of(&pid1, &text.lines().collect::<Vec<_>>()))
}

fn marks_cmd() -> Cmd {
    Cmd::shell(MARKS_SCRIPT)
}

fn rc_listing_cmd() -> Cmd {
    Cmd::new("ls").arg("-1").arg("--").args(RC_DIRS)
}

fn init_d_listing_cmd() -> Cmd {
    Cmd::new("ls").arg("-1").arg("--").arg("/etc/init.d")
}

fn rc_update_cmd() -> Cmd {
    Cmd::new("rc-update").arg("show").arg("-v")
}

impl Service {
    fn systemctl_cmd(&self) -> Cmd {
        Cmd::new("systemctl")
            .arg("show")
            .arg("--property=LoadState,ActiveState,SubState,UnitFileState")
            .arg("--")
            .arg(self.unit())
    }

    fn service_status_cmd(&self) -> Cmd {
        Cmd::new("service").arg(self.script()).arg("status")
    }

    fn rc_service_cmd(&self) -> Cmd {
        Cmd::new("rc-service").arg(self.script()).arg("status")
    }

    fn systemd(&self, host: &Host) -> Result<(bool, bool), ProbeError> {
        let cmd = self.systemctl_cmd();
        let text = stdout_of(&*host.run_memo(&cmd)?, "systemctl", &[0])?;
        let units = parse_systemctl_show(&text).map_err(ProbeError::Failed)?;
        let [unit] = &units[..] else {
            return Err(ProbeError::Failed(format!(
                "`systemctl show {}` printed {} units, not one",
                self.unit(),
                units.len()
            )));
        };
        Ok((unit.running(), unit.enabled()))
    }

    fn sysv(&self, host: &Host) -> Result<(Result<bool, ProbeError>, bool), ProbeError> {
        let listing = host.run_memo(&rc_listing_cmd())?;
        // `ls` exits 2 when some of the directories do not exist; the rest are listed.
        let text = stdout_of(&listing, "ls", &[0, 2])?;
        let enabled = sysv_enabled(&parse_rc_listing(&text), self.script());
        let status = host.run_memo(&self.service_status_cmd())?;
        // LSB: 1 and 2 are "dead but a pid or lock file is left", 3 "not running";
        // 4 is "unknown", an error.
        Ok((running_from(&status, "service", &[1, 2, 3]), enabled))
    }

    /// True if `/etc/init.d` holds a script for this service (listed once per run).
    fn has_init_script(&self, host: &Host) -> Result<bool, ProbeError> {
        let listing = match host.run_memo(&init_d_listing_cmd()) {
            Ok(listing) => listing,
            // Without `ls` there are no init scripts to run either.
            Err(ProbeError::ToolMissing(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        Ok(listing.success() && listing.stdout_text().lines().any(|l| l == self.script()))
    }

    fn openrc(&self, host: &Host) -> Result<(Result<bool, ProbeError>, bool), ProbeError> {
        let levels = host.run_memo(&rc_update_cmd())?;
        let table =
            parse_rc_update(&stdout_of(&levels, "rc-update", &[0])?).map_err(ProbeError::Failed)?;
        let enabled = table
            .iter()
            .any(|(name, levels)| name == self.script() && !levels.is_empty());
        let status = host.run_memo(&self.rc_service_cmd())?;
        // 3 stopped, 16 inactive, 32 crashed; 4 stopping and 8 starting are in between
        // (an error, which `within` retries). 1 is a service that does not exist.
        let running = if status.status == Some(1) && status.stderr_text().contains("does not exist")
        {
            Ok(false)
        } else {
            running_from(&status, "rc-service", &[3, 16, 32])
        };
        Ok((running, enabled))
    }
}

impl Resource for Service {
    fn facts(&self, _wanted: &[&'static str], ask: &Ask<'_>) -> Vec<Fact> {
        let pid1 = Fact::Read("/proc/1/comm".into());
        let Some(host) = ask.host.filter(|h| h.knows(&pid1)) else {
            // First round: what tells the init system, and what each init system
            // would be asked (read-only status queries; a tool that is not there
            // costs the probe nothing), so that no second round is needed.
            return vec![
                pid1,
                Fact::Run(marks_cmd()),
                Fact::Run(self.systemctl_cmd()),
                Fact::Run(init_d_listing_cmd()),
                Fact::Run(rc_listing_cmd()),
                Fact::Run(self.service_status_cmd()),
                Fact::Run(rc_update_cmd()),
                Fact::Run(self.rc_service_cmd()),
            ];
        };
        match detect(host) {
            Ok(Init::Systemd) => vec![Fact::Run(self.systemctl_cmd())],
            Ok(Init::OpenRc) => vec![Fact::Run(rc_update_cmd()), Fact::Run(self.rc_service_cmd())],
            Ok(Init::SysV) => vec![
                Fact::Run(rc_listing_cmd()),
                Fact::Run(self.service_status_cmd()),
            ],
            // No init: its init.d script, if it has one, is asked.
            Ok(Init::None(_)) => vec![
                Fact::Run(init_d_listing_cmd()),
                Fact::Run(rc_listing_cmd()),
                Fact::Run(self.service_status_cmd()),
            ],
            Ok(Init::Unsupported(_)) | Err(_) => Vec::new(),
        }
    }

    fn probe(&self, host: &Host, _wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        let (running, enabled) = match detect(host)? {
            Init::Systemd => {
                let (running, enabled) = self.systemd(host)?;
                (Ok(running), enabled)
            }
            Init::OpenRc => self.openrc(host)?,
            Init::SysV => self.sysv(host)?,
            Init::Unsupported(init) => {
                return Err(ProbeError::unsupported("service", &init));
            }
            Init::None(_) if self.has_init_script(host)? => {
                // No init system, but the service's sysvinit script is there: a
                // container whose entrypoint starts services through their scripts.
                self.sysv(host)?
            }
            Init::None(pid1) => {
                return Err(ProbeError::Failed(format!(
                    "no init system on the target (PID 1 is `{pid1}`); services cannot be \
                     checked here — check the process with `[process.\"{}\"]` instead",
                    self.name.split('.').next().unwrap_or(&self.name)
                )));
            }
        };
        let mut seen = Observed::new();
        seen.put("running", running.map(Value::Bool));
        seen.set("enabled", Value::Bool(enabled));
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_detection() {
        let openrc = ["/run/openrc", "/sbin/openrc-run"];
        assert_eq!(init_of("systemd", &[]), Init::Systemd);
        assert_eq!(init_of("init", &openrc), Init::OpenRc);
        assert_eq!(init_of("init", &["/sbin/openrc-run"]), Init::OpenRc);
        assert_eq!(init_of("init", &["/run/systemd/system"]), Init::Systemd);
        assert_eq!(init_of("init", &[]), Init::SysV);
        assert_eq!(init_of("nginx", &[]), Init::None("nginx".into()));
        assert_eq!(init_of("sleep", &[]), Init::None("sleep".into()));
        assert_eq!(init_of("runit", &[]), Init::Unsupported("runit".into()));
    }

    #[test]
    fn names_and_units() {
        let unit = |id: &str| Service { name: id.into() }.unit();
        assert_eq!(unit("nginx"), "nginx.service");
        assert_eq!(unit("nginx.service"), "nginx.service");
        assert_eq!(unit("ssh.socket"), "ssh.socket");
        assert_eq!(
            Service {
                name: "cron.service".into()
            }
            .script(),
            "cron"
        );
        for bad in ["", "a b", "a/b", "-h", "a\tb"] {
            assert!(new(bad, &Options::new()).is_err(), "{bad:?}");
        }
        assert!(new("getty@tty1", &Options::new()).is_ok());
        assert!(new("$(id)`x`;'\"", &Options::new()).is_ok());
    }

    #[test]
    fn this_machine_has_no_init() {
        // The test machine is a container whose PID 1 is not an init system.
        let host = Host::local();
        let pid1 = std::fs::read_to_string("/proc/1/comm").unwrap();
        assert!(!["systemd", "init", "openrc-init"].contains(&pid1.trim()));
        let err = new("cron", &Options::new())
            .unwrap()
            .probe(&host, &["running"])
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("PID 1 is `{}`", pid1.trim())),
            "{text}"
        );
        assert!(text.contains("[process.\"cron\"]"), "{text}");
    }
}
