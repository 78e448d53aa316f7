//! Making an SSH connection: where to (URI + OpenSSH config), through which jump host,
//! whether the host key is known, and how to log in.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use ssh2::{CheckResult, ErrorCode, HashType, HostKeyType, KnownHostFileKind, MethodType, Session};
use ssh2_config::{ParseRule, SshConfig};

use super::{PASSPHRASE_ENV, PASSWORD_ENV, SshOptions};
use crate::backend::BackendError;

/// Where to connect, with what the SSH config added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dest {
    /// The host as written (what messages use).
    pub host: String,
    /// The name or address to connect to (`HostName`, else `host`).
    pub address: String,
    /// The name known hosts files record the host's key under: `HostKeyAlias`, else
    /// `address`, as OpenSSH does (so `ssh web` and `ispec -t ssh://web` share entries).
    pub key_name: String,
    /// The port.
    pub port: u16,
    /// The login user.
    pub user: String,
    /// Identity files named by the config for this host.
    pub identities: Vec<PathBuf>,
    /// The jump host (`ProxyJump`), if any.
    pub jump: Option<Box<Dest>>,
}

impl Dest {
    /// `user@host:port`, for messages.
    fn display(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

/// Parses `ssh://[USER@]HOST[:PORT]` (or `[USER@]HOST[:PORT]`) and completes it from
/// the SSH config; values in the URI win over the config's.
pub fn parse_target(target: &str, options: &SshOptions) -> Result<Dest, BackendError> {
    let config = load_config(options)?;
    resolve(target, config.as_ref(), 0).map_err(|cause| BackendError::Unreachable {
        target: target.to_string(),
        cause,
    })
}

/// Checks the form of `ssh://[USER@]HOST[:PORT]` without reading any file: a
/// malformed target is a command-line mistake, told before anything is reached.
pub fn check_target(target: &str) -> Result<(), String> {
    split(target.strip_prefix("ssh://").unwrap_or(target)).map(|_| ())
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

fn load_config(options: &SshOptions) -> Result<Option<SshConfig>, BackendError> {
    let path = match &options.config {
        Some(path) => path.clone(),
        None => match home().map(|h| h.join(".ssh/config")) {
            Some(path) if path.exists() => path,
            _ => return Ok(None),
        },
    };
    let bad = |cause: String| {
        BackendError::Failed(format!(
            "cannot read the SSH config `{}`: {cause}",
            path.display()
        ))
    };
    let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
    SshConfig::default()
        .parse(
            &mut without_match_blocks(&text).as_bytes(),
            ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS,
        )
        .map(Some)
        .map_err(|e| bad(e.to_string()))
}

/// The config without its `Match` blocks, which ispec does not evaluate. `ssh2_config`
/// does not know `Match` and would take the block's settings as those of the `Host`
/// block above it (`Match all` / `User admin` would change that host's user).
fn without_match_blocks(text: &str) -> String {
    let keyword = |line: &str| {
        line.trim_start()
            .split(|c: char| c.is_whitespace() || c == '=')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let mut in_match = false;
    let mut kept = String::with_capacity(text.len());
    for line in text.lines() {
        match keyword(line).as_str() {
            "match" => in_match = true,
            "host" => in_match = false,
            _ => {}
        }
        if !in_match {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// Splits `[USER@]HOST[:PORT]` (IPv6 as `[::1]:22`).
fn split(text: &str) -> Result<(Option<String>, String, Option<u16>), String> {
    let fix = "write `ssh://[USER@]HOST[:PORT]`, e.g. `ssh://deploy@web-1:2222`";
    let (user, rest) = match text.rsplit_once('@') {
        Some((user, rest)) if !user.is_empty() => (Some(user.to_string()), rest),
        Some(_) => return Err(format!("`{text}` has an empty user; {fix}")),
        None => (None, text),
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("`{text}` has no closing `]`; {fix}"))?;
        (host, after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, Some(port)),
            _ => (rest, None),
        }
    };
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("`{p}` is not a port from 1 to 65535; {fix}"))
        })
        .transpose()?;
    let bad_char = |c: char| c.is_whitespace() || c.is_control() || "/?#@".contains(c);
    if host.is_empty() || host.contains(bad_char) {
        return Err(format!("`{text}` names no valid host; {fix}"));
    }
    Ok((user, host.to_string(), port))
}

fn resolve(target: &str, config: Option<&SshConfig>, depth: usize) -> Result<Dest, String> {
    if depth > 4 {
        return Err("more than 4 jump hosts (`ProxyJump` loops?)".into());
    }
    let text = target.strip_prefix("ssh://").unwrap_or(target);
    let (user, host, port) = split(text)?;
    let params = config.map(|c| c.query(&host));
    let from_config =
        |f: fn(&ssh2_config::HostParams) -> Option<String>| params.as_ref().and_then(f);
    let user = user
        .or_else(|| from_config(|p| p.user.clone()))
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "root".to_string());
    let port = port
        .or_else(|| params.as_ref().and_then(|p| p.port))
        .unwrap_or(22);
    let address = from_config(|p| p.host_name.clone()).unwrap_or_else(|| host.clone());
    let identities = params
        .as_ref()
        .and_then(|p| p.identity_file.clone())
        .unwrap_or_default();
    // `ssh2_config` keeps the fields it does not model as text.
    let field = |name: &str| {
        params.as_ref().and_then(|p| {
            p.unsupported_fields
                .iter()
                .chain(&p.ignored_fields)
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.first().cloned())
        })
    };
    let key_name = field("hostkeyalias").unwrap_or_else(|| address.clone());
    let jump = field("proxyjump").filter(|j| !j.eq_ignore_ascii_case("none"));
    // A chain `a,b` reaches `a` first, then `b` through `a`, then the target through
    // `b`: the hop next to the target is the last one written.
    let mut hop_before: Option<Box<Dest>> = None;
    for (i, hop) in jump
        .iter()
        .flat_map(|j| j.split(','))
        .map(str::trim)
        .enumerate()
    {
        let mut dest = resolve(hop, config, depth + 1)?;
        if i > 0 {
            dest.jump = hop_before;
        }
        hop_before = Some(Box::new(dest));
    }
    let jump = hop_before;
    Ok(Dest {
        host,
        address,
        key_name,
        port,
        user,
        identities,
        jump,
    })
}

