//! A small HTTP/1.1 client for `http://` URLs, run from the target: one request per
//! connection (`Connection: close`), bodies by `Content-Length`, `chunked` or to the
//! connection's end. `https://` is not spoken here (TLS needs crates the probe does
//! not carry); ispec sends those to the target's `curl`. Following redirects, a
//! redirect to `https://` is answered as it came, and ispec makes the request
//! again with `curl`.

use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use crate::net::{Refusal, tcp};

mod redirect;

use crate::wire::{Http, Reply};
use redirect::{is_for_origin_only, join, redirect, same_origin, switches_to_get};

/// How many redirects a request follows before it gives up.
pub const MAX_REDIRECTS: u32 = 10;
/// The most body read: a bigger one is an error, not a silent cut.
pub const BODY_LIMIT: usize = 10 * 1024 * 1024;

/// A response as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The head's `name: value` lines, names in lowercase, values trimmed.
    pub headers: Vec<String>,
    /// The body, its transfer coding undone.
    pub body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|h| {
            let (n, v) = h.split_once(": ").unwrap_or((h, ""));
            (n == name).then_some(v)
        })
    }
}

/// A URL split for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// The host, without brackets for IPv6.
    pub host: String,
    /// The port (80 when the URL has none).
    pub port: u16,
    /// What the `Host` header says.
    pub authority: String,
    /// The path and query, `/` at least.
    pub target: String,
}

/// Splits an `http://` URL; anything else is an error in words.
pub fn parse_url(url: &str) -> Result<Url, String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(match url.split_once("://") {
            Some(("https", _)) => "https:// from inside a target needs `curl` there".to_string(),
            _ => format!("`{url}` is not an http:// URL"),
        });
    };
    let rest = rest.split('#').next().unwrap_or("");
    let (authority, target) = match rest.find(['/', '?']) {
        Some(at) if rest[at..].starts_with('?') => (&rest[..at], format!("/{}", &rest[at..])),
        Some(at) => (&rest[..at], rest[at..].to_string()),
        None => (rest, "/".to_string()),
    };
    let bad = || format!("`{url}` has no valid host");
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None | Some("") => 80,
        Some(p) => p
            .parse()
            .map_err(|_| format!("`{url}` has no valid port"))?,
    };
    if host.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    Ok(Url {
        host: host.to_string(),
        port,
        authority: authority.to_string(),
        target,
    })
}

/// The `Http` query's reply.
pub fn request(query: &Http) -> Reply {
    let deadline = Instant::now() + Duration::from_millis(query.timeout_ms);
    let mut method = query.method.clone();
    let mut body = query.body.clone();
    let mut url = query.url.clone();
    let mut headers = query.headers.clone();
    for _ in 0..=MAX_REDIRECTS {
        let response = match once(&method, &url, &headers, body.as_deref(), deadline) {
            Ok(response) => response,
            Err(reply) => return reply,
        };
        let Some(to) = query.follow.then(|| redirect(&response)).flatten() else {
            return answer(response);
        };
        let next = join(&url, to);
        if !next.starts_with("http://") {
            // No TLS here: the redirect to `https://` is the answer, and ispec
            // finishes the request with the target's `curl`.
            return answer(response);
        }
        if switches_to_get(response.status, &method) {
            method = "GET".into();
            body = None;
        }
        if !same_origin(&url, &next) {
            headers.retain(|(name, _)| !is_for_origin_only(name));
        }
        url = next;
    }
    Reply::Failed(format!(
        "more than {MAX_REDIRECTS} redirects from {}",
        query.url
    ))
}

/// `response` as the reply: the status, the head's lines, the body.
fn answer(response: Response) -> Reply {
    let head = response
        .headers
        .iter()
        .fold(String::new(), |h, l| h + l + "\n");
    Reply::Ok(vec![
        response.status.to_string().into_bytes(),
        head.into_bytes(),
        response.body,
    ])
}

