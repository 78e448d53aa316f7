//! Conditions: `when = "EXPR"` on a resource. Where EXPR is false, the resource's
//! checks are skipped with the reason; they never pass or fail.
//!
//! ```text
//! expr    = or
//! or      = and { "||" and }
//! and     = unary { "&&" unary }
//! unary   = "!" unary | primary
//! primary = "(" expr ")" | flag | field op string
//! flag    = "container" | "docker" | "local" | "ssh" | "root"
//! field   = "os" | "os-version" | "arch" | "target"
//! op      = "==" | "!="            (and "<" "<=" ">" ">=" for "os-version")
//! string  = '"' chars '"' | "'" chars "'"
//! ```
//!
//! Expressions are parsed when the spec is loaded (a bad one is a spec error with
//! its position); they are evaluated on each target, from facts the run gathers in
//! its first batch.

use std::fmt;

use crate::backend::Transport;
use crate::expect::version::Op;
use crate::gather::Fact;
use crate::os::OsInfo;

mod parse;

pub use parse::ParseError;

/// The files whose presence says a machine runs inside a container.
pub const CONTAINER_MARKERS: &[&str] = &["/.dockerenv", "/run/.containerenv"];

/// The program whose output is the target's CPU (`arch`).
pub fn arch_cmd() -> crate::cmd::Cmd {
    crate::cmd::Cmd::new("uname").arg("-m")
}

/// The program whose output is the check user's uid (`root`).
pub fn uid_cmd() -> crate::cmd::Cmd {
    crate::cmd::Cmd::new("id").arg("-u")
}

/// A parsed condition and the text it was written as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct When {
    text: String,
    expr: Expr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Expr {
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Flag(Flag),
    Cmp(Field, Op, String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flag {
    Container,
    Docker,
    Local,
    Ssh,
    Root,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Os,
    OsVersion,
    Arch,
    Target,
}

const FLAGS: &[(&str, Flag)] = &[
    ("container", Flag::Container),
    ("docker", Flag::Docker),
    ("local", Flag::Local),
    ("ssh", Flag::Ssh),
    ("root", Flag::Root),
];
const FIELDS: &[(&str, Field)] = &[
    ("os", Field::Os),
    ("os-version", Field::OsVersion),
    ("arch", Field::Arch),
    ("target", Field::Target),
];

/// What a condition may ask of a target. Each answer may cost a round trip the
/// first time; [`When::facts`] names them so the run gathers them in bulk.
pub trait Target {
    /// How the target is reached.
    fn transport(&self) -> Transport;
    /// The target's names: its suite name if it has one, and the target as reports
    /// name it.
    fn names(&self) -> Vec<String>;
    /// The first of [`CONTAINER_MARKERS`] that exists on the target.
    ///
    /// # Errors
    ///
    /// The target could not be asked.
    fn container_marker(&self) -> Result<Option<&'static str>, String>;
    /// The target's OS.
    ///
    /// # Errors
    ///
    /// The target could not be asked.
    fn os(&self) -> Result<OsInfo, String>;
    /// The target's CPU as `uname -m` names it.
    ///
    /// # Errors
    ///
    /// The target could not be asked.
    fn arch(&self) -> Result<String, String>;
    /// The uid checks run as.
    ///
    /// # Errors
    ///
    /// The target could not be asked.
    fn uid(&self) -> Result<String, String>;
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl When {
    /// Parses a condition.
    ///
    /// # Errors
    ///
    /// The text is not a condition; the error says where and what to write.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Ok(Self {
            text: text.to_string(),
            expr: parse::parse(text)?,
        })
    }

    /// The facts evaluating the condition on a target reached by `transport` needs.
    pub fn facts(&self, transport: Transport) -> Vec<Fact> {
        let mut facts = Vec::new();
        self.expr.visit(&mut |e| match e {
            Expr::Flag(Flag::Container) if transport != Transport::Docker => facts.extend(
                CONTAINER_MARKERS
                    .iter()
                    .map(|m| Fact::Read((*m).to_string())),
            ),
            Expr::Flag(Flag::Root) => facts.push(Fact::Run(uid_cmd())),
            Expr::Cmp(Field::Os | Field::OsVersion, ..) => {
                facts.push(Fact::Read(crate::os::OS_RELEASE.into()));
            }
            Expr::Cmp(Field::Arch, ..) => facts.push(Fact::Run(arch_cmd())),
            _ => {}
        });
        facts.dedup();
        facts
    }

    /// `Ok(None)` if the condition holds on `target`; otherwise why not, to show as
    /// the reason its checks were skipped: ``when `!container`: the target is a
    /// container``.
    ///
    /// # Errors
    ///
    /// A fact the condition needs could not be had.
    pub fn skip_reason(&self, target: &dyn Target) -> Result<Option<String>, String> {
        let mut said = Vec::new();
        if self.expr.eval(target, &mut said)? {
            return Ok(None);
        }
        said.dedup();
        Ok(Some(format!("when `{}`: {}", self.text, said.join(", "))))
    }
}

