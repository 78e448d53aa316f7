//! The `http` request on a target other than this machine: `curl` run there as argv.
//!
//! `curl -i` writes the response head and then the body to standard output; with
//! `-L` it writes the head of every redirect before the final one, and a `100
//! Continue` head may come before the real one. [`parse_include`] keeps the last
//! head and the body after it.

use crate::cmd::{Cmd, Output};
use crate::host::{Host, ProbeError};

use super::{BODY_LIMIT, Http, MAX_REDIRECTS, Response};

/// Makes the request with `curl` on the target.
pub(super) fn fetch(http: &Http, host: &Host) -> Result<Response, ProbeError> {
    let out = host.run_memo(&request(http, host.timeout()))?;
    interpret(&out, http.follow_redirects).map_err(|e| match e {
        Failure::Timeout => ProbeError::Timeout(host.timeout()),
        Failure::Other(why) => ProbeError::Failed(why),
    })
}

/// The `curl` command for a request within `timeout`.
pub(super) fn request(http: &Http, timeout: std::time::Duration) -> Cmd {
    // Whole seconds, rounded up: a fraction would be read by the target's locale.
    let secs = (timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0)).max(1);
    command(http, secs)
}

/// The `curl` argv for a request; data (URL, headers, body) stays in argv words and
/// on standard input, never in a shell line.
fn command(http: &Http, max_secs: u64) -> Cmd {
    let mut cmd = Cmd::new("curl")
        .args(["--silent", "--show-error", "--include", "--globoff"])
        // The in-process client ignores proxy variables too; the target's own
        // environment is not ispec's business.
        .args(["--noproxy", "*", "--proto", "=http,https"])
        .arg("--max-time")
        .arg(max_secs.to_string())
        .arg("--max-filesize")
        .arg(BODY_LIMIT.to_string());
    if http.follow_redirects {
        cmd = cmd
            .arg("--location")
            .arg("--max-redirs")
            .arg(MAX_REDIRECTS.to_string());
    }
    if !http.tls_verify {
        cmd = cmd.arg("--insecure");
    }
    if let Some(ca) = &http.ca_file {
        cmd = cmd.arg("--cacert").arg(ca.clone());
    }
    // `-X HEAD` would wait for a body that never comes; `--head` knows better.
    cmd = if http.method == "HEAD" {
        cmd.arg("--head")
    } else {
        cmd.arg("--request").arg(http.method.clone())
    };
    for (name, value) in &http.headers {
        cmd = cmd.arg("--header").arg(format!("{name}: {value}"));
    }
    if let Some(body) = &http.body {
        cmd = cmd.arg("--data-binary").arg("@-").stdin(body.as_bytes());
    }
    cmd.arg("--url").arg(http.url.clone())
}

/// Why `curl` gave no response.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    Timeout,
    Other(String),
}

/// Reads `curl`'s exit status, output and error message.
fn interpret(out: &Output, follow_redirects: bool) -> Result<Response, Failure> {
    if out.success() {
        return parse_include(&out.stdout, follow_redirects).map_err(Failure::Other);
    }
    let message = out.stderr_text();
    let first = message
        .lines()
        .next()
        .unwrap_or("no message")
        .trim_start_matches("curl: ");
    // The exit codes are curl's documented ones (`man curl`, EXIT CODES).
    Err(match out.status {
        Some(28) => Failure::Timeout,
        Some(6) => Failure::Other(format!("cannot resolve the host: {first}")),
        Some(7) => Failure::Other(format!("cannot connect: {first}")),
        Some(35) => Failure::Other(format!("TLS handshake failed: {first}")),
        Some(60) => Failure::Other(format!("TLS certificate not trusted: {first}")),
        Some(47) => Failure::Other(format!("more than {MAX_REDIRECTS} redirects: {first}")),
        Some(63) => Failure::Other(format!(
            "the response body is larger than {} MiB",
            BODY_LIMIT / 1024 / 1024
        )),
        Some(code) => Failure::Other(format!("`curl` failed with status {code}: {first}")),
        None => Failure::Other("`curl` was killed by a signal".into()),
    })
}

/// Parses `curl --include` output: one or more response heads, then the body.
fn parse_include(output: &[u8], follow_redirects: bool) -> Result<Response, String> {
    let mut rest = output;
    loop {
        let (head, after) = split_head(rest)?;
        let text = String::from_utf8_lossy(head);
        let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
        let status_line = lines.next().unwrap_or_default();
        let status = parse_status_line(status_line)?;
        let more_heads = after.starts_with(b"HTTP/");
        let skip = (100..200).contains(&status)
            || (follow_redirects && (300..400).contains(&status) && more_heads);
        if skip && more_heads {
            rest = after;
            continue;
        }
        let headers = ispec_probe::http::header_lines(lines);
        return Ok(Response {
            status,
            headers,
            body: String::from_utf8_lossy(after).into_owned(),
        });
    }
}

/// Splits one head (up to its blank line) from what follows it.
fn split_head(bytes: &[u8]) -> Result<(&[u8], &[u8]), String> {
    if !bytes.starts_with(b"HTTP/") {
        return Err(format!(
            "unexpected `curl` output: {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
        ));
    }
    for (end, sep) in [(b"\r\n\r\n".as_slice(), 4), (b"\n\n".as_slice(), 2)] {
        if let Some(at) = bytes.windows(sep).position(|w| w == end) {
            return Ok((&bytes[..at], &bytes[at + sep..]));
        }
    }
    // A head with no body and no final blank line (e.g. `--head` cut short).
    Ok((bytes, &[]))
}