/// One request and its response; an error is the reply to send.
fn once(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    deadline: Instant,
) -> Result<Response, Reply> {
    let parts = parse_url(url).map_err(Reply::Failed)?;
    let mut stream = tcp(&parts.host, parts.port, deadline).map_err(|e| match e {
        Refusal::NoName(why) => Reply::Failed(format!("cannot resolve the host: {why}")),
        Refusal::Said("timeout", _) => Reply::Timeout,
        Refusal::Said(_, why) => Reply::Failed(format!("cannot connect: {why}")),
        Refusal::Failed(why) => Reply::Failed(why),
    })?;
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut head = format!("{method} {} HTTP/1.1\r\n", parts.target);
    if !has("host") {
        let _ = write!(head, "Host: {}\r\n", parts.authority);
    }
    if !has("accept") {
        head += "Accept: */*\r\n";
    }
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if let Some(body) = body {
        let _ = write!(head, "Content-Length: {}\r\n", body.len());
    }
    head += "Connection: close\r\n\r\n";
    let mut out = head.into_bytes();
    out.extend_from_slice(body.unwrap_or_default());
    let io = |e: std::io::Error| match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => Reply::Timeout,
        _ => Reply::Failed(format!("connection to {} failed: {e}", parts.authority)),
    };
    stream
        .set_write_timeout(Some(left(deadline)?))
        .map_err(io)?;
    stream.write_all(&out).map_err(io)?;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let eof = loop {
            stream.set_read_timeout(Some(left(deadline)?)).map_err(io)?;
            match stream.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    break false;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        };
        if let Some(response) =
            parse_response(&got, eof, method == "HEAD").map_err(Reply::Failed)?
        {
            return Ok(response);
        }
    }
}

fn left(deadline: Instant) -> Result<Duration, Reply> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(Reply::Timeout)
    } else {
        Ok(left)
    }
}

/// Reads a response from the bytes received so far: `None` while more must come.
/// Interim (`1xx`) heads are skipped. `eof` says the connection has ended.
pub fn parse_response(
    bytes: &[u8],
    eof: bool,
    head_request: bool,
) -> Result<Option<Response>, String> {
    let mut rest = bytes;
    loop {
        let Some((end, body_at)) = head_end(rest) else {
            if rest.len() > 64 * 1024 {
                return Err("the response head is too long".into());
            }
            return if eof { Err(cut()) } else { Ok(None) };
        };
        let text = String::from_utf8_lossy(&rest[..end]).into_owned();
        let body = &rest[body_at..];
        // Lines end in CRLF, or in a bare LF, which RFC 9112 section 2.2 lets a
        // recipient accept.
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .strip_prefix("HTTP/")
            .and_then(|s| s.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("unexpected status line: {status_line:?}"))?;
        if (100..200).contains(&status) && status != 101 {
            rest = body;
            continue;
        }
        let headers = header_lines(lines);
        let response = |body: Vec<u8>| Response {
            status,
            headers: headers.clone(),
            body,
        };
        let value = |name: &str| response(Vec::new()).header(name).map(str::to_string);
        if head_request || status == 204 || status == 304 {
            return Ok(Some(response(Vec::new())));
        }
        if value("transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked")) {
            return Ok(dechunk(body, eof)?.map(response));
        }
        if let Some(length) = value("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| format!("bad content-length {length:?}"))?;
            if length > BODY_LIMIT {
                return Err(too_big());
            }
            return match body.get(..length) {
                Some(body) => Ok(Some(response(body.to_vec()))),
                None if eof => Err(cut()),
                None => Ok(None),
            };
        }
        if body.len() > BODY_LIMIT {
            return Err(too_big());
        }
        return Ok(eof.then(|| response(body.to_vec())));
    }
}

/// Where the head in `bytes` ends: the end of its last line and the start of the
/// body, past the first empty line (`\n\n` or `\n\r\n`); `None` until it has come.
fn head_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut at = 0;
    while let Some(nl) = bytes[at..].iter().position(|b| *b == b'\n') {
        let next = at + nl + 1;
        match &bytes[next..] {
            [b'\n', ..] => return Some((at + nl, next + 1)),
            [b'\r', b'\n', ..] => return Some((at + nl, next + 2)),
            _ => at = next,
        }
    }
    None
}

fn too_big() -> String {
    format!(
        "the response body is larger than {} MiB",
        BODY_LIMIT / 1024 / 1024
    )
}