impl Expr {
    fn visit(&self, f: &mut impl FnMut(&Self)) {
        f(self);
        match self {
            Self::Not(e) => e.visit(f),
            Self::And(a, b) | Self::Or(a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Self::Flag(_) | Self::Cmp(..) => {}
        }
    }

    /// Evaluates, short-circuiting, and says in `said` what each fact it looked at is.
    fn eval(&self, t: &dyn Target, said: &mut Vec<String>) -> Result<bool, String> {
        Ok(match self {
            Self::Not(e) => !e.eval(t, said)?,
            Self::And(a, b) => a.eval(t, said)? && b.eval(t, said)?,
            Self::Or(a, b) => a.eval(t, said)? || b.eval(t, said)?,
            Self::Flag(flag) => {
                let (holds, what) = flag_holds(*flag, t)?;
                said.push(what);
                holds
            }
            Self::Cmp(field, op, want) => {
                let (holds, what) = compare(*field, *op, want, t)?;
                said.push(what);
                holds
            }
        })
    }
}

fn flag_holds(flag: Flag, t: &dyn Target) -> Result<(bool, String), String> {
    let transport = t.transport();
    let is = |holds: bool, yes: &str, no: &str| (holds, if holds { yes } else { no }.to_string());
    Ok(match flag {
        Flag::Container if transport == Transport::Docker => {
            (true, "the target is a container".to_string())
        }
        Flag::Container => match t.container_marker()? {
            Some(marker) => (true, format!("the target is a container (`{marker}`)")),
            None => (false, "the target is not a container".to_string()),
        },
        Flag::Docker => is(
            transport == Transport::Docker,
            "the target is a Docker container",
            "the target is not a Docker container",
        ),
        Flag::Local => is(
            transport == Transport::Local,
            "the target is this machine",
            "the target is not this machine",
        ),
        Flag::Ssh => is(
            transport == Transport::Ssh,
            "the target is reached over SSH",
            "the target is not reached over SSH",
        ),
        Flag::Root => {
            let uid = t.uid()?;
            let uid = uid.trim();
            (
                uid == "0",
                if uid == "0" {
                    "checks run as root".to_string()
                } else {
                    format!("checks run as uid {uid}, not root")
                },
            )
        }
    })
}

fn compare(field: Field, op: Op, want: &str, t: &dyn Target) -> Result<(bool, String), String> {
    match field {
        Field::Os => {
            let os = t.os()?;
            let family = os.family.to_string();
            let matches = os.id == want || family == want || os.like.iter().any(|l| l == want);
            let version = os
                .version
                .as_ref()
                .map_or(String::new(), |v| format!(" {v}"));
            let like = if family != os.id && family != "unknown" {
                format!(" (like `{family}`)")
            } else {
                String::new()
            };
            let what = format!("the OS is `{}`{version}{like}", os.id);
            Ok((if op == Op::Ne { !matches } else { matches }, what))
        }
        Field::OsVersion => {
            let os = t.os()?;
            let Some(version) = os.version else {
                return Ok((op == Op::Ne, format!("the OS `{}` has no version", os.id)));
            };
            Ok((
                op.holds(version_order(&version, want)),
                format!("the OS version is `{version}`"),
            ))
        }
        Field::Arch => {
            let arch = t.arch()?;
            let arch = arch.trim();
            let same = arch == want || alias(arch) == alias(want);
            Ok((
                if op == Op::Ne { !same } else { same },
                format!("the CPU is `{arch}`"),
            ))
        }
        Field::Target => {
            let names = t.names();
            let same = names.iter().any(|n| n == want);
            let shown = names.first().cloned().unwrap_or_default();
            Ok((
                if op == Op::Ne { !same } else { same },
                format!("the target is `{shown}`"),
            ))
        }
    }
}

/// Docker's and Debian's names for a CPU, as `uname -m` names it.
fn alias(arch: &str) -> &str {
    match arch {
        "amd64" | "x64" => "x86_64",
        "arm64" => "aarch64",
        other => other,
    }
}

/// Compares dotted versions part by part, numbers as numbers: `12` < `12.1` < `13`.
/// Only as far as `want` goes (`12.4 == 12`); a part `have` lacks counts as 0
/// (`12 == 12.0`, so `os-version >= "12.0"` holds on Debian 12).
fn version_order(have: &str, want: &str) -> std::cmp::Ordering {
    let mut have = have.split('.');
    for w in want.split('.') {
        let h = have.next().unwrap_or("0");
        let order = match (h.parse::<u64>(), w.parse::<u64>()) {
            (Ok(h), Ok(w)) => h.cmp(&w),
            _ => h.cmp(w),
        };
        if order.is_ne() {
            return order;
        }
    }
    std::cmp::Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::parse_os_release;

    struct Fake {
        transport: Transport,
        marker: Option<&'static str>,
        os: &'static str,
        arch: &'static str,
        uid: &'static str,
    }

    impl Target for Fake {
        fn transport(&self) -> Transport {
            self.transport
        }
        fn names(&self) -> Vec<String> {
            vec!["web".into(), "docker://web-1".into()]
        }
        fn container_marker(&self) -> Result<Option<&'static str>, String> {
            Ok(self.marker)
        }
        fn os(&self) -> Result<OsInfo, String> {
            Ok(parse_os_release(self.os))
        }
        fn arch(&self) -> Result<String, String> {
            Ok(format!("{}\n", self.arch))
        }
        fn uid(&self) -> Result<String, String> {
            if self.uid.is_empty() {
                Err("`id` is not installed on the target".into())
            } else {
                Ok(format!("{}\n", self.uid))
            }
        }
    }

