//! A small HTTP/1.1 client for `http://` URLs, run from the target: one request per
//! connection (`Connection: close`), bodies by `Content-Length`, `chunked` or to the
//! connection's end. `https://` is not spoken here (TLS needs crates the probe does
//! not carry); ispec sends those to the target's `curl`.

use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use crate::net::{Refusal, tcp};
use crate::wire::{Http, Reply};

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
        let location = response.header("location").map(str::to_string);
        match location {
            Some(to) if query.follow && matches!(response.status, 301 | 302 | 303 | 307 | 308) => {
                // As browsers, curl and ureq do: a 303, and a 301 or 302 after a
                // POST (or any method but GET and HEAD), is followed with a GET.
                let to_get = match response.status {
                    303 => method != "HEAD",
                    301 | 302 => method != "GET" && method != "HEAD",
                    _ => false,
                };
                if to_get {
                    method = "GET".into();
                    body = None;
                }
                let next = join(&url, &to);
                // A `Host` the spec gave is the first server's name, not another's.
                if authority(&next) != authority(&url) {
                    headers.retain(|(name, _)| !name.eq_ignore_ascii_case("host"));
                }
                url = next;
            }
            _ => {
                let head = response
                    .headers
                    .iter()
                    .fold(String::new(), |h, l| h + l + "\n");
                return Reply::Ok(vec![
                    response.status.to_string().into_bytes(),
                    head.into_bytes(),
                    response.body,
                ]);
            }
        }
    }
    Reply::Failed(format!(
        "more than {MAX_REDIRECTS} redirects from {}",
        query.url
    ))
}

/// The `host[:port]` of an `http://` URL, as written.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// `location` made absolute against `base`.
fn join(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let origin_end = base.find("://").map_or(0, |s| {
        base[s + 3..].find('/').map_or(base.len(), |p| s + 3 + p)
    });
    let origin = &base[..origin_end];
    if let Some(rest) = location.strip_prefix("//") {
        return format!("http://{rest}");
    }
    if location.starts_with('/') {
        return format!("{origin}{location}");
    }
    let path = base[origin_end..].split(['?', '#']).next().unwrap_or("/");
    if location.starts_with('?') {
        return format!("{origin}{path}{location}");
    }
    let dir = path.rfind('/').map_or("/", |at| &path[..=at]);
    format!("{origin}{dir}{location}")
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
        let headers = unfold(lines);
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

/// Where a response head ends and its body starts: at the first empty line, its
/// lines ended by CRLF or, as RFC 9112 lets a recipient accept, a bare LF.
fn head_end(bytes: &[u8]) -> Option<(usize, usize)> {
    bytes.iter().enumerate().find_map(|(at, b)| {
        if *b != b'\n' {
            return None;
        }
        let next = &bytes[at + 1..];
        if next.starts_with(b"\r\n") {
            Some((at, at + 3))
        } else if next.starts_with(b"\n") {
            Some((at, at + 2))
        } else {
            None
        }
    })
}

/// Header lines as [`header`] shows them; a line folded onto the next (obs-fold: one
/// starting with a space or a tab) goes on its header's value.
fn unfold<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut joined: Vec<String> = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        match joined.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => {
                last.push(' ');
                last.push_str(line.trim());
            }
            _ => joined.push(line.to_string()),
        }
    }
    joined.iter().map(|l| header(l)).collect()
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

