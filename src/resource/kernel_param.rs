//! `kernel-param`: a kernel parameter (sysctl) read from its file under `/proc/sys`.
//!
//! The id is the name `sysctl(8)` takes. Reading the file directly needs no `sysctl`
//! binary on the target (minimal images lack procps), and each parameter is one small
//! read through [`Host::read_opt`], so a retry sees the kernel anew.

use crate::expect::{Ty, Value};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};

use super::{Kind, Observed, Options, PropDef, Resource};

pub(super) const KIND: Kind = Kind {
    key: "kernel-param",
    props: &[PropDef::new(
        "value",
        Ty::Str,
        "the value as `sysctl -n` shows it, each run of whitespace made one space",
    )],
    options: &[],
    new,
};

#[derive(Debug)]
struct KernelParam {
    name: String,
    path: String,
}

fn new(id: &str, _options: &Options) -> Result<Box<dyn Resource>, String> {
    Ok(Box::new(KernelParam {
        name: id.to_string(),
        path: proc_path(id)?,
    }))
}

const HINT: &str = "write the name as sysctl does, e.g. `net.ipv4.ip_forward`, or \
                    `net/ipv4/conf/eth0.1/forwarding` when a part holds a dot";

/// Maps a sysctl name to its file, as `sysctl(8)` does: the first separator decides
/// the form. In `net.ipv4.ip_forward` dots separate the parts and a `/` inside a part
/// stands for a dot (`net.ipv4.conf.eth0/1.forwarding`); in
/// `net/ipv4/conf/eth0.1/forwarding` slashes separate and dots are literal.
///
/// Parts may hold ASCII letters, digits, `_`, `-` (and `.` in the slash form); empty,
/// `.` and `..` parts are refused, so the path never leaves `/proc/sys`.
fn proc_path(name: &str) -> Result<String, String> {
    let refuse = |why: &str| {
        Err(format!(
            "`{name}` is not a kernel parameter name: {why}; {HINT}"
        ))
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if let Some(rest) = name.strip_prefix("/proc/sys/") {
        return Err(format!(
            "write the parameter's name, not its file: `{rest}` instead of `{name}`"
        ));
    }
    if name.starts_with('/') {
        return refuse("it starts with `/`");
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_-./".contains(*c)))
    {
        return refuse(&format!(
            "{bad:?} is not allowed (only ASCII letters, digits, `_`, `-`, `.` and `/`)"
        ));
    }
    let slash_form = name
        .find(['.', '/'])
        .is_some_and(|i| name[i..].starts_with('/'));
    let parts: Vec<String> = if slash_form {
        name.split('/').map(str::to_string).collect()
    } else {
        name.split('.').map(|p| p.replace('/', ".")).collect()
    };
    if parts.iter().any(String::is_empty) {
        return refuse("it has an empty part (two separators in a row, or one at an end)");
    }
    if parts.iter().any(|p| p == "." || p == "..") {
        return refuse("a part cannot be `.` or `..`");
    }
    Ok(format!("/proc/sys/{}", parts.join("/")))
}

/// The value as `sysctl -n` shows it, on one line: multi-field values such as
/// `net.ipv4.ip_local_port_range` are tab-separated in the file, and a spec writes
/// `"32768 60999"`.
fn normalize(content: &str) -> String {
    content.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl KernelParam {
    fn missing(&self) -> ProbeError {
        ProbeError::Failed(format!("no kernel parameter `{}` on the target", self.name))
    }
}

impl Resource for KernelParam {
    fn facts(&self, _wanted: &[&'static str], _ask: &Ask<'_>) -> Vec<Fact> {
        vec![Fact::Read(self.path.clone())]
    }

    fn probe(&self, host: &Host, _wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        let bytes = match host.read_opt(&self.path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Err(self.missing()),
            // `kernel.ostype.x`: a part below a parameter file does not exist either.
            Err(ProbeError::Failed(why)) if why.contains("Not a directory") => {
                return Err(self.missing());
            }
            Err(ProbeError::Failed(why)) if why.contains("Is a directory") => {
                return Err(ProbeError::Failed(format!(
                    "`{}` is a group of kernel parameters, not one; name a parameter in it",
                    self.name
                )));
            }
            Err(ProbeError::Denied(_)) => {
                return Err(ProbeError::Denied(format!(
                    "cannot read kernel parameter `{}` (`{}`)",
                    self.name, self.path
                )));
            }
            Err(other) => return Err(other),
        };
        let mut seen = Observed::new();
        seen.set(
            "value",
            Value::Str(normalize(&String::from_utf8_lossy(&bytes))),
        );
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(case: &str) -> String {
        crate::resource::fixture("kernel-param", "debian-12", case)
    }

    #[test]
    fn names_map_to_files_like_sysctl() {
        assert_eq!(
            proc_path("net.ipv4.ip_forward").unwrap(),
            "/proc/sys/net/ipv4/ip_forward"
        );
        assert_eq!(
            proc_path("net/ipv4/conf/eth0.1/forwarding").unwrap(),
            "/proc/sys/net/ipv4/conf/eth0.1/forwarding"
        );
        assert_eq!(
            proc_path("net.ipv4.conf.eth0/1.forwarding").unwrap(),
            "/proc/sys/net/ipv4/conf/eth0.1/forwarding"
        );
        assert_eq!(
            proc_path("kernel/ostype").unwrap(),
            "/proc/sys/kernel/ostype"
        );
        assert_eq!(
            proc_path("net.ipv4.conf.br-lan.rp_filter").unwrap(),
            "/proc/sys/net/ipv4/conf/br-lan/rp_filter"
        );
    }

    #[test]
    fn names_that_escape_or_inject_are_refused() {
        for bad in [
            "",
            "/kernel/ostype",
            "kernel..ostype",
            "kernel/../../etc/shadow",
            "net/./ipv4",
            "kernel.ostype.",
            ".kernel",
            "kernel.ostype; reboot",
            "$(touch /tmp/pwned)",
            "kernel\nostype",
        ] {
            let err = proc_path(bad).unwrap_err();
            assert!(err.contains("net.ipv4.ip_forward"), "{bad:?}: {err}");
        }
        assert!(
            proc_path("/proc/sys/kernel/ostype")
                .unwrap_err()
                .contains("`kernel/ostype` instead")
        );
        assert!(proc_path("a b").unwrap_err().contains("' ' is not allowed"));
    }

    #[test]
    fn values_read_as_sysctl_prints_them() {
        assert_eq!(normalize(&fixture("ostype")), "Linux");
        assert_eq!(normalize(&fixture("ip_local_port_range")), "32768 60999");
        assert_eq!(normalize(&fixture("printk")), "4 4 1 7");
        assert_eq!(normalize("  a \n\n b\t\tc \n"), "a b c");
        assert_eq!(normalize("\n"), "");
    }

    #[test]
    fn observes_the_local_kernel() {
        let host = Host::local();
        let probe = |id: &str| new(id, &Options::new()).unwrap().probe(&host, &["value"]);
        let seen = probe("kernel.ostype").unwrap();
        assert_eq!(seen.get("value").unwrap(), &Value::Str("Linux".into()));
        assert_eq!(
            probe("kernel.ispec_no_such_param").unwrap_err(),
            ProbeError::Failed(
                "no kernel parameter `kernel.ispec_no_such_param` on the target".into()
            )
        );
        assert_eq!(
            probe("kernel.ostype.below").unwrap_err(),
            ProbeError::Failed("no kernel parameter `kernel.ostype.below` on the target".into())
        );
        assert!(
            probe("kernel")
                .unwrap_err()
                .to_string()
                .contains("is a group of kernel parameters")
        );
        // Mode 0200 for everyone, root included: the kernel refuses the read.
        assert!(matches!(
            probe("vm.drop_caches").unwrap_err(),
            ProbeError::Denied(_)
        ));
    }
}
