//! `package`: whether a package is installed, and which version.
//!
//! The whole package database is read once per run and shared by every package check
//! (`dpkg-query -W` on Debian, `rpm -qa` on RHEL and SUSE, `/lib/apk/db/installed` on
//! Alpine, `pacman -Q` on Arch): one round trip for a spec with a hundred packages, and
//! no package name ever reaches a command line.

use crate::cmd::Cmd;
use crate::expect::version::compare;
use crate::expect::{Ty, Value};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};
use crate::os::Family;

use super::{Kind, Observed, Options, PropDef, Resource, stdout_of};

pub(super) const KIND: Kind = Kind {
    key: "package",
    props: &[
        PropDef::gate("installed", "the package is installed"),
        PropDef::new(
            "version",
            Ty::Str,
            "the installed version (the newest, if several are installed)",
        ),
        PropDef::new("versions", Ty::List, "every installed version"),
    ],
    options: &[],
    new,
};

/// Where Alpine's apk keeps its database of installed packages.
const APK_DB: &str = "/lib/apk/db/installed";

/// The `dpkg-query` format: one tab-separated line per package the database knows,
/// including removed ones whose configuration files are left (`rc`).
const DPKG_FORMAT: &str = "${Package}\t${db:Status-Abbrev}\t${Version}\t${Architecture}\n";

/// The `rpm` query format; `EPOCHNUM` prints 0 where a package has no epoch.
const RPM_FORMAT: &str = "%{NAME}\t%{EPOCHNUM}\t%{VERSION}-%{RELEASE}\t%{ARCH}\n";

#[derive(Debug)]
struct Package {
    name: String,
}

