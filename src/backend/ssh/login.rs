//! Logging in: the agent's keys, then key files (encrypted ones with
//! `ISPEC_SSH_PASSPHRASE`), then a password from `ISPEC_SSH_PASSWORD`; and, when
//! nothing works, a message that says what was refused and what was missing.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use ssh2::{ErrorCode, Session};

use super::connect::{Dest, home};
use super::{PASSPHRASE_ENV, PASSWORD_ENV, SshOptions};

/// libssh2's error for a key file it cannot read or decrypt.
const LIBSSH2_ERROR_FILE: i32 = -16;

/// Returns true if and only if the private key file at `path` is encrypted: an
/// OpenSSH key whose cipher is not `none`, or a PEM key with an `ENCRYPTED` header.
fn is_encrypted(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| key_is_encrypted(&text))
}

/// [`is_encrypted`] on the text of a key file.
fn key_is_encrypted(text: &str) -> bool {
    const OPENSSH: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
    if let Some(rest) = text.trim_start().strip_prefix(OPENSSH) {
        let body: String = rest
            .lines()
            .take_while(|l| !l.starts_with("-----END"))
            .flat_map(|l| l.trim().chars())
            .collect();
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(body) else {
            return false;
        };
        // "openssh-key-v1\0", then the cipher's name as a length-prefixed string.
        let Some(rest) = bytes.strip_prefix(b"openssh-key-v1\0") else {
            return false;
        };
        let Some((len, rest)) = rest.split_first_chunk::<4>() else {
            return false;
        };
        let len = usize::try_from(u32::from_be_bytes(*len)).unwrap_or(usize::MAX);
        return rest.get(..len).is_some_and(|cipher| cipher != b"none");
    }
    // PEM: `-----BEGIN ENCRYPTED PRIVATE KEY-----` (PKCS #8) or a `Proc-Type:
    // 4,ENCRYPTED` header (the traditional format).
    text.lines().any(|l| {
        (l.starts_with("-----BEGIN") || l.starts_with("Proc-Type:")) && l.contains("ENCRYPTED")
    })
}

/// Logs in: the agent's keys, then identity files, then a password from the
/// environment. Says what was tried when nothing worked.
pub(super) fn login(session: &Session, dest: &Dest, options: &SshOptions) -> Result<(), String> {
    let user = dest.user.as_str();
    // What was offered to the host, and what could not be.
    let (mut tried, mut missing) = (Vec::new(), Vec::new());
    if std::env::var_os("SSH_AUTH_SOCK").is_some() {
        let mut agent = session.agent().ok();
        let ready = agent
            .as_mut()
            .is_some_and(|a| a.connect().is_ok() && a.list_identities().is_ok());
        match agent {
            Some(agent) if ready => {
                let keys = agent.identities().unwrap_or_default();
                for key in &keys {
                    if agent.userauth(user, key).is_ok() && session.authenticated() {
                        return Ok(());
                    }
                }
                match keys.len() {
                    0 => missing.push("no key in the agent".to_string()),
                    1 => tried.push("the agent's key".to_string()),
                    n => tried.push(format!("the agent's {n} keys")),
                }
            }
            _ => missing.push("no agent (cannot reach SSH_AUTH_SOCK)".to_string()),
        }
    } else {
        missing.push("no agent (SSH_AUTH_SOCK is not set)".to_string());
    }
    let passphrase = std::env::var(PASSPHRASE_ENV).ok();
    let mut files: Vec<PathBuf> = options.identities.clone();
    files.extend(dest.identities.iter().cloned());
    if files.is_empty() {
        if let Some(home) = home() {
            files.extend(
                ["id_ed25519", "id_ecdsa", "id_rsa"]
                    .iter()
                    .map(|n| home.join(".ssh").join(n))
                    .filter(|p| p.exists()),
            );
        }
        if files.is_empty() {
            missing.push(
                "no identity file (no -i, no IdentityFile, no ~/.ssh/id_ed25519, id_ecdsa or id_rsa)"
                    .to_string(),
            );
        }
    }
    for file in &files {
        if !file.exists() {
            missing.push(format!("`{}` does not exist", file.display()));
            continue;
        }
        // libssh2 says "Unsupported private key format" for a key it cannot decrypt,
        // so whether the file is encrypted is read from the file itself.
        let encrypted = is_encrypted(file);
        if encrypted && passphrase.is_none() {
            missing.push(format!(
                "`{}` is encrypted (set {PASSPHRASE_ENV})",
                file.display()
            ));
            continue;
        }
        match session.userauth_pubkey_file(user, None, file, passphrase.as_deref()) {
            Ok(()) if session.authenticated() => return Ok(()),
            Err(e) if encrypted && e.code() == ErrorCode::Session(LIBSSH2_ERROR_FILE) => {
                missing.push(format!(
                    "`{}` does not decrypt with the passphrase in {PASSPHRASE_ENV}",
                    file.display()
                ));
            }
            _ => tried.push(format!("`{}`", file.display())),
        }
    }
    match std::env::var(PASSWORD_ENV) {
        Ok(password) => {
            if session.userauth_password(user, &password).is_ok() && session.authenticated() {
                return Ok(());
            }
            tried.push(format!("the password in {PASSWORD_ENV}"));
        }
        Err(_) => missing.push(format!("no password ({PASSWORD_ENV} is not set)")),
    }
    Err(login_failure(user, &tried, &missing))
}

/// "authentication failed for `USER`: tried A, B; C; D": what the host refused, then
/// what ispec could not offer.
fn login_failure(user: &str, tried: &[String], missing: &[String]) -> String {
    let mut text = format!("authentication failed for `{user}`: ");
    if tried.is_empty() {
        text.push_str("nothing to try: ");
    } else {
        text.push_str("tried ");
        text.push_str(&tried.join(", "));
        if !missing.is_empty() {
            text.push_str("; ");
        }
    }
    text.push_str(&missing.join("; "));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An OpenSSH key file whose body starts with the cipher `cipher`.
    fn openssh_key(cipher: &str) -> String {
        let mut blob = b"openssh-key-v1\0".to_vec();
        blob.extend_from_slice(&u32::try_from(cipher.len()).unwrap().to_be_bytes());
        blob.extend_from_slice(cipher.as_bytes());
        blob.extend_from_slice(&[0, 0, 0, 4]);
        blob.extend_from_slice(b"none");
        let body = base64::engine::general_purpose::STANDARD.encode(blob);
        let (a, b) = body.split_at(20);
        format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{a}\n{b}\n-----END OPENSSH PRIVATE KEY-----\n"
        )
    }

    #[test]
    fn encrypted_keys_are_told_from_the_file() {
        assert!(key_is_encrypted(&openssh_key("aes256-ctr")));
        assert!(!key_is_encrypted(&openssh_key("none")));
        assert!(key_is_encrypted(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n"
        ));
        assert!(key_is_encrypted(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
        ));
        assert!(!key_is_encrypted(
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"
        ));
        assert!(!key_is_encrypted("ssh-ed25519 AAAA user@host\n"));
    }

    #[test]
    fn login_failures_say_what_was_refused_and_what_was_missing() {
        let s = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            login_failure("app", &s(&["`id`"]), &s(&["no password (X is not set)"])),
            "authentication failed for `app`: tried `id`; no password (X is not set)"
        );
        assert_eq!(
            login_failure("app", &s(&["`id`", "the password in X"]), &[]),
            "authentication failed for `app`: tried `id`, the password in X"
        );
        assert_eq!(
            login_failure("app", &[], &s(&["no agent", "no password"])),
            "authentication failed for `app`: nothing to try: no agent; no password"
        );
    }
}