fn cut() -> String {
    "the connection closed in the middle of the response".into()
}

/// A `chunked` body undone; `None` while its last chunk has not come. Sizes are
/// checked before any arithmetic, so no size a server sends can overflow, and each
/// chunk's data must end with its CRLF (or a bare LF).
fn dechunk(mut bytes: &[u8], eof: bool) -> Result<Option<Vec<u8>>, String> {
    let more = || if eof { Err(cut()) } else { Ok(None) };
    let mut body = Vec::new();
    loop {
        let Some(nl) = bytes.iter().position(|b| *b == b'\n') else {
            return more();
        };
        let line = String::from_utf8_lossy(&bytes[..nl]);
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .ok()
            .filter(|_| !size_text.starts_with('+'))
            .ok_or_else(|| format!("bad chunk size {size_text:?}"))?;
        bytes = &bytes[nl + 1..];
        if size == 0 {
            // Trailers, if any, end with a blank line; they are not kept.
            return Ok(Some(body));
        }
        if size > BODY_LIMIT - body.len() {
            return Err(too_big());
        }
        let Some(chunk) = bytes.get(..size) else {
            return more();
        };
        let after = &bytes[size..];
        let end = match after {
            [b'\r', b'\n', ..] => 2,
            [b'\n', ..] => 1,
            [] | [b'\r'] => return more(),
            _ => return Err("a chunk is longer than its size says".into()),
        };
        body.extend_from_slice(chunk);
        bytes = &after[end..];
    }
}

/// The head's header lines as checks see them ([`header`]), a line folded onto the
/// next ones (obsolete line folding, RFC 9112 section 5.2: a line that starts with a
/// space or a tab) joined to it by one space.
pub fn header_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut joined: Vec<String> = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        match joined.last_mut() {
            Some(previous) if line.starts_with([' ', '\t']) => {
                previous.push(' ');
                previous.push_str(line.trim());
            }
            _ => joined.push(line.to_string()),
        }
    }
    joined.iter().map(|l| header(l)).collect()
}

