//! What the init systems' tools answer, read: `systemctl show` blocks, the rc
//! directories' listings, `rc-update show`, and the exit statuses of status commands.

use crate::cmd::Output;
use crate::host::ProbeError;

/// Unit file states for which `systemctl is-enabled` succeeds: the unit is started at
/// boot, directly or through another unit. `static` units have no `[Install]` section and
/// run when something needs them; goss and serverspec count them as enabled, and so do we.
const SYSTEMD_ENABLED: &[&str] = &[
    "enabled",
    "enabled-runtime",
    "alias",
    "static",
    "indirect",
    "generated",
    "transient",
];

/// One unit as `systemctl show --property=LoadState,ActiveState,SubState,UnitFileState`
/// prints it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct UnitState {
    load: String,
    active: String,
    sub: String,
    unit_file: String,
}

impl UnitState {
    pub(super) fn running(&self) -> bool {
        self.load != "not-found" && self.active == "active"
    }

    pub(super) fn enabled(&self) -> bool {
        self.load != "not-found" && SYSTEMD_ENABLED.contains(&self.unit_file.as_str())
    }
}

/// Parses `systemctl show` output: one block of `Key=value` lines per unit, blocks
/// separated by blank lines, keys in any order.
pub(super) fn parse_systemctl_show(text: &str) -> Result<Vec<UnitState>, String> {
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let get = |key: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                    .map(str::to_string)
                    .ok_or_else(|| format!("`systemctl show` printed no `{key}`: {block:?}"))
            };
            Ok(UnitState {
                load: get("LoadState")?,
                active: get("ActiveState")?,
                sub: get("SubState")?,
                unit_file: get("UnitFileState")?,
            })
        })
        .collect()
}

/// The `ls -1` listing of the rc directories: each directory with its entries.
pub(super) fn parse_rc_listing(text: &str) -> Vec<(String, Vec<String>)> {
    let mut dirs: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        match (line.strip_suffix(':'), dirs.last_mut()) {
            (Some(dir), _) if dir.starts_with('/') => dirs.push((dir.to_string(), Vec::new())),
            (_, Some((_, entries))) => entries.push(line.to_string()),
            // A single directory is listed without a header.
            (_, None) => dirs.push((String::new(), vec![line.to_string()])),
        }
    }
    dirs
}

/// Returns true if and only if some rc directory has an `S??name` start link.
pub(super) fn sysv_enabled(listing: &[(String, Vec<String>)], name: &str) -> bool {
    listing.iter().flat_map(|(_, entries)| entries).any(|e| {
        e.strip_prefix('S').is_some_and(|rest| {
            rest.len() > 2
                && rest.as_bytes()[..2].iter().all(u8::is_ascii_digit)
                && &rest[2..] == name
        })
    })
}

/// `rc-update show -v`: each service with the runlevels it is added to (none for a
/// service in no runlevel).
pub(super) fn parse_rc_update(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (name, levels) = line
                .split_once('|')
                .ok_or_else(|| format!("unexpected `rc-update show` line: {line:?}"))?;
            Ok((
                name.trim().to_string(),
                levels.split_whitespace().map(str::to_string).collect(),
            ))
        })
        .collect()
}

/// What one status command says: running, stopped, or why it cannot tell.
pub(super) fn running_from(out: &Output, tool: &str, stopped: &[i32]) -> Result<bool, ProbeError> {
    match out.status {
        Some(0) => Ok(true),
        Some(code) if stopped.contains(&code) => Ok(false),
        Some(127) => Err(ProbeError::ToolMissing(tool.into())),
        Some(code) => Err(ProbeError::Failed(format!(
            "`{tool} status` cannot tell (exit status {code}): {}",
            out.stderr_text()
        ))),
        None => Err(ProbeError::Failed(format!(
            "`{tool}` was killed by a signal"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(os: &str, case: &str) -> String {
        crate::resource::fixture("service", os, case)
    }

    fn one_unit(case: &str) -> (bool, bool) {
        let units = parse_systemctl_show(&fixture("debian-12", case)).unwrap();
        assert_eq!(units.len(), 1, "{case}");
        (units[0].running(), units[0].enabled())
    }

    #[test]
    fn systemctl_show_states() {
        assert_eq!(one_unit("systemctl-show-active"), (true, true));
        assert_eq!(one_unit("systemctl-show-inactive"), (false, false));
        assert_eq!(one_unit("systemctl-show-not-found"), (false, false));
        let several =
            parse_systemctl_show(&fixture("debian-12", "systemctl-show-several")).unwrap();
        let states: Vec<(bool, bool)> =
            several.iter().map(|u| (u.running(), u.enabled())).collect();
        // static and running; masked; enabled but failed.
        assert_eq!(states, [(true, true), (false, false), (false, true)]);
        assert_eq!(several[2].sub, "failed");
        assert!(
            parse_systemctl_show("LoadState=loaded\nActiveState=active\n")
                .unwrap_err()
                .contains("SubState")
        );
    }

    #[test]
    fn sysvinit_start_links() {
        let real = parse_rc_listing(&fixture("debian-12", "ls-rc"));
        assert_eq!(real.len(), 4);
        assert_eq!(real[0].0, "/etc/rc2.d");
        assert!(sysv_enabled(&real, "dbus"));
        assert!(sysv_enabled(&real, "postgresql"));
        assert!(!sysv_enabled(&real, "procps"));
        let mixed = parse_rc_listing(&fixture("debian-12", "ls-rc-mixed"));
        assert_eq!(mixed.len(), 3);
        assert!(sysv_enabled(&mixed, "ssh"));
        // A kill link only stops the service.
        assert!(!sysv_enabled(&mixed, "nginx"));
        assert!(!sysv_enabled(&mixed, "README"));
        // `S01cron` is not a start link of `ron`, nor of `01cron`.
        assert!(!sysv_enabled(&mixed, "ron"));
        assert!(!sysv_enabled(&mixed, "01cron"));
        assert!(sysv_enabled(&parse_rc_listing("S20exim4\n"), "exim4"));
    }

    #[test]
    fn openrc_runlevels() {
        let table = parse_rc_update(&fixture("alpine-3.19", "rc-update-show")).unwrap();
        let levels = |name: &str| {
            table
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, l)| l.clone())
                .unwrap()
        };
        assert_eq!(levels("sshd"), ["default"]);
        assert_eq!(levels("bootmisc"), ["boot"]);
        assert_eq!(levels("devfs"), ["sysinit"]);
        assert!(levels("acpid").is_empty());
        assert!(parse_rc_update("garbage\n").is_err());
    }

    #[test]
    fn status_exit_codes() {
        let out = |code| Output {
            status: Some(code),
            ..Output::default()
        };
        assert_eq!(running_from(&out(0), "service", &[3]), Ok(true));
        assert_eq!(running_from(&out(3), "service", &[3]), Ok(false));
        assert!(running_from(&out(4), "service", &[3]).is_err());
        assert_eq!(
            running_from(&out(127), "service", &[3]),
            Err(ProbeError::ToolMissing("service".into()))
        );
    }
}
