//! Is the host the one it claims to be: its key against the known hosts file
//! (plain and hashed entries, `@revoked` lines), recording a new host's key, and
//! asking the host first for the key types the file knows.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ssh2::{CheckResult, HashType, HostKeyType, KnownHostFileKind, MethodType, Session};

use super::SshOptions;
use super::connect::{Dest, home};

/// How known-hosts files name a host: its key name, or `[name]:port` off port 22.
pub(super) fn known_name(dest: &Dest) -> String {
    if dest.port == 22 {
        dest.key_name.clone()
    } else {
        format!("[{}]:{}", dest.key_name, dest.port)
    }
}

/// The known hosts file: `--known-hosts`, else `~/.ssh/known_hosts`.
pub(super) fn known_hosts_path(options: &SshOptions) -> Result<PathBuf, String> {
    match &options.known_hosts {
        Some(path) => Ok(path.clone()),
        None => home()
            .map(|h| h.join(".ssh/known_hosts"))
            .ok_or_else(|| "no known hosts file: HOME is not set; pass --known-hosts FILE".into()),
    }
}

/// Offers first the host key algorithms of the keys `path` records for `dest`, so
/// the host shows a key that can be checked, as OpenSSH does. Otherwise a host known
/// by its ECDSA or RSA key shows its Ed25519 key, and that reads as a mismatch.
pub(super) fn prefer_known_key_types(session: &Session, dest: &Dest, path: &Path) {
    let Ok(mut known) = session.known_hosts() else {
        return;
    };
    if !path.exists() || known.read_file(path, KnownHostFileKind::OpenSSH).is_err() {
        return;
    }
    let Ok(entries) = known.iter() else {
        return;
    };
    let mut preferred: Vec<&str> = Vec::new();
    for entry in &entries {
        let Ok(blob) = base64::engine::general_purpose::STANDARD.decode(entry.key()) else {
            continue;
        };
        // Hashed names are matched by libssh2: an entry is this host's if checking
        // the host against the entry's own key matches.
        if !matches!(
            known.check_port(&dest.key_name, dest.port, &blob),
            CheckResult::Match
        ) {
            continue;
        }
        for algorithm in key_algorithms(&blob) {
            if !preferred.contains(&algorithm) {
                preferred.push(algorithm);
            }
        }
    }
    let Ok(supported) = session.supported_algs(MethodType::HostKey) else {
        return;
    };
    preferred.retain(|a| supported.contains(a));
    if preferred.is_empty() {
        return;
    }
    let rest = supported.iter().filter(|a| !preferred.contains(a));
    let list: Vec<&str> = preferred.iter().copied().chain(rest.copied()).collect();
    let _ = session.method_pref(MethodType::HostKey, &list.join(","));
}

/// The host key algorithms that show a key of the type that starts `blob` (its
/// wire form: the type's name as a length-prefixed string).
fn key_algorithms(blob: &[u8]) -> Vec<&'static str> {
    let name = blob.split_first_chunk::<4>().and_then(|(len, rest)| {
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        rest.get(..len)
    });
    match name {
        Some(b"ssh-rsa") => vec!["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
        Some(b"ssh-ed25519") => vec!["ssh-ed25519"],
        Some(b"ecdsa-sha2-nistp256") => vec!["ecdsa-sha2-nistp256"],
        Some(b"ecdsa-sha2-nistp384") => vec!["ecdsa-sha2-nistp384"],
        Some(b"ecdsa-sha2-nistp521") => vec!["ecdsa-sha2-nistp521"],
        Some(b"ssh-dss") => vec!["ssh-dss"],
        _ => Vec::new(),
    }
}

