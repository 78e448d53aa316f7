//! `interface`: a network interface's existence, addresses, MTU and state.
//!
//! Link facts come from `/sys/class/net/<name>/` (three small reads, no tool needed).
//! Where sysfs does not show the target's interfaces (no `/sys` mounted, or a sandbox
//! that lacks it), one `ip -o link show` per run stands in. Addresses come from one
//! `ip -o addr show` per run, shared by every interface check and parsed here; iproute2
//! and BusyBox print the same one-line format.

use std::net::Ipv6Addr;

use crate::cmd::{Cmd, Output};
use crate::expect::{Ty, Value};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};

use super::{Kind, Observed, Options, PropDef, Resource, wants};

pub(super) const KIND: Kind = Kind {
    key: "interface",
    props: &[
        PropDef::gate("exists", "the interface exists"),
        PropDef::new(
            "addrs",
            Ty::List,
            "its IPv4 and IPv6 addresses as `ADDR/PREFIX`, e.g. \"127.0.0.1/8\"",
        ),
        PropDef::new("mtu", Ty::Int, "its MTU in bytes"),
        PropDef::new(
            "up",
            Ty::Bool,
            "administratively up and operationally up (or `unknown`, as `lo` reports)",
        ),
    ],
    options: &[],
    new,
};

#[derive(Debug)]
struct Interface {
    name: String,
}

/// Refuses what the kernel refuses (`dev_valid_name`), so the name is safe in a path.
fn new(id: &str, _options: &Options) -> Result<Box<dyn Resource>, String> {
    let why = if id.is_empty() {
        Some("it is empty".to_string())
    } else if id.len() > 15 {
        Some(format!(
            "it is {} bytes long; the kernel allows 15",
            id.len()
        ))
    } else if id == "." || id == ".." {
        Some("`.` and `..` cannot name an interface".into())
    } else if let Some(c) = id.chars().find(|c| *c == '/' || c.is_whitespace()) {
        Some(format!("it holds {c:?}"))
    } else if id.contains(':') {
        Some("`eth0:1` is an address label, not an interface; check `eth0`".into())
    } else {
        None
    };
    match why {
        Some(why) => Err(format!(
            "`{id}` is not an interface name: {why}; write the name `ip link` shows, e.g. `eth0`"
        )),
        None => Ok(Box::new(Interface {
            name: id.to_string(),
        })),
    }
}

/// What the link layer tells of an interface.
#[derive(Debug, PartialEq, Eq)]
struct Link {
    mtu: i64,
    up: bool,
}

/// `IFF_UP` in `/sys/class/net/*/flags`: administratively up.
const IFF_UP: u32 = 0x1;

/// Up when administratively up and the operational state is `up` or `unknown`: the
/// kernel's `netif_oper_up()` counts `unknown` as up, and drivers that do not track
/// carrier (`lo`, `tun`) report it. An interface with no cable is `down`.
fn is_up(admin_up: bool, operstate: &str) -> bool {
    admin_up && matches!(operstate, "up" | "unknown")
}

/// Parses `/sys/class/net/*/flags`, e.g. `0x1003`.
fn parse_flags(text: &str) -> Result<u32, String> {
    let t = text.trim();
    u32::from_str_radix(t.trim_start_matches("0x"), 16)
        .map_err(|_| format!("unexpected interface flags {t:?}"))
}

/// Parses `ip -o link show` (iproute2 or BusyBox): one line per interface,
/// `2: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 ... state UP ...`.
fn parse_ip_link(text: &str) -> Result<Vec<(String, Link)>, String> {
    let mut links = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || format!("unexpected `ip -o link` line: {line:?}");
        let words: Vec<&str> = line.split_whitespace().collect();
        let [index, name, flags, rest @ ..] = &words[..] else {
            return Err(bad());
        };
        let name = name.strip_suffix(':').ok_or_else(bad)?;
        // A link to another device prints as `veth0@if5`.
        let name = name.rsplit_once('@').map_or(name, |(n, _)| n);
        if !index.ends_with(':') || !flags.starts_with('<') || !flags.ends_with('>') {
            return Err(bad());
        }
        let admin_up = flags[1..flags.len() - 1].split(',').any(|f| f == "UP");
        let after = |key: &str| rest.iter().position(|w| *w == key).map(|i| rest.get(i + 1));
        let mtu = after("mtu")
            .flatten()
            .and_then(|m| m.parse().ok())
            .ok_or_else(bad)?;
        let state = after("state")
            .flatten()
            .map_or("unknown".into(), |s| s.to_ascii_lowercase());
        links.push((
            name.to_string(),
            Link {
                mtu,
                up: is_up(admin_up, &state),
            },
        ));
    }
    Ok(links)
}

