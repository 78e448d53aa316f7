//! The target's operating system, read once from `/etc/os-release`.

use std::fmt;

/// Where the OS names itself.
pub const OS_RELEASE: &str = "/etc/os-release";
/// Where it does when `/etc/os-release` does not exist.
pub const OS_RELEASE_FALLBACK: &str = "/usr/lib/os-release";

/// The families whose tools ispec knows (package database, init system).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Family {
    /// Debian, Ubuntu and their derivatives (dpkg).
    Debian,
    /// RHEL, CentOS, Fedora, Rocky, Alma, Amazon Linux (rpm).
    Rhel,
    /// SUSE and openSUSE (rpm).
    Suse,
    /// Alpine Linux (apk).
    Alpine,
    /// Arch Linux (pacman).
    Arch,
    /// Anything else, or no `/etc/os-release` at all.
    Other,
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Debian => "debian",
            Self::Rhel => "rhel",
            Self::Suse => "suse",
            Self::Alpine => "alpine",
            Self::Arch => "arch",
            Self::Other => "unknown",
        })
    }
}

/// What ispec knows of the target's OS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsInfo {
    /// The family that decides which tools to ask.
    pub family: Family,
    /// `ID` from os-release, e.g. `ubuntu`.
    pub id: String,
    /// `VERSION_ID` from os-release, e.g. `12`.
    pub version: Option<String>,
    /// `ID_LIKE` from os-release, e.g. `["debian"]` on Ubuntu.
    pub like: Vec<String>,
}

impl OsInfo {
    /// An OS ispec could not identify (no os-release, e.g. a `FROM scratch` image).
    pub fn unknown() -> Self {
        Self {
            family: Family::Other,
            id: "unknown".into(),
            version: None,
            like: Vec::new(),
        }
    }
}

/// Parses the text of an os-release file.
pub fn parse_os_release(text: &str) -> OsInfo {
    let mut id = String::new();
    let mut like = String::new();
    let mut version = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value
            .trim()
            .trim_matches('"')
            .trim_matches('\'')
            .to_string();
        match key.trim() {
            "ID" => id = value.to_lowercase(),
            "ID_LIKE" => like = value.to_lowercase(),
            "VERSION_ID" => version = Some(value),
            _ => {}
        }
    }
    let family = std::iter::once(id.as_str())
        .chain(like.split_whitespace())
        .find_map(family_of)
        .unwrap_or(Family::Other);
    OsInfo {
        family,
        id: if id.is_empty() { "unknown".into() } else { id },
        version,
        like: like.split_whitespace().map(str::to_string).collect(),
    }
}

fn family_of(id: &str) -> Option<Family> {
    Some(match id {
        "debian" | "ubuntu" | "raspbian" | "linuxmint" | "devuan" | "kali" => Family::Debian,
        "rhel" | "centos" | "fedora" | "rocky" | "almalinux" | "amzn" | "ol" => Family::Rhel,
        "suse" | "opensuse" | "sles" | "opensuse-leap" | "opensuse-tumbleweed" => Family::Suse,
        "alpine" => Family::Alpine,
        "arch" | "manjaro" => Family::Arch,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/fixtures/os-release/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn known_distributions() {
        for (file, family, id, version) in [
            ("debian-12", Family::Debian, "debian", "12"),
            ("ubuntu-24.04", Family::Debian, "ubuntu", "24.04"),
            ("rocky-9", Family::Rhel, "rocky", "9.3"),
            ("alpine-3.19", Family::Alpine, "alpine", "3.19.1"),
        ] {
            let os = parse_os_release(&fixture(file));
            assert_eq!(os.family, family, "{file}");
            assert_eq!(os.id, id, "{file}");
            assert_eq!(os.version.as_deref(), Some(version), "{file}");
        }
    }

    #[test]
    fn id_like_decides_for_derivatives() {
        let os = parse_os_release("ID=pop\nID_LIKE=\"ubuntu debian\"\n");
        assert_eq!(os.family, Family::Debian);
        assert_eq!(parse_os_release("").family, Family::Other);
    }
}