pub(super) fn check_host_key(
    session: &Session,
    dest: &Dest,
    path: &Path,
    options: &SshOptions,
) -> Result<(), String> {
    let (key, kind) = session
        .host_key()
        .ok_or_else(|| "the host sent no host key".to_string())?;
    let fingerprint = session.host_key_hash(HashType::Sha256).map_or_else(
        || "unknown".to_string(),
        |h| {
            format!(
                "SHA256:{}",
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(h)
            )
        },
    );
    let mut known = session.known_hosts().map_err(|e| e.to_string())?;
    if path.exists() {
        known
            .read_file(path, KnownHostFileKind::OpenSSH)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        // libssh2 skips `@revoked` lines: a revoked key listed elsewhere too would
        // pass, and --accept-new-host-key would record it.
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        if is_revoked(&text, key) {
            return Err(format!(
                "its host key ({fingerprint}) is marked @revoked in `{}`: it must not be used",
                path.display()
            ));
        }
    }
    match known.check_port(&dest.key_name, dest.port, key) {
        CheckResult::Match => Ok(()),
        CheckResult::Mismatch => Err(format!(
            "HOST KEY MISMATCH: the host's key ({fingerprint}) is not the one `{}` records for `{}`; \
             someone may be intercepting the connection. If the host was rebuilt, remove the old key \
             with `ssh-keygen -f {} -R '{}'`",
            path.display(),
            known_name(dest),
            path.display(),
            known_name(dest)
        )),
        CheckResult::NotFound | CheckResult::Failure if options.accept_new_host_keys => {
            record(path, &known_name(dest), key, kind)
                .map_err(|e| format!("cannot record its host key in `{}`: {e}", path.display()))
        }
        CheckResult::NotFound | CheckResult::Failure => Err(format!(
            "its host key ({fingerprint}) is not in `{}`; check the fingerprint and add it \
             (`ssh-keyscan -p {} {} >> {}`), or pass --accept-new-host-key to record it",
            path.display(),
            dest.port,
            dest.address,
            path.display()
        )),
    }
}

/// Returns true if and only if a `@revoked` line of the known hosts text `text`
/// lists `key` (the key's wire form), whatever its host patterns.
fn is_revoked(text: &str, key: &[u8]) -> bool {
    text.lines().any(|line| {
        let mut words = line.split_whitespace();
        words.next() == Some("@revoked")
            && words.nth(2).is_some_and(|b64| {
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .is_ok_and(|k| k == key)
            })
    })
}

/// Appends a host key to a known-hosts file in OpenSSH's format.
fn record(path: &Path, name: &str, key: &[u8], kind: HostKeyType) -> std::io::Result<()> {
    let kind = match kind {
        HostKeyType::Rsa => "ssh-rsa",
        HostKeyType::Dss => "ssh-dss",
        HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        HostKeyType::Ed25519 => "ssh-ed25519",
        HostKeyType::Unknown => {
            return Err(std::io::Error::other("the host key's type is unknown"));
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let line = format!(
        "{name} {kind} {}\n",
        base64::engine::general_purpose::STANDARD.encode(key)
    );
    file.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_types_give_the_algorithms_that_show_them() {
        let blob = |name: &str| {
            let mut b = u32::try_from(name.len()).unwrap().to_be_bytes().to_vec();
            b.extend_from_slice(name.as_bytes());
            b.extend_from_slice(&[0, 0, 0, 1, 7]);
            b
        };
        assert_eq!(
            key_algorithms(&blob("ssh-rsa")),
            ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
        );
        assert_eq!(
            key_algorithms(&blob("ecdsa-sha2-nistp256")),
            ["ecdsa-sha2-nistp256"]
        );
        assert!(key_algorithms(&blob("ssh-ed25519-cert-v01@openssh.com")).is_empty());
        assert!(key_algorithms(&[0, 0, 0, 200, b's']).is_empty());
    }

    #[test]
    fn revoked_keys_are_found_whatever_their_hosts() {
        let key = b"\0\0\0\x0bssh-ed25519key";
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        assert!(is_revoked(
            &format!("# x\n@revoked * ssh-ed25519 {b64}\n"),
            key
        ));
        assert!(is_revoked(
            &format!("@revoked web,10.0.0.1 ssh-ed25519 {b64} c\n"),
            key
        ));
        assert!(!is_revoked(&format!("[web]:22 ssh-ed25519 {b64}\n"), key));
        assert!(!is_revoked(
            &format!("@cert-authority * ssh-ed25519 {b64}\n"),
            key
        ));
        assert!(!is_revoked("@revoked * ssh-ed25519 AAAA\n@revoked\n", key));
    }
}