/// A `chunked` body undone; `None` while its last chunk has not come.
fn dechunk(mut bytes: &[u8], eof: bool) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    let more = |eof: bool| if eof { Err(cut()) } else { Ok(None) };
    loop {
        let Some(nl) = bytes.iter().position(|b| *b == b'\n') else {
            return more(eof);
        };
        let size_text = String::from_utf8_lossy(&bytes[..nl]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        bytes = &bytes[nl + 1..];
        if size == 0 {
            // Trailers, if any, end with a blank line; they are not kept.
            return Ok(Some(body));
        }
        if size > BODY_LIMIT - body.len() {
            return Err(too_big());
        }
        let Some(chunk) = bytes.get(..size) else {
            return more(eof);
        };
        body.extend_from_slice(chunk);
        // The chunk's data ends its line; anything else there means its size lied.
        bytes = &bytes[size..];
        let after = if bytes.starts_with(b"\r\n") {
            2
        } else if bytes.starts_with(b"\n") {
            1
        } else if bytes.is_empty() || bytes == b"\r" {
            return more(eof);
        } else {
            return Err(format!(
                "a chunk is longer than its size ({size} bytes) says"
            ));
        };
        bytes = &bytes[after..];
    }
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
        assert_eq!(
            join("http://web/a/b?q=1", "?page=2"),
            "http://web/a/b?page=2"
        );
        assert_eq!(authority("http://web:8080/a?b"), "web:8080");
        assert_eq!(authority("http://web?b"), "web");
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
    fn chunked_and_unframed_bodies() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
        assert_eq!(parse_response(&chunked[..60], false, false), Ok(None));
        let r = parse_response(chunked, false, false).unwrap().unwrap();
        assert_eq!(r.body, b"hello, world");
        assert!(parse_response(&chunked[..60], true, false).is_err());
        let unframed = b"HTTP/1.0 404 Not Found\r\n\r\nno such page";
        assert_eq!(parse_response(unframed, false, false), Ok(None));
        let r = parse_response(unframed, true, false).unwrap().unwrap();
        assert_eq!((r.status, &r.body[..]), (404, &b"no such page"[..]));
    }

    #[test]
    fn bare_line_feeds_and_folded_headers_are_read() {
        let bare = b"HTTP/1.1 200 OK\nContent-Length: 2\nX-A: one\n  two\n\nhi";
        let r = parse_response(bare, false, false).unwrap().unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.headers, ["content-length: 2", "x-a: one two"]);
        assert_eq!(r.body, b"hi");
        let chunked = b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nhi\n0\n\n";
        let r = parse_response(chunked, false, false).unwrap().unwrap();
        assert_eq!(r.body, b"hi");
    }

    #[test]
    fn lying_chunk_sizes_are_errors_not_panics() {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let huge = format!("{head}ffffffffffffffff\r\nhi\r\n0\r\n\r\n");
        assert_eq!(parse_response(huge.as_bytes(), true, false), Err(too_big()));
        let longer = format!("{head}2\r\nhello\r\n0\r\n\r\n");
        assert_eq!(
            parse_response(longer.as_bytes(), true, false),
            Err("a chunk is longer than its size (2 bytes) says".into())
        );
        // A chunk whose line end has not come yet is waited for.
        let waiting = format!("{head}2\r\nhi");
        assert_eq!(parse_response(waiting.as_bytes(), false, false), Ok(None));
        let waiting = format!("{head}2\r\nhi\r");
        assert_eq!(parse_response(waiting.as_bytes(), false, false), Ok(None));
    }

    /// Serves `answers` on loopback, one connection each, and returns what each
    /// request's head said.
    fn serve(answers: Vec<String>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let mut heads = Vec::new();
            for answer in answers {
                let (mut conn, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    head += &line;
                }
                if let Some(len) = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                {
                    let mut body = vec![0; len.trim().parse().unwrap()];
                    reader.read_exact(&mut body).unwrap();
                }
                conn.write_all(answer.replace("PORT", &port.to_string()).as_bytes())
                    .unwrap();
                heads.push(head);
            }
            heads
        });
        (port, server)
    }

    #[test]
    fn a_post_redirected_by_302_goes_on_as_a_get_without_the_first_hosts_name() {
        let (port, server) = serve(vec![
            "HTTP/1.1 302 Found\r\nLocation: http://localhost:PORT/next\r\nContent-Length: 0\r\n\r\n".into(),
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".into(),
        ]);
        let reply = request(&Http {
            method: "POST".into(),
            url: format!("http://127.0.0.1:{port}/start"),
            headers: vec![("Host".into(), "api.example".into())],
            body: Some(b"form".to_vec()),
            follow: true,
            timeout_ms: 5000,
        });
        let Reply::Ok(fields) = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(fields[0], b"200");
        let heads = server.join().unwrap();
        assert!(heads[0].starts_with("POST /start "), "{heads:?}");
        assert!(heads[0].contains("Host: api.example\r\n"), "{heads:?}");
        assert!(heads[1].starts_with("GET /next "), "{heads:?}");
        assert!(
            heads[1].contains(&format!("Host: localhost:{port}\r\n")),
            "{heads:?}"
        );
        assert!(!heads[1].contains("Content-Length"), "{heads:?}");
    }
}