/// Parses `ip -o addr show` (iproute2 or BusyBox) into `(interface, "ADDR/PREFIX")`:
/// `2: eth0    inet 10.0.2.15/24 brd ... scope global eth0\ valid_lft ...`. A
/// point-to-point address prints as `inet 10.8.0.1 peer 10.8.0.2/32`; the prefix is
/// the local address's.
fn parse_ip_addr(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut addrs = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || format!("unexpected `ip -o addr` line: {line:?}");
        let words: Vec<&str> = line.split_whitespace().collect();
        let [index, name, family, addr, rest @ ..] = &words[..] else {
            return Err(bad());
        };
        if !index.ends_with(':') {
            return Err(bad());
        }
        if *family != "inet" && *family != "inet6" {
            continue;
        }
        let addr = if addr.contains('/') {
            (*addr).to_string()
        } else if let ["peer", peer, ..] = rest {
            let (_, prefix) = peer.split_once('/').ok_or_else(bad)?;
            format!("{addr}/{prefix}")
        } else {
            return Err(bad());
        };
        addrs.push(((*name).to_string(), addr));
    }
    Ok(addrs)
}

/// Parses `/proc/net/if_inet6` into `(interface, "ADDR/PREFIX")`:
/// `fe80000000000000020c29fffe3a7b21 02 40 20 80 eth0`, the address in 32 hex digits
/// and the prefix length in hex.
fn parse_if_inet6(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut addrs = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || format!("unexpected /proc/net/if_inet6 line: {line:?}");
        let words: Vec<&str> = line.split_whitespace().collect();
        let [hex, _index, prefix, _scope, _flags, name] = words[..] else {
            return Err(bad());
        };
        let addr = u128::from_str_radix(hex, 16).map_err(|_| bad())?;
        let prefix = u8::from_str_radix(prefix, 16).map_err(|_| bad())?;
        addrs.push((
            name.to_string(),
            format!("{}/{prefix}", Ipv6Addr::from(addr)),
        ));
    }
    Ok(addrs)
}

/// Returns true if and only if the command could not run because it is not installed
/// (the local backend says so directly; a shell transport exits 127).
fn not_installed(out: &Result<std::sync::Arc<Output>, ProbeError>) -> bool {
    match out {
        Err(ProbeError::ToolMissing(_)) => true,
        Ok(out) => out.status == Some(127),
        Err(_) => false,
    }
}

fn ip_cmd(object: &str) -> Cmd {
    Cmd::new("ip").arg("-o").arg(object).arg("show")
}

fn ip(host: &Host, object: &str) -> Result<Option<String>, ProbeError> {
    let out = host.run_memo(&ip_cmd(object));
    if not_installed(&out) {
        return Ok(None);
    }
    let out = out?;
    if out.success() {
        Ok(Some(out.stdout_text()))
    } else {
        Err(ProbeError::Failed(format!(
            "`ip -o {object} show` failed: {}",
            out.stderr_text()
        )))
    }
}