/// Connects, checks the host key and logs in.
pub(super) fn open(dest: &Dest, options: &SshOptions) -> Result<Session, BackendError> {
    let unreachable = |cause: String| BackendError::Unreachable {
        target: dest.display(),
        cause,
    };
    let mut session = Session::new().map_err(|e| unreachable(e.to_string()))?;
    let timeout_ms = u32::try_from(options.connect_timeout.as_millis()).unwrap_or(u32::MAX);
    session.set_timeout(timeout_ms);
    if let Some(jump) = &dest.jump {
        let via = open(jump, options)?;
        let stream = tunnel(via, dest).map_err(|e| {
            unreachable(format!("cannot reach it through `{}`: {e}", jump.display()))
        })?;
        session.set_tcp_stream(stream);
    } else {
        session.set_tcp_stream(dial(dest, options.connect_timeout).map_err(&unreachable)?);
    }
    let known_hosts = known_hosts_path(options).map_err(&unreachable)?;
    prefer_known_key_types(&session, dest, &known_hosts);
    session.handshake().map_err(|e| {
        let limit = humantime::format_duration(options.connect_timeout);
        unreachable(match e.code() {
            ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT) => {
                format!("no SSH server answered within {limit} (--connect-timeout): {e}")
            }
            _ => format!("SSH handshake failed: {e}"),
        })
    })?;
    check_host_key(&session, dest, &known_hosts, options).map_err(&unreachable)?;
    login(&session, dest, options).map_err(&unreachable)?;
    session.set_timeout(0);
    session.set_blocking(false);
    Ok(session)
}