fn new(id: &str, _options: &Options) -> Result<Box<dyn Resource>, String> {
    if id.is_empty() {
        return Err(
            "the package name is empty; write it as the package manager lists it, \
                    e.g. `nginx`"
                .into(),
        );
    }
    if id.contains('/') || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{id}` is not a package name; write one name as the package manager lists it, \
             e.g. `nginx` or `libc6:amd64`"
        ));
    }
    Ok(Box::new(Package {
        name: id.to_string(),
    }))
}

/// One installed package as its database lists it.
#[derive(Debug, PartialEq, Eq)]
struct Installed {
    name: String,
    arch: String,
    version: String,
}

impl Installed {
    fn new(name: &str, arch: &str, version: impl Into<String>) -> Self {
        Self {
            name: name.to_string(),
            arch: arch.to_string(),
            version: version.into(),
        }
    }

    /// Returns true if and only if `id` names this package: by name alone (any
    /// architecture), or as `name:arch` the way dpkg writes multi-arch packages.
    fn is(&self, id: &str) -> bool {
        self.name == id
            || id
                .strip_prefix(self.name.as_str())
                .and_then(|rest| rest.strip_prefix(':'))
                .is_some_and(|arch| !arch.is_empty() && arch == self.arch)
    }
}

/// Parses `dpkg-query -W -f` with [`DPKG_FORMAT`]. Only `ii` (installed) and `hi`
/// (installed, on hold) count; `rc` (removed, configuration left) and half-installed
/// states do not.
fn parse_dpkg(text: &str) -> Result<Vec<Installed>, String> {
    let mut installed = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, status, version, arch] = fields[..] else {
            return Err(format!("unexpected `dpkg-query` line: {line:?}"));
        };
        if matches!(status.get(..2), Some("ii" | "hi")) {
            installed.push(Installed::new(name, arch, version));
        }
    }
    Ok(installed)
}

/// Parses `rpm -qa --qf` with [`RPM_FORMAT`]; a non-zero epoch is shown as `E:` before
/// the version, as rpm and dnf write it.
fn parse_rpm(text: &str) -> Result<Vec<Installed>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let [name, epoch, version, arch] = fields[..] else {
                return Err(format!("unexpected `rpm` line: {line:?}"));
            };
            let version = match epoch {
                "" | "0" | "(none)" => version.to_string(),
                e => format!("{e}:{version}"),
            };
            Ok(Installed::new(name, arch, version))
        })
        .collect()
}

/// Parses apk's database: blocks separated by blank lines, one `X:value` field per line;
/// `P` is the name, `V` the version, `A` the architecture.
fn parse_apk(text: &str) -> Result<Vec<Installed>, String> {
    let mut installed = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let field = |key: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        };
        let (Some(name), Some(version)) = (field("P"), field("V")) else {
            let head = block.lines().next().unwrap_or_default();
            return Err(format!(
                "an entry of `{APK_DB}` has no `P:` name or no `V:` version (at {head:?})"
            ));
        };
        installed.push(Installed::new(name, field("A").unwrap_or(""), version));
    }
    Ok(installed)
}

/// Parses `pacman -Q`: `name version` per line.
fn parse_pacman(text: &str) -> Result<Vec<Installed>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(
            |line| match line.split_whitespace().collect::<Vec<_>>()[..] {
                [name, version] => Ok(Installed::new(name, "", version)),
                _ => Err(format!("unexpected `pacman -Q` line: {line:?}")),
            },
        )
        .collect()
}

/// The versions of `id` in `db`, oldest first, each once (multilib systems install the
/// same version for two architectures).
fn versions_of(db: &[Installed], id: &str) -> Vec<String> {
    let mut versions: Vec<String> = db
        .iter()
        .filter(|p| p.is(id))
        .map(|p| p.version.clone())
        .collect();
    versions.sort_by(|a, b| compare(a, b));
    versions.dedup();
    versions
}

fn dpkg_cmd() -> Cmd {
    Cmd::new("dpkg-query").arg("-W").arg("-f").arg(DPKG_FORMAT)
}

fn rpm_cmd() -> Cmd {
    Cmd::new("rpm").arg("-qa").arg("--qf").arg(RPM_FORMAT)
}

fn pacman_cmd() -> Cmd {
    Cmd::new("pacman").arg("-Q")
}

/// Reads the target's whole package database (once per run, through the host's memo).
fn database(host: &Host) -> Result<Vec<Installed>, ProbeError> {
    let os = host.os()?;
    let parsed = match os.family {
        Family::Debian => {
            let cmd = dpkg_cmd();
            parse_dpkg(&stdout_of(&*host.run_memo(&cmd)?, "dpkg-query", &[0])?)
        }
        Family::Rhel | Family::Suse => {
            let cmd = rpm_cmd();
            parse_rpm(&stdout_of(&*host.run_memo(&cmd)?, "rpm", &[0])?)
        }
        Family::Alpine => match host.read_opt(APK_DB)? {
            Some(bytes) => parse_apk(&String::from_utf8_lossy(&bytes)),
            None => {
                return Err(ProbeError::Failed(format!(
                    "`{APK_DB}` does not exist on the target, so its packages cannot be listed"
                )));
            }
        },
        Family::Arch => {
            let cmd = pacman_cmd();
            parse_pacman(&stdout_of(&*host.run_memo(&cmd)?, "pacman", &[0])?)
        }
        Family::Other => return Err(ProbeError::unsupported("package", &os.id)),
    };
    parsed.map_err(ProbeError::Failed)
}

impl Resource for Package {
    fn facts(&self, _wanted: &[&'static str], ask: &Ask<'_>) -> Vec<Fact> {
        match ask.os.map(|os| os.family) {
            // Before the OS is known: its name, and a guess at the commonest databases
            // (asking for a program that is not there costs the probe nothing).
            None => vec![
                Fact::Read(crate::os::OS_RELEASE.into()),
                Fact::Read(crate::os::OS_RELEASE_FALLBACK.into()),
                Fact::Run(dpkg_cmd()),
                Fact::Read(APK_DB.into()),
            ],
            Some(Family::Debian) => vec![Fact::Run(dpkg_cmd())],
            Some(Family::Rhel | Family::Suse) => vec![Fact::Run(rpm_cmd())],
            Some(Family::Alpine) => vec![Fact::Read(APK_DB.into())],
            Some(Family::Arch) => vec![Fact::Run(pacman_cmd())],
            Some(Family::Other) => Vec::new(),
        }
    }

    fn probe(&self, host: &Host, _wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        let versions = versions_of(&database(host)?, &self.name);
        let mut seen = Observed::new();
        seen.set("installed", Value::Bool(!versions.is_empty()));
        match versions.last() {
            Some(newest) => seen.set("version", Value::Str(newest.clone())),
            None => seen.fail(
                "version",
                ProbeError::Failed(format!("package `{}` is not installed", self.name)),
            ),
        }
        seen.set("versions", Value::List(versions));
        Ok(seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(os: &str, case: &str) -> String {
        crate::resource::fixture("package", os, case)
    }

    #[test]
    fn dpkg_counts_only_installed_packages() {
        let db = parse_dpkg(&fixture("debian-12", "dpkg-query")).unwrap();
        assert_eq!(versions_of(&db, "dpkg"), ["1.21.22"]);
        assert_eq!(versions_of(&db, "zlib1g"), ["1:1.2.13.dfsg-1"]);
        // `rc`: removed, its configuration files left behind.
        assert!(versions_of(&db, "nginx").is_empty());
        assert!(versions_of(&db, "ispec-no-such-package").is_empty());
        assert!(parse_dpkg("dpkg\tii \n").is_err());
        assert!(
            parse_dpkg("a\thi \t1.0\tamd64\nb\tiU \t1.0\tamd64\nc\tii \t2\tall\n")
                .unwrap()
                .iter()
                .map(|p| p.name.as_str())
                .eq(["a", "c"])
        );
    }

    #[test]
    fn dpkg_multi_arch_names() {
        let db = parse_dpkg(&fixture("debian-12", "dpkg-query")).unwrap();
        assert_eq!(versions_of(&db, "libc6"), ["2.36-9+deb12u14"]);
        assert_eq!(versions_of(&db, "libc6:amd64"), ["2.36-9+deb12u14"]);
        assert!(versions_of(&db, "libc6:i386").is_empty());
        assert!(versions_of(&db, "libc6:").is_empty());
        assert_eq!(versions_of(&db, "tzdata:all").len(), 1);
        // A prefix of a name is not the name.
        assert!(versions_of(&db, "libc").is_empty());
    }

    #[test]
    fn rpm_epochs_and_several_kernels() {
        let db = parse_rpm(&fixture("rocky-9", "rpm-qa")).unwrap();
        assert_eq!(versions_of(&db, "openssl"), ["1:3.0.7-24.el9"]);
        assert_eq!(versions_of(&db, "bash"), ["5.1.8-6.el9_1"]);
        // Newest last, by version order: 362.13 is newer than 362.8.
        assert_eq!(
            versions_of(&db, "kernel"),
            ["5.14.0-362.8.1.el9_3", "5.14.0-362.13.1.el9_3"]
        );
        assert_eq!(versions_of(&db, "gpg-pubkey"), ["350d275d-6279464b"]);
        assert!(versions_of(&db, "httpd").is_empty());
        assert!(parse_rpm("kernel\t0\t5.14\n").is_err());
    }

    #[test]
    fn apk_database_blocks() {
        let db = parse_apk(&fixture("alpine-3.19", "installed")).unwrap();
        assert_eq!(db.len(), 6);
        assert_eq!(versions_of(&db, "busybox"), ["1.36.1-r15"]);
        assert_eq!(versions_of(&db, "musl:x86_64"), ["1.2.4_git20230717-r4"]);
        // `openssl` is only the origin (`o:`) of libssl3, not an installed package.
        assert!(versions_of(&db, "openssl").is_empty());
        assert!(parse_apk("P:broken\nA:x86_64\n").is_err());
        assert!(parse_apk("").unwrap().is_empty());
    }

    #[test]
    fn pacman_lines() {
        let db = parse_pacman("bash 5.2.026-2\nlinux 6.7.4.arch1-1\n").unwrap();
        assert_eq!(versions_of(&db, "linux"), ["6.7.4.arch1-1"]);
        assert!(parse_pacman("bash\n").is_err());
    }

    #[test]
    fn ids_are_names() {
        for bad in ["", "nginx 1.22", "a/b", "a\nb"] {
            assert!(new(bad, &Options::new()).is_err(), "{bad:?}");
        }
        assert!(new("$(touch /tmp/x)", &Options::new()).is_err());
        assert!(new("libc6:amd64", &Options::new()).is_ok());
        assert!(new("`id`;'\"", &Options::new()).is_ok());
    }

    #[test]
    fn observes_this_machine() {
        // The test machine is Debian 12 (see `fixtures/probes/package/debian-12`).
        let host = Host::local();
        let seen = new("dpkg", &Options::new())
            .unwrap()
            .probe(&host, &["installed", "version"])
            .unwrap();
        assert_eq!(seen.get("installed").unwrap(), &Value::Bool(true));
        let absent = new("ispec-no-such-package", &Options::new())
            .unwrap()
            .probe(&host, &["installed", "version"])
            .unwrap();
        assert_eq!(absent.get("installed").unwrap(), &Value::Bool(false));
        assert_eq!(absent.get("versions").unwrap(), &Value::List(vec![]));
        assert!(absent.get("version").is_err());
        // Both checks were served by one `dpkg-query` (plus the os-release read).
        assert_eq!(host.round_trips(), 2);
    }
}