impl Interface {
    fn link(&self, host: &Host) -> Result<Option<Link>, ProbeError> {
        let dir = format!("/sys/class/net/{}", self.name);
        if let Some(flags) = host.read_opt(&format!("{dir}/flags"))? {
            let flags =
                parse_flags(&String::from_utf8_lossy(&flags)).map_err(ProbeError::Failed)?;
            let gone = || ProbeError::Failed(format!("`{}` vanished while read", self.name));
            let mtu = host.read_opt(&format!("{dir}/mtu"))?.ok_or_else(gone)?;
            let mtu = String::from_utf8_lossy(&mtu);
            let mtu = mtu
                .trim()
                .parse()
                .map_err(|_| ProbeError::Failed(format!("unexpected MTU {mtu:?}")))?;
            let state = host
                .read_opt(&format!("{dir}/operstate"))?
                .map_or("unknown".into(), |s| {
                    String::from_utf8_lossy(&s).trim().to_string()
                });
            return Ok(Some(Link {
                mtu,
                up: is_up(flags & IFF_UP != 0, &state),
            }));
        }
        // Every network namespace has `lo`: a sysfs that shows it shows them all.
        if host.read_opt("/sys/class/net/lo/flags")?.is_some() {
            return Ok(None);
        }
        let text = ip(host, "link")?.ok_or_else(|| {
            ProbeError::Failed(
                "cannot list network interfaces: /sys/class/net does not show them and \
                 `ip` (iproute2) is not installed on the target"
                    .into(),
            )
        })?;
        let links = parse_ip_link(&text).map_err(ProbeError::Failed)?;
        Ok(links
            .into_iter()
            .find(|(name, _)| *name == self.name)
            .map(|(_, link)| link))
    }

    fn addrs(&self, host: &Host) -> Result<Value, ProbeError> {
        let mine = |all: Vec<(String, String)>| {
            all.into_iter()
                .filter(|(name, _)| *name == self.name)
                .map(|(_, addr)| addr)
                .collect::<Vec<_>>()
        };
        if let Some(text) = ip(host, "addr")? {
            let all = parse_ip_addr(&text).map_err(ProbeError::Failed)?;
            return Ok(Value::List(mine(all)));
        }
        // Without iproute2 only IPv6 addresses can be read from a file; a partial list
        // would pass or fail on the wrong grounds, so it is an error that shows them.
        let v6 = match host.read_opt("/proc/net/if_inet6")? {
            Some(text) => {
                mine(parse_if_inet6(&String::from_utf8_lossy(&text)).map_err(ProbeError::Failed)?)
            }
            None => Vec::new(),
        };
        Err(ProbeError::Failed(format!(
            "`ip` (iproute2) is not installed on the target, so IPv4 addresses cannot be \
             read; IPv6 addresses in /proc/net/if_inet6: {}",
            Value::List(v6)
        )))
    }
}