/// A response header line as checks see it, the same from every way of asking:
/// `name: value`, the name lowercased, both trimmed.
pub fn header(line: &str) -> String {
    match line.split_once(':') {
        Some((name, value)) => format!("{}: {}", name.trim().to_ascii_lowercase(), value.trim()),
        None => line.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("http://web/").unwrap();
        assert_eq!(
            (
                u.host.as_str(),
                u.port,
                u.authority.as_str(),
                u.target.as_str()
            ),
            ("web", 80, "web", "/")
        );
        let u = parse_url("http://[::1]:8080?x=1#f").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.target.as_str()),
            ("::1", 8080, "/?x=1")
        );
        assert_eq!(parse_url("http://db:5/a/b?c").unwrap().target, "/a/b?c");
        assert!(
            parse_url("https://web/")
                .unwrap_err()
                .contains("needs `curl`")
        );
        assert!(parse_url("http://:80/").is_err());
        assert!(parse_url("http://web:x/").is_err());
        assert_eq!(join("http://web/a/b?q", "c"), "http://web/a/c");
        assert_eq!(join("http://web/a/b", "/d"), "http://web/d");
        assert_eq!(join("http://web", "/d"), "http://web/d");
        assert_eq!(join("http://web/a", "http://db/"), "http://db/");
    }

    #[test]
    fn folded_header_lines_join_the_line_before() {
        let folded = b"HTTP/1.1 200 OK\r\nX-Long: one\r\n  two\r\n\tthree\r\nServer: x\r\nContent-Length: 0\r\n\r\n";
        let r = parse_response(folded, false, false).unwrap().unwrap();
        assert_eq!(
            r.headers,
            ["x-long: one two three", "server: x", "content-length: 0"]
        );
    }

    /// A request as [`serve`] received it.
    struct Received {
        method: String,
        path: String,
        host: String,
        authorization: String,
        body: Vec<u8>,
    }

    /// Serves each connection on 127.0.0.1 with what `route` answers to it.
    fn serve(route: fn(&Received, u16) -> String) -> u16 {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut words = line.split_whitespace();
                let mut got = Received {
                    method: words.next().unwrap_or_default().into(),
                    path: words.next().unwrap_or_default().into(),
                    host: String::new(),
                    authorization: String::new(),
                    body: Vec::new(),
                };
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let Some((name, value)) = header.trim_end().split_once(": ") else {
                        break;
                    };
                    match name.to_ascii_lowercase().as_str() {
                        "host" => got.host = value.into(),
                        "authorization" => got.authorization = value.into(),
                        "content-length" => length = value.parse().unwrap(),
                        _ => {}
                    }
                }
                got.body = vec![0; length];
                reader.read_exact(&mut got.body).unwrap();
                let _ = stream.write_all(route(&got, port).as_bytes());
            }
        });
        port
    }

    /// `/to/STATUS/PORT` redirects with STATUS to `/echo` on PORT; `/echo` answers
    /// with what it was sent; `/empty` redirects to an empty `Location`.
    fn routes(got: &Received, _port: u16) -> String {
        let parts: Vec<&str> = got.path.split('/').collect();
        match parts.as_slice() {
            ["", "to", status, port] => format!(
                "HTTP/1.1 {status} Moved\r\nLocation: http://127.0.0.1:{port}/echo\r\nContent-Length: 0\r\n\r\n"
            ),
            ["", "empty"] => "HTTP/1.1 302 Found\r\nLocation: \r\nContent-Length: 0\r\n\r\n".into(),
            _ => {
                let text = format!(
                    "{} {} host={} auth={} body={}",
                    got.method,
                    got.path,
                    got.host,
                    got.authorization,
                    String::from_utf8_lossy(&got.body)
                );
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{text}",
                    text.len()
                )
            }
        }
    }

    fn fetch(method: &str, url: String, headers: &[(&str, &str)]) -> (u16, String) {
        let reply = request(&Http {
            method: method.into(),
            url,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
                .collect(),
            body: Some(b"data".to_vec()),
            follow: true,
            timeout_ms: 5000,
        });
        let Reply::Ok(fields) = reply else {
            panic!("{reply:?}")
        };
        let status = String::from_utf8_lossy(&fields[0]).parse().unwrap();
        (status, String::from_utf8_lossy(&fields[2]).into_owned())
    }

    #[test]
    fn redirects_after_post_and_to_another_host() {
        let a = serve(routes);
        let b = serve(routes);
        // 301, 302 and 303 turn a POST into a GET without its body; 307 and 308 keep
        // both.
        for (status, seen) in [
            (301, "GET /echo"),
            (302, "GET /echo"),
            (303, "GET /echo"),
            (307, "POST /echo"),
            (308, "POST /echo"),
        ] {
            let (code, body) = fetch("POST", format!("http://127.0.0.1:{a}/to/{status}/{a}"), &[]);
            assert_eq!(code, 200);
            assert!(body.starts_with(seen), "{status}: {body}");
            let sent = if seen.starts_with("POST") { "data" } else { "" };
            assert!(body.ends_with(&format!("body={sent}")), "{status}: {body}");
        }
        // A PUT keeps its method through a 302, as curl does.
        let (_, body) = fetch("PUT", format!("http://127.0.0.1:{a}/to/302/{a}"), &[]);
        assert!(body.starts_with("PUT /echo"), "{body}");
        // The user's Host and credentials stay with their own host and port.
        let mine = [("Host", "mine.example"), ("Authorization", "Bearer s")];
        let (_, body) = fetch("GET", format!("http://127.0.0.1:{a}/to/307/{a}"), &mine);
        assert!(body.contains("host=mine.example auth=Bearer s "), "{body}");
        let (_, body) = fetch("GET", format!("http://127.0.0.1:{a}/to/307/{b}"), &mine);
        assert!(
            body.contains(&format!("host=127.0.0.1:{b} auth= ")),
            "{body}"
        );
    }

    #[test]
    fn a_redirect_to_https_is_the_answer() {
        fn to_https(_: &Received, port: u16) -> String {
            format!(
                "HTTP/1.1 301 Moved\r\nLocation: https://127.0.0.1:{port}/\r\nContent-Length: 0\r\n\r\n"
            )
        }
        let a = serve(to_https);
        let (status, _) = fetch("GET", format!("http://127.0.0.1:{a}/"), &[]);
        assert_eq!(status, 301);
    }

    #[test]
    fn an_empty_location_is_the_answer() {
        let a = serve(routes);
        let (status, _) = fetch("GET", format!("http://127.0.0.1:{a}/empty"), &[]);
        assert_eq!(status, 302);
    }

    #[test]
    fn content_length_bodies() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer:  x \r\n\r\nhello";
        assert_eq!(parse_response(&full[..30], false, false), Ok(None));
        assert_eq!(
            parse_response(&full[..full.len() - 1], false, false),
            Ok(None)
        );
        assert!(parse_response(&full[..full.len() - 1], true, false).is_err());
        let r = parse_response(full, false, false).unwrap().unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.headers, ["content-length: 5", "server: x"]);
        assert_eq!(r.body, b"hello");
        let head =
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, true).unwrap();
        assert_eq!(head.unwrap().body, b"");
        let interim =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            parse_response(interim, false, false)
                .unwrap()
                .unwrap()
                .status,
            201
        );
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", true, false).is_err());
    }

    #[test]
    fn bare_lf_line_endings() {
        let lf = b"HTTP/1.1 200 OK\nContent-Length: 5\nServer: x\n\nhello";
        assert_eq!(parse_response(&lf[..20], false, false), Ok(None));
        let r = parse_response(lf, false, false).unwrap().unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.headers, ["content-length: 5", "server: x"]);
        assert_eq!(r.body, b"hello");
        // Mixed endings, and an empty line of CRLF after LF lines.
        let mixed = b"HTTP/1.1 204 No Content\nX-A: 1\r\nX-B: 2\n\r\n";
        let r = parse_response(mixed, false, false).unwrap().unwrap();
        assert_eq!(r.status, 204);
        assert_eq!(r.headers, ["x-a: 1", "x-b: 2"]);
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n\r"), None);
    }

    #[test]
    fn chunked_and_unframed_bodies() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
        assert_eq!(parse_response(&chunked[..60], false, false), Ok(None));
        let r = parse_response(chunked, false, false).unwrap().unwrap();
        assert_eq!(r.body, b"hello, world");
        assert!(parse_response(&chunked[..60], true, false).is_err());
        // Sizes no body can have, and data longer than its size.
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (size, says) in [
            ("ffffffffffffffff", "larger than 10 MiB"),
            ("fffffffffffffffff", "bad chunk size"),
            ("a00001", "larger than 10 MiB"),
            ("+5", "bad chunk size"),
            ("x", "bad chunk size"),
        ] {
            let response = format!("{head}{size}\r\nhello\r\n0\r\n\r\n");
            let err = parse_response(response.as_bytes(), true, false).unwrap_err();
            assert!(err.contains(says), "{size}: {err}");
        }
        // After a first chunk, where `body.len() + size` would overflow.
        let huge = format!("{head}5\r\nhello\r\nffffffffffffffff\r\nx\r\n0\r\n\r\n");
        let err = parse_response(huge.as_bytes(), true, false).unwrap_err();
        assert!(err.contains("larger than 10 MiB"), "{err}");
        let long = format!("{head}3\r\nhello\r\n0\r\n\r\n");
        let err = parse_response(long.as_bytes(), true, false).unwrap_err();
        assert!(err.contains("longer than its size"), "{err}");
        let lf = format!("{head}5\nhello\n0\n\n");
        let r = parse_response(lf.as_bytes(), false, false)
            .unwrap()
            .unwrap();
        assert_eq!(r.body, b"hello");
        let split = format!("{head}5\r\nhello\r");
        assert_eq!(parse_response(split.as_bytes(), false, false), Ok(None));
        let unframed = b"HTTP/1.0 404 Not Found\r\n\r\nno such page";
        assert_eq!(parse_response(unframed, false, false), Ok(None));
        let r = parse_response(unframed, true, false).unwrap().unwrap();
        assert_eq!((r.status, &r.body[..]), (404, &b"no such page"[..]));
    }
}