/// `HTTP/1.1 200 OK`, `HTTP/2 200 ` → 200.
fn parse_status_line(line: &str) -> Result<u16, String> {
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("unexpected `curl` status line: {line:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{OptValue, Options};

    fn fixture(os: &str, case: &str) -> Vec<u8> {
        crate::resource::fixture("http", os, case).into_bytes()
    }

    #[test]
    fn parses_a_plain_response() {
        let r = parse_include(&fixture("debian-12", "curl-ok"), false).unwrap();
        assert_eq!(r.status, 200);
        assert!(r.headers.contains(&"content-type: text/plain".to_string()));
        assert!(r.headers.iter().any(|h| h.starts_with("server: BaseHTTP")));
        assert_eq!(r.body, "hello from ispec\n");
        let r = parse_include(&fixture("debian-12", "curl-404"), false).unwrap();
        assert_eq!((r.status, r.body.as_str()), (404, "not here\n"));
    }

    #[test]
    fn keeps_the_last_head_of_a_followed_redirect() {
        let out = fixture("debian-12", "curl-redirect-followed");
        let r = parse_include(&out, true).unwrap();
        assert_eq!(r.status, 200);
        assert!(!r.headers.iter().any(|h| h.starts_with("location:")));
        assert_eq!(r.body, "hello from ispec\n");
        // Not following, the first head is the answer and the rest is its body.
        assert_eq!(parse_include(&out, false).unwrap().status, 301);
    }

    #[test]
    fn skips_continue_and_reads_http2() {
        let r = parse_include(&fixture("rocky-9", "curl-continue"), false).unwrap();
        assert_eq!(r.status, 201);
        assert!(r.headers.contains(&"location: /items/7".to_string()));
        assert_eq!(r.body, "{\"id\":7}");
        let r = parse_include(&fixture("alpine-3.19", "curl-http2"), false).unwrap();
        assert_eq!(r.status, 200);
        assert!(r.headers.contains(&"server: nginx/1.24.0".to_string()));
        assert!(r.body.starts_with("<!DOCTYPE html>"));
        let folded = parse_include(b"HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\n\r\nbody", false);
        assert_eq!(folded.unwrap().headers, ["x-a: one two"]);
        assert!(parse_include(b"garbage", false).is_err());
        assert!(parse_include(b"HTTP/1.1 abc\r\n\r\n", false).is_err());
    }

    #[test]
    fn exit_codes_become_reasons() {
        let failed = |status, stderr: &str| Output {
            status: Some(status),
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
        };
        assert_eq!(
            interpret(
                &failed(
                    60,
                    &String::from_utf8(fixture("debian-12", "curl-self-signed-stderr")).unwrap()
                ),
                false
            ),
            Err(Failure::Other(
                "TLS certificate not trusted: (60) SSL certificate problem: self-signed certificate"
                    .into()
            ))
        );
        assert_eq!(
            interpret(
                &failed(
                    7,
                    &String::from_utf8(fixture("debian-12", "curl-refused-stderr")).unwrap()
                ),
                false
            ),
            Err(Failure::Other(
                "cannot connect: (7) Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server".into()
            ))
        );
        assert_eq!(
            interpret(&failed(28, "curl: (28) Operation timed out"), false),
            Err(Failure::Timeout)
        );
    }

    #[test]
    fn data_stays_in_argv_words() {
        let mut options = Options::new();
        options.insert("method", OptValue::Str("POST".into()));
        options.insert(
            "request-headers",
            OptValue::StrMap(vec![("X-A".into(), "$(touch /tmp/pwned)".into())]),
        );
        options.insert("request-body", OptValue::Str("a'b".into()));
        options.insert("tls-verify", OptValue::Bool(false));
        options.insert("follow-redirects", OptValue::Bool(true));
        let http = Http {
            url: "https://[::1]:8443/a?b=[1]".into(),
            authority: "[::1]:8443".into(),
            method: "POST".into(),
            headers: vec![("X-A".into(), "$(touch /tmp/pwned)".into())],
            body: Some("a'b".into()),
            tls_verify: false,
            follow_redirects: true,
            ca_file: Some("/etc/ssl/ca.pem".into()),
        };
        assert!(super::super::new(&http.url, &options).is_ok());
        let cmd = command(&http, 7);
        let argv = cmd.argv();
        let after = |flag: &str| {
            let at = argv.iter().position(|a| a == flag).unwrap();
            argv[at + 1].as_str()
        };
        assert_eq!(argv[0], "curl");
        assert_eq!(after("--max-time"), "7");
        assert_eq!(after("--request"), "POST");
        assert_eq!(after("--header"), "X-A: $(touch /tmp/pwned)");
        assert_eq!(after("--cacert"), "/etc/ssl/ca.pem");
        assert_eq!(after("--url"), "https://[::1]:8443/a?b=[1]");
        assert!(argv.contains(&"--insecure".to_string()));
        assert!(argv.contains(&"--location".to_string()));
        assert_eq!(cmd.input(), Some(b"a'b".as_slice()));
    }
}