impl Resource for Interface {
    fn facts(&self, wanted: &[&'static str], _ask: &Ask<'_>) -> Vec<Fact> {
        let dir = format!("/sys/class/net/{}", self.name);
        let mut facts: Vec<Fact> = ["flags", "mtu", "operstate"]
            .iter()
            .map(|f| Fact::Read(format!("{dir}/{f}")))
            .collect();
        if wants(wanted, "addrs") {
            facts.push(Fact::Run(ip_cmd("addr")));
        }
        facts
    }

    fn probe(&self, host: &Host, wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        let mut seen = Observed::new();
        let Some(link) = self.link(host)? else {
            seen.set("exists", Value::Bool(false));
            for prop in wanted.iter().filter(|p| **p != "exists") {
                seen.fail(
                    prop,
                    ProbeError::Failed(format!("no interface `{}` on the target", self.name)),
                );
            }
            return Ok(seen);
        };
        seen.set("exists", Value::Bool(true));
        seen.set("mtu", Value::Int(link.mtu));
        seen.set("up", Value::Bool(link.up));
        if wants(wanted, "addrs") {
            seen.put("addrs", self.addrs(host));
        }
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::backend::{Backend, BackendError};

    fn fixture(os: &str, case: &str) -> String {
        crate::resource::fixture("interface", os, case)
    }

    fn of<'a>(all: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        all.iter()
            .filter(|(n, _)| n == name)
            .map(|(_, a)| a.as_str())
            .collect()
    }

    #[test]
    fn parses_iproute2_addresses() {
        let all = parse_ip_addr(&fixture("debian-12", "ip-addr")).unwrap();
        assert_eq!(of(&all, "lo"), ["127.0.0.1/8", "::1/128"]);
        assert_eq!(
            of(&all, "eth0"),
            ["192.0.2.2/24", "fd00::2/64", "fe80::fc:ff:fe00:1/64"]
        );
        let rocky = parse_ip_addr(&fixture("rocky-9", "ip-addr")).unwrap();
        assert_eq!(
            of(&rocky, "enp1s0"),
            ["192.168.122.80/24", "fe80::5054:ff:fe3a:7b21/64"]
        );
        assert!(parse_ip_addr("garbage").is_err());
        assert!(parse_ip_addr("1: lo    inet 127.0.0.1 scope host").is_err());
    }

    #[test]
    fn parses_busybox_addresses() {
        let all = parse_ip_addr(&fixture("alpine-3.19", "ip-addr")).unwrap();
        assert_eq!(of(&all, "lo"), ["127.0.0.1/8", "::1/128"]);
        // The secondary address is labelled `eth0:1` but belongs to `eth0`.
        assert_eq!(
            of(&all, "eth0"),
            [
                "10.0.2.15/24",
                "10.0.2.16/24",
                "2001:db8:1:0:a00:27ff:fe4e:66a1/64",
                "fe80::a00:27ff:fe4e:66a1/64"
            ]
        );
        assert_eq!(of(&all, "tun0"), ["10.8.0.1/32"]);
        assert!(of(&all, "eth0:1").is_empty());
    }

    #[test]
    fn parses_links() {
        let debian = parse_ip_link(&fixture("debian-12", "ip-link")).unwrap();
        let get = |links: &[(String, Link)], name: &str| {
            links
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, l)| (l.mtu, l.up))
        };
        assert_eq!(get(&debian, "lo"), Some((65536, true)));
        assert_eq!(get(&debian, "eth0"), Some((1400, true)));
        assert_eq!(get(&debian, "ifb0"), Some((1500, false)));
        // Administratively up, but no carrier.
        assert_eq!(get(&debian, "docker0"), Some((1500, false)));
        let alpine = parse_ip_link(&fixture("alpine-3.19", "ip-link")).unwrap();
        assert_eq!(get(&alpine, "lo"), Some((65536, true)));
        assert_eq!(get(&alpine, "tun0"), Some((1500, true)));
        assert_eq!(get(&alpine, "eth1"), Some((9000, false)));
        assert_eq!(get(&alpine, "veth0"), Some((1500, false)));
        assert!(parse_ip_link("1: lo <UP> mtu x").is_err());
    }

    #[test]
    fn parses_if_inet6() {
        let debian = parse_if_inet6(&fixture("debian-12", "if_inet6")).unwrap();
        assert_eq!(of(&debian, "lo"), ["::1/128"]);
        assert_eq!(of(&debian, "eth0"), ["fd00::2/64", "fe80::fc:ff:fe00:1/64"]);
        let alpine = parse_if_inet6(&fixture("alpine-3.19", "if_inet6")).unwrap();
        assert_eq!(of(&alpine, "eth0")[0], "2001:db8:1:0:a00:27ff:fe4e:66a1/64");
        assert!(parse_if_inet6("zz 01 80 10 80 lo").is_err());
    }

    #[test]
    fn flags_and_state() {
        assert_eq!(parse_flags("0x1003\n"), Ok(0x1003));
        assert!(parse_flags("up").is_err());
        assert!(is_up(true, "unknown"));
        assert!(!is_up(true, "down"));
        assert!(!is_up(false, "unknown"));
        assert!(!is_up(true, "dormant"));
    }

    #[test]
    fn names_the_kernel_refuses_are_refused() {
        for bad in ["", "a/b", "a b", "..", "sixteen-chars-xx", "eth0:1", "x\n"] {
            assert!(
                new(bad, &Options::new())
                    .unwrap_err()
                    .contains("not an interface name"),
                "{bad:?}"
            );
        }
        assert!(new("$(reboot)", &Options::new()).is_ok());
    }

    /// A target with the given files and programs and nothing else.
    #[derive(Default)]
    struct Fake {
        files: HashMap<&'static str, String>,
        programs: HashMap<&'static str, String>,
        runs: Arc<AtomicUsize>,
    }

    impl Backend for Fake {
        fn target(&self) -> &'static str {
            "fake"
        }

        fn exec(&self, cmd: &Cmd, _timeout: Duration) -> Result<Output, BackendError> {
            self.runs.fetch_add(1, Ordering::Relaxed);
            let stdout = self
                .programs
                .get(cmd.to_shell_line().as_str())
                .ok_or_else(|| BackendError::ToolMissing(cmd.program().into()))?;
            Ok(Output {
                status: Some(0),
                stdout: stdout.clone().into_bytes(),
                stderr: Vec::new(),
            })
        }

        fn read_file(&self, path: &str, _timeout: Duration) -> Result<Vec<u8>, BackendError> {
            self.files
                .get(path)
                .map(|s| s.clone().into_bytes())
                .ok_or_else(|| BackendError::NotFound(path.into()))
        }
    }

    fn observe(fake: Fake, id: &str) -> Observed {
        let host = Host::new(Box::new(fake));
        new(id, &Options::new())
            .unwrap()
            .probe(&host, &["exists", "addrs", "mtu", "up"])
            .unwrap()
    }

    #[test]
    fn without_sysfs_links_come_from_ip() {
        let fake = || Fake {
            files: HashMap::new(),
            programs: HashMap::from([
                ("ip -o link show", fixture("alpine-3.19", "ip-link")),
                ("ip -o addr show", fixture("alpine-3.19", "ip-addr")),
            ]),
            ..Fake::default()
        };
        let eth1 = observe(fake(), "eth1");
        assert_eq!(eth1.get("mtu").unwrap(), &Value::Int(9000));
        assert_eq!(eth1.get("up").unwrap(), &Value::Bool(false));
        assert_eq!(eth1.get("addrs").unwrap(), &Value::List(vec![]));
        let tun = observe(fake(), "tun0");
        assert_eq!(
            tun.get("addrs").unwrap(),
            &Value::List(vec!["10.8.0.1/32".into()])
        );
        let gone = observe(fake(), "wlan0");
        assert_eq!(gone.get("exists").unwrap(), &Value::Bool(false));
        assert!(gone.get("mtu").is_err());
    }

    #[test]
    fn without_ip_addresses_are_an_error() {
        let fake = Fake {
            files: HashMap::from([
                ("/sys/class/net/lo/flags", "0x9\n".into()),
                ("/sys/class/net/lo/mtu", "65536\n".into()),
                ("/sys/class/net/lo/operstate", "unknown\n".into()),
                ("/proc/net/if_inet6", fixture("debian-12", "if_inet6")),
            ]),
            ..Fake::default()
        };
        let lo = observe(fake, "lo");
        assert_eq!(lo.get("up").unwrap(), &Value::Bool(true));
        assert_eq!(lo.get("mtu").unwrap(), &Value::Int(65536));
        let err = lo.get("addrs").unwrap_err().to_string();
        assert!(err.contains("`ip` (iproute2) is not installed"), "{err}");
        assert!(err.ends_with(r#"["::1/128"]"#), "{err}");
        let host = Host::new(Box::new(Fake::default()));
        let err = new("eth0", &Options::new())
            .unwrap()
            .probe(&host, &["exists"])
            .unwrap_err();
        assert!(err.to_string().contains("cannot list network interfaces"));
    }

    #[test]
    fn one_ip_run_serves_every_interface() {
        let runs = Arc::new(AtomicUsize::new(0));
        let host = Host::new(Box::new(Fake {
            programs: HashMap::from([
                ("ip -o link show", fixture("alpine-3.19", "ip-link")),
                ("ip -o addr show", fixture("alpine-3.19", "ip-addr")),
            ]),
            runs: Arc::clone(&runs),
            ..Fake::default()
        }));
        for name in ["lo", "eth0", "eth1", "tun0", "wlan0"] {
            new(name, &Options::new())
                .unwrap()
                .probe(&host, &["exists", "addrs"])
                .unwrap();
        }
        assert_eq!(runs.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn observes_local_loopback() {
        let host = Host::local();
        let seen = new("lo", &Options::new())
            .unwrap()
            .probe(&host, &["exists", "addrs", "up"])
            .unwrap();
        assert_eq!(seen.get("exists").unwrap(), &Value::Bool(true));
        assert_eq!(seen.get("up").unwrap(), &Value::Bool(true));
        let Value::List(addrs) = seen.get("addrs").unwrap() else {
            panic!("addrs is a list");
        };
        assert!(addrs.contains(&"127.0.0.1/8".to_string()), "{addrs:?}");
    }
}
