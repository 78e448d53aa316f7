//! Making an SSH connection: where to (URI + OpenSSH config), through which jump
//! host; then the host key ([`super::host_key`]) and the login ([`super::login`]).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use ssh2::{ErrorCode, Session};
use ssh2_config::{ParseRule, SshConfig};

use super::{SshOptions, host_key, login};
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

/// This user's home folder, where `~/.ssh` is.
pub(super) fn home() -> Option<PathBuf> {
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
    let known_hosts = host_key::known_hosts_path(options).map_err(&unreachable)?;
    host_key::prefer_known_key_types(&session, dest, &known_hosts);
    session.handshake().map_err(|e| {
        let limit = humantime::format_duration(options.connect_timeout);
        unreachable(match e.code() {
            ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT) => {
                format!("no SSH server answered within {limit} (--connect-timeout): {e}")
            }
            _ => format!("SSH handshake failed: {e}"),
        })
    })?;
    host_key::check_host_key(&session, dest, &known_hosts, options).map_err(&unreachable)?;
    login::login(&session, dest, options).map_err(&unreachable)?;
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

/// libssh2's error when a blocking call took longer than the session's timeout.
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;

#[cfg(test)]
mod tests {
    use super::super::host_key::known_name;
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