/// A TCP connection to the first address of `dest` that answers, without Nagle's
/// algorithm (with it, delayed ACKs add ~40 ms per command).
fn dial(dest: &Dest, timeout: Duration) -> Result<TcpStream, String> {
    let addrs = (dest.address.as_str(), dest.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{}`: {e}", dest.address))?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(
        || "no address to connect to".to_string(),
        |e| format!("cannot connect: {e}"),
    ))
}

/// A local stream that carries a `direct-tcpip` channel of `via` to `dest`: what
/// `ProxyJump` does. A thread moves the bytes until either side closes.
fn tunnel(via: Session, dest: &Dest) -> Result<UnixStream, String> {
    via.set_blocking(true);
    let mut channel = via
        .channel_direct_tcpip(&dest.address, dest.port, None)
        .map_err(|e| e.to_string())?;
    let (ours, theirs) = UnixStream::pair().map_err(|e| e.to_string())?;
    via.set_blocking(false);
    ours.set_nonblocking(true).map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        // `via` lives as long as the tunnel.
        let _via = via;
        let mut ours = ours;
        let mut buf = [0u8; 16 * 1024];
        loop {
            let mut moved = false;
            match channel.read(&mut buf) {
                Ok(0) if channel.eof() => return,
                Ok(0) => {}
                Ok(n) => {
                    if write_all_blocking(&mut ours, &buf[..n]).is_err() {
                        return;
                    }
                    moved = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
            match ours.read(&mut buf) {
                Ok(0) => {
                    let _ = channel.send_eof();
                    return;
                }
                Ok(n) => {
                    let mut sent = 0;
                    while sent < n {
                        match channel.write(&buf[sent..n]) {
                            Ok(k) => sent += k,
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                std::thread::sleep(Duration::from_micros(200));
                            }
                            Err(_) => return,
                        }
                    }
                    moved = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
            if !moved {
                std::thread::sleep(Duration::from_micros(300));
            }
        }
    });
    Ok(theirs)
}

fn write_all_blocking(stream: &mut UnixStream, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        match stream.write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// How known-hosts files name a host: its key name, or `[name]:port` off port 22.
fn known_name(dest: &Dest) -> String {
    if dest.port == 22 {
        dest.key_name.clone()
    } else {
        format!("[{}]:{}", dest.key_name, dest.port)
    }
}

/// The known hosts file: `--known-hosts`, else `~/.ssh/known_hosts`.
fn known_hosts_path(options: &SshOptions) -> Result<PathBuf, String> {
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
fn prefer_known_key_types(session: &Session, dest: &Dest, path: &Path) {
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

fn check_host_key(
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

/// libssh2's error when a blocking call took longer than the session's timeout.
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;

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
fn login(session: &Session, dest: &Dest, options: &SshOptions) -> Result<(), String> {
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

    fn config(text: &str) -> SshConfig {
        SshConfig::default()
            .parse(
                &mut text.as_bytes(),
                ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS,
            )
            .unwrap()
    }

    #[test]
    fn targets_parse() {
        assert_eq!(
            split("deploy@web-1:2222").unwrap(),
            (Some("deploy".into()), "web-1".into(), Some(2222))
        );
        assert_eq!(split("web-1").unwrap(), (None, "web-1".into(), None));
        assert_eq!(
            split("root@[::1]:22").unwrap(),
            (Some("root".into()), "::1".into(), Some(22))
        );
        for bad in ["@web", "web:0", "web:x", "", "a b"] {
            assert!(split(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_fills_what_the_uri_leaves_out() {
        let c = config(
            "Host web\n  HostName 127.0.0.1\n  User app\n  Port 2222\n  IdentityFile /keys/web\n  ProxyJump jump@bastion:2200\n\nHost bastion\n  HostName 127.0.0.2\n",
        );
        let d = resolve("ssh://web", Some(&c), 0).unwrap();
        assert_eq!(
            (d.address.as_str(), d.port, d.user.as_str()),
            ("127.0.0.1", 2222, "app")
        );
        assert_eq!(d.identities, vec![PathBuf::from("/keys/web")]);
        assert_eq!(
            known_name(&d),
            "[127.0.0.1]:2222",
            "keys are known by HostName"
        );
        let jump = d.jump.unwrap();
        assert_eq!(
            (jump.address.as_str(), jump.port, jump.user.as_str()),
            ("127.0.0.2", 2200, "jump")
        );
        let d = resolve("ssh://root@web:22", Some(&c), 0).unwrap();
        assert_eq!((d.user.as_str(), d.port), ("root", 22));
    }

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

    #[test]
    fn match_blocks_are_left_out() {
        let text = "Host web\n  User app\n\nMatch host *.prod\n  User admin\nmatch=all\n  Port 2\nHost=db\n  Port 3\n";
        assert_eq!(
            without_match_blocks(text),
            "Host web\n  User app\n\nHost=db\n  Port 3\n"
        );
        let c = config(&without_match_blocks(text));
        let d = resolve("ssh://web", Some(&c), 0).unwrap();
        assert_eq!((d.user.as_str(), d.port), ("app", 22));
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

    #[test]
    fn host_key_alias_names_the_key() {
        let c = config("Host web\n  HostName 10.0.0.1\n  HostKeyAlias web-prod\n");
        let d = resolve("web", Some(&c), 0).unwrap();
        assert_eq!(
            (d.address.as_str(), known_name(&d).as_str()),
            ("10.0.0.1", "web-prod")
        );
        let d = resolve("other:2200", Some(&c), 0).unwrap();
        assert_eq!(known_name(&d), "[other]:2200");
    }

    #[test]
    fn jump_chains_reach_the_first_hop_first() {
        let c = config("Host web\n  ProxyJump a,b\n");
        let d = resolve("web", Some(&c), 0).unwrap();
        let near = d.jump.unwrap();
        assert_eq!(near.host, "b");
        assert_eq!(near.jump.as_ref().unwrap().host, "a");
        assert!(near.jump.unwrap().jump.is_none());
    }
}