    const DEBIAN: Fake = Fake {
        transport: Transport::Docker,
        marker: None,
        os: "ID=debian\nVERSION_ID=\"12\"\n",
        arch: "x86_64",
        uid: "0",
    };
    const UBUNTU_SSH: Fake = Fake {
        transport: Transport::Ssh,
        marker: None,
        os: "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n",
        arch: "aarch64",
        uid: "1000",
    };
    const LOCAL_IN_CONTAINER: Fake = Fake {
        transport: Transport::Local,
        marker: Some("/.dockerenv"),
        os: "ID=rocky\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n",
        arch: "x86_64",
        uid: "",
    };

    fn holds(expr: &str, t: &Fake) -> bool {
        When::parse(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e:?}"))
            .skip_reason(t)
            .unwrap()
            .is_none()
    }

    #[test]
    fn flags_and_fields() {
        assert!(holds("container", &DEBIAN));
        assert!(holds("docker && !ssh && !local", &DEBIAN));
        assert!(holds("ssh", &UBUNTU_SSH));
        assert!(!holds("container", &UBUNTU_SSH));
        assert!(holds("container && local && !docker", &LOCAL_IN_CONTAINER));
        assert!(holds("root", &DEBIAN));
        assert!(!holds("root", &UBUNTU_SSH));
        assert!(holds("os == \"debian\"", &DEBIAN));
        assert!(holds("os == 'debian' && os == 'ubuntu'", &UBUNTU_SSH));
        assert!(holds(
            "os == 'fedora' && os == 'rhel' && os != 'debian'",
            &LOCAL_IN_CONTAINER
        ));
        assert!(holds(
            "os-version >= '12' && os-version < '13' && os-version == '12'",
            &DEBIAN
        ));
        assert!(holds(
            "os-version > '22.04' && os-version <= '24.4'",
            &UBUNTU_SSH
        ));
        assert!(holds("os-version == '9'", &LOCAL_IN_CONTAINER));
        assert!(holds("arch == 'x86_64' && arch == 'amd64'", &DEBIAN));
        assert!(holds("arch == 'arm64' && arch != 'x86_64'", &UBUNTU_SSH));
        assert!(holds(
            "target == 'web' && target == 'docker://web-1'",
            &DEBIAN
        ));
        assert!(holds("target != 'db'", &DEBIAN));
    }

    #[test]
    fn precedence_and_short_circuit() {
        // `&&` binds tighter than `||`; `!` tighter than both.
        assert!(holds("ssh || docker && root", &DEBIAN));
        assert!(!holds("(ssh || docker) && !root", &DEBIAN));
        assert!(holds("!!docker", &DEBIAN));
        assert!(holds("!ssh || container", &DEBIAN));
        // `root` would fail on this target, but is never asked.
        assert!(holds("local || root", &LOCAL_IN_CONTAINER));
        let err = When::parse("root")
            .unwrap()
            .skip_reason(&LOCAL_IN_CONTAINER)
            .unwrap_err();
        assert!(err.contains("`id`"));
    }

    #[test]
    fn reasons_say_what_was_seen() {
        let reason = |expr: &str, t: &Fake| When::parse(expr).unwrap().skip_reason(t).unwrap();
        assert_eq!(
            reason("!container", &DEBIAN).as_deref(),
            Some("when `!container`: the target is a container")
        );
        assert_eq!(
            reason("!container", &LOCAL_IN_CONTAINER).as_deref(),
            Some("when `!container`: the target is a container (`/.dockerenv`)")
        );
        assert_eq!(
            reason("os == 'debian' && root", &UBUNTU_SSH).as_deref(),
            Some(
                "when `os == 'debian' && root`: the OS is `ubuntu` 24.04 (like `debian`), checks run as uid 1000, not root"
            )
        );
        assert_eq!(
            reason("os == \"alpine\" || arch == \"riscv64\"", &DEBIAN).as_deref(),
            Some(
                "when `os == \"alpine\" || arch == \"riscv64\"`: the OS is `debian` 12, the CPU is `x86_64`"
            )
        );
        assert_eq!(reason("docker", &DEBIAN), None);
    }

    #[test]
    fn facts_are_named_for_the_first_batch() {
        let when =
            When::parse("container && os == 'debian' || arch == 'x' || root || ssh").unwrap();
        let facts = when.facts(Transport::Ssh);
        assert!(facts.contains(&Fact::Read("/.dockerenv".into())));
        assert!(facts.contains(&Fact::Read(crate::os::OS_RELEASE.into())));
        assert!(facts.contains(&Fact::Run(arch_cmd())));
        assert!(facts.contains(&Fact::Run(uid_cmd())));
        // A Docker target is a container without asking.
        assert!(
            !when
                .facts(Transport::Docker)
                .contains(&Fact::Read("/.dockerenv".into()))
        );
        assert!(
            When::parse("local && target == 'x'")
                .unwrap()
                .facts(Transport::Ssh)
                .is_empty()
        );
    }

    fn parse_error(text: &str) -> (String, String, String) {
        let e = When::parse(text).unwrap_err();
        (text[e.range.clone()].to_string(), e.message, e.label)
    }

    #[test]
    fn mistakes_say_where_and_what() {
        assert_eq!(
            parse_error("!contaner"),
            (
                "contaner".into(),
                "unknown condition `contaner` in `when`".into(),
                "did you mean `container`?".into()
            )
        );
        assert_eq!(parse_error("os = 'debian'").0, "=");
        assert_eq!(parse_error("os == debian").0, "debian");
        assert_eq!(
            parse_error("arch >= 'x'").1,
            "`arch` can only be compared with `==` or `!=`"
        );
        assert_eq!(parse_error("os").1, "`os` needs a comparison in `when`");
        assert_eq!(parse_error("(local || ssh").0, "(");
        assert_eq!(parse_error("local ssh").1, "unexpected `ssh` in `when`");
        assert_eq!(parse_error("local &&").1, "`when` ends too soon");
        assert_eq!(parse_error("  ").1, "empty `when`");
        assert_eq!(parse_error("os == 'debian").0, "'debian");
        assert_eq!(parse_error("local & ssh").2, "write `&&`");
        assert_eq!(parse_error("local; ssh").0, ";");
    }

    #[test]
    fn values_to_quote_flags_compared_and_empty_versions() {
        let full = |text: &str| {
            let e = When::parse(text).unwrap_err();
            (
                text[e.range.clone()].to_string(),
                e.message,
                e.label,
                e.help,
            )
        };
        assert_eq!(
            full("os-version >= 12"),
            (
                "12".into(),
                "`os-version` is compared with a quoted string in `when`".into(),
                "expected a string".into(),
                "quote the value: `os-version >= \"12\"` (or with single quotes)".into()
            )
        );
        assert_eq!(
            full("os-version < 12.4").3,
            "quote the value: `os-version < \"12.4\"` (or with single quotes)"
        );
        assert_eq!(
            full("os == debian").3,
            "quote the value: `os == \"debian\"` (or with single quotes)"
        );
        assert_eq!(
            full("docker == \"x\""),
            (
                "==".into(),
                "`docker` is a flag and takes no comparison: `==` in `when`".into(),
                "not a comparison".into(),
                "write `docker` or `!docker`".into()
            )
        );
        assert_eq!(
            parse_error("local ssh >= 'x'").1,
            "unexpected `ssh` in `when`"
        );
        assert_eq!(parse_error("(local) != 'x'").1, "unexpected `!=` in `when`");
        assert_eq!(
            full("os-version >= \"\""),
            (
                "\"\"".into(),
                "empty version in `when`".into(),
                "expected a version".into(),
                "write e.g. `os-version >= \"12\"`".into()
            )
        );
    }

    #[test]
    fn versions_compare_as_numbers() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        assert_eq!(version_order("12", "9"), Greater);
        assert_eq!(version_order("12.4", "12"), Equal);
        assert_eq!(version_order("12", "12.1"), Less);
        assert_eq!(version_order("3.19.1", "3.19"), Equal);
        assert_eq!(version_order("24.04", "24.4"), Equal);
        assert_eq!(version_order("12", "12.0"), Equal);
        assert_eq!(version_order("12", "12.0.0"), Equal);
        assert_eq!(version_order("12", "11.9"), Greater);
        assert!(holds(
            "os-version >= '12.0' && os-version == '12.0'",
            &DEBIAN
        ));
    }
}
