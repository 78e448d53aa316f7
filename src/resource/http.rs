//! `http`: an HTTP(S) request made from the target's point of view.
//!
//! On the local machine the request is made in-process with `ureq` (rustls, the
//! Mozilla root store in `webpki-roots`). On any other target the request is made
//! from inside it, so the answer is what the target itself would get: `http://` by
//! ispec's probe (an HTTP/1.1 client, the host resolved the target's way, see
//! [`crate::gather::net`]), and `https://` (or `http://` where the probe cannot run)
//! by `curl` run there as an argv (see [`curl`]). Statuses
//! are values, not errors: a 404 is `status = 404`. Failing to get any answer at all
//! (refused, TLS not trusted, timed out) is an error result.

mod curl;
mod local;

use std::time::Duration;

// One limit of redirects and of body size for every way of asking: the probe's.
use ispec_probe::http::{BODY_LIMIT, MAX_REDIRECTS};
use ureq::http::{HeaderName, HeaderValue, Method, Uri};

use crate::expect::{Ty, Value};
use crate::gather::net::{self, Net, NetAnswer, NetQuery};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};

use super::{Kind, Observed, OptDef, OptTy, Options, PropDef, Resource, wants};

pub(super) const KIND: Kind = Kind {
    key: "http",
    props: &[
        PropDef::new("status", Ty::Int, "the response's status code"),
        PropDef::new(
            "headers",
            Ty::List,
            "response headers as `name: value` lines, names in lowercase",
        ),
        PropDef::new(
            "body",
            Ty::Str,
            "the response body (invalid UTF-8 replaced)",
        ),
    ],
    options: &[
        OptDef {
            name: "method",
            ty: OptTy::Str,
            doc: "the request method (default GET)",
        },
        OptDef {
            name: "request-headers",
            ty: OptTy::StrMap,
            doc: "headers to send, as a table of name = value",
        },
        OptDef {
            name: "request-body",
            ty: OptTy::Str,
            doc: "a body to send",
        },
        OptDef {
            name: "tls-verify",
            ty: OptTy::Bool,
            doc: "verify the server's certificate and name (default true)",
        },
        OptDef {
            name: "follow-redirects",
            ty: OptTy::Bool,
            doc: "follow up to 10 redirects and report the last response (default false)",
        },
        OptDef {
            name: "ca-file",
            ty: OptTy::Str,
            doc: "a PEM bundle of CA certificates to trust instead of the default roots",
        },
    ],
    new,
};

/// What ispec's own requests say they are.
const USER_AGENT: &str = concat!("ispec/", env!("CARGO_PKG_VERSION"));

#[derive(Debug)]
struct Http {
    url: String,
    /// `host:port` as connected to, for error messages.
    authority: String,
    method: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    tls_verify: bool,
    follow_redirects: bool,
    ca_file: Option<String>,
}

/// What the server answered (the last answer, when redirects are followed).
#[derive(Debug, PartialEq, Eq)]
struct Response {
    status: u16,
    /// `name: value` lines, names in lowercase, in the order received.
    headers: Vec<String>,
    body: String,
}

fn new(id: &str, options: &Options) -> Result<Box<dyn Resource>, String> {
    Ok(Box::new(parse(id, options)?))
}

/// Reads the URL and the options of a request.
fn parse(id: &str, options: &Options) -> Result<Http, String> {
    let uri: Uri = id.parse().map_err(|e| {
        format!("`{id}` is not a valid URL ({e}); write it as `http://HOST[:PORT]/PATH`")
    })?;
    let default_port = match uri.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => {
            return Err(format!(
                "`{id}` is not an http:// or https:// URL; write it as `http://HOST[:PORT]/PATH`"
            ));
        }
    };
    let Some(host) = uri.host().filter(|h| !h.is_empty()) else {
        return Err(format!(
            "`{id}` has no host; write it as `http://HOST[:PORT]/PATH`"
        ));
    };
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(format!(
            "`{id}` has credentials in it; send them with `request-headers` instead"
        ));
    }
    let authority = format!("{host}:{}", uri.port_u16().unwrap_or(default_port));
    let method = options.str("method").unwrap_or("GET").to_string();
    if method.is_empty() || Method::from_bytes(method.as_bytes()).is_err() {
        return Err(format!("`method = {method:?}` is not an HTTP method"));
    }
    let headers = options.map("request-headers").unwrap_or_default().to_vec();
    for (name, value) in &headers {
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("`request-headers`: {name:?} is not a header name"));
        }
        if HeaderValue::from_str(value).is_err() {
            return Err(format!(
                "`request-headers`: the value of `{name}` cannot be sent in a header"
            ));
        }
    }
    Ok(Http {
        url: id.to_string(),
        authority,
        method,
        headers,
        body: options.str("request-body").map(str::to_string),
        tls_verify: options.bool("tls-verify").unwrap_or(true),
        follow_redirects: options.bool("follow-redirects").unwrap_or(false),
        ca_file: options.str("ca-file").map(str::to_string),
    })
}

impl Resource for Http {
    fn facts(&self, _wanted: &[&'static str], ask: &Ask<'_>) -> Vec<Fact> {
        vec![match self.net(ask.timeout) {
            Some(net) => Fact::Net(net),
            None => Fact::Run(curl::request(self, ask.timeout)),
        }]
    }

    fn probe(&self, host: &Host, wanted: &[&'static str]) -> Result<Observed, ProbeError> {
        let gathered = self
            .net(host.timeout())
            .and_then(|net| host.gathered_net(&net.query));
        let response = if host.is_local() {
            self.fetch(host.timeout(), wants(wanted, "body"))?
        } else if let Some(answer) = gathered {
            match answer? {
                // The probe stopped at a redirect to `https://`, which it cannot
                // follow: the target's `curl` makes the whole request again.
                NetAnswer::Response {
                    status, headers, ..
                } if self.follow_redirects && leaves_http(status, &headers) => {
                    self.by_curl(host, true)?
                }
                NetAnswer::Response {
                    status,
                    headers,
                    body,
                } => Response {
                    status,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                },
                other => {
                    return Err(ProbeError::Failed(format!(
                        "an unexpected answer: {other:?}"
                    )));
                }
            }
        } else {
            self.by_curl(host, self.is_https())?
        };
        let mut seen = Observed::new();
        seen.set("status", Value::Int(i64::from(response.status)));
        seen.set("headers", Value::List(response.headers));
        seen.set("body", Value::Str(response.body));
        Ok(seen)
    }
}

/// Returns true if and only if a response with `status` and `headers` (`name: value`,
/// names in lowercase) is a redirect to another scheme than `http://` (`https://`),
/// which the probe answers with instead of following it.
fn leaves_http(status: u16, headers: &[String]) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
        && headers
            .iter()
            .filter_map(|h| h.strip_prefix("location: "))
            .any(|to| {
                to.split_once("://").is_some_and(|(scheme, _)| {
                    !scheme.is_empty()
                        && !scheme.contains(['/', '?', '#'])
                        && !scheme.eq_ignore_ascii_case("http")
                })
            })
}

impl Http {
    fn is_https(&self) -> bool {
        self.url.starts_with("https://")
    }

    /// The request made by `curl` on the target; `needs_tls` says the request
    /// involves `https://`, so that a missing `curl` is explained.
    fn by_curl(&self, host: &Host, needs_tls: bool) -> Result<Response, ProbeError> {
        curl::fetch(self, host).map_err(|e| match e {
            ProbeError::ToolMissing(tool) if tool == "curl" && needs_tls => ProbeError::Failed(
                "https:// from inside a target needs `curl` there, and it is not installed".into(),
            ),
            other => other,
        })
    }

    /// The request as a network fact the probe answers, `curl` where it cannot run;
    /// `None` for `https://`, which the probe does not speak (no TLS in it).
    fn net(&self, timeout: Duration) -> Option<Net> {
        if self.is_https() {
            return None;
        }
        let mut headers = self.headers.clone();
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
        {
            headers.insert(0, ("User-Agent".into(), USER_AGENT.into()));
        }
        Some(Net {
            query: NetQuery::Http(net::Http {
                method: self.method.clone(),
                url: self.url.clone(),
                headers,
                body: self.body.clone().map(String::into_bytes),
                follow: self.follow_redirects,
                timeout_ms: net::millis(timeout),
            }),
            fallback: Some(curl::request(self, timeout)),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    use super::*;
    use crate::resource::OptValue;

    /// Serves HTTP/1.1 on 127.0.0.1: `/` is 200 with a header and a body, `/old`
    /// redirects to `/`, `/echo` answers with the request's method, a header and the
    /// body it was sent, and anything else is 404.
    fn serve() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                std::thread::spawn(move || answer(stream));
            }
        });
        port
    }

    fn answer(stream: std::net::TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let (mut length, mut probe_header) = (0, String::new());
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap(),
                "x-probe" => probe_header = value.trim().to_string(),
                _ => {}
            }
        }
        let mut sent = vec![0; length];
        reader.read_exact(&mut sent).unwrap();
        let (status, extra, body) = match path.as_str() {
            "/" => (
                "200 OK",
                "Server: ispec-test\r\n",
                "hello from ispec".into(),
            ),
            "/old" => ("301 Moved Permanently", "Location: /\r\n", String::new()),
            "/echo" => (
                "200 OK",
                "",
                format!("{method} {probe_header} {}", String::from_utf8_lossy(&sent)),
            ),
            _ => ("404 Not Found", "", "no such page".into()),
        };
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }

    fn probe(url: &str, options: &Options) -> Result<Observed, ProbeError> {
        let host = Host::local().with_timeout(Duration::from_secs(5));
        new(url, options)
            .unwrap()
            .probe(&host, &["status", "headers", "body"])
    }

    #[test]
    fn status_headers_and_body() {
        let port = serve();
        let seen = probe(&format!("http://127.0.0.1:{port}/"), &Options::new()).unwrap();
        assert_eq!(seen.get("status").unwrap(), &Value::Int(200));
        assert_eq!(
            seen.get("body").unwrap(),
            &Value::Str("hello from ispec".into())
        );
        let Value::List(headers) = seen.get("headers").unwrap() else {
            panic!("headers are a list")
        };
        assert!(headers.contains(&"content-type: text/plain".to_string()));
        assert!(headers.contains(&"server: ispec-test".to_string()));
        let missing = probe(&format!("http://127.0.0.1:{port}/nope"), &Options::new()).unwrap();
        assert_eq!(missing.get("status").unwrap(), &Value::Int(404));
    }

    #[test]
    fn redirects_are_reported_unless_followed() {
        let port = serve();
        let url = format!("http://127.0.0.1:{port}/old");
        let seen = probe(&url, &Options::new()).unwrap();
        assert_eq!(seen.get("status").unwrap(), &Value::Int(301));
        let mut follow = Options::new();
        follow.insert("follow-redirects", OptValue::Bool(true));
        let seen = probe(&url, &follow).unwrap();
        assert_eq!(seen.get("status").unwrap(), &Value::Int(200));
        assert_eq!(
            seen.get("body").unwrap(),
            &Value::Str("hello from ispec".into())
        );
    }

    #[test]
    fn method_headers_and_body_are_sent() {
        let port = serve();
        let mut options = Options::new();
        options.insert("method", OptValue::Str("PUT".into()));
        options.insert(
            "request-headers",
            OptValue::StrMap(vec![("X-Probe".into(), "$(id)".into())]),
        );
        options.insert("request-body", OptValue::Str("payload".into()));
        let seen = probe(&format!("http://127.0.0.1:{port}/echo"), &options).unwrap();
        assert_eq!(
            seen.get("body").unwrap(),
            &Value::Str("PUT $(id) payload".into())
        );
    }

    #[test]
    fn refused_connection_is_an_error() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let err = probe(&format!("http://127.0.0.1:{port}/"), &Options::new()).unwrap_err();
        assert_eq!(
            err,
            ProbeError::Failed(format!(
                "cannot connect to 127.0.0.1:{port}: connection refused"
            ))
        );
    }

    #[test]
    fn curl_on_another_target() {
        let port = serve();
        let host =
            Host::new(Box::new(crate::backend::Elsewhere)).with_timeout(Duration::from_secs(5));
        let all = ["status", "headers", "body"];
        let seen = new(&format!("http://127.0.0.1:{port}/"), &Options::new())
            .unwrap()
            .probe(&host, &all)
            .unwrap();
        assert_eq!(seen.get("status").unwrap(), &Value::Int(200));
        assert_eq!(
            seen.get("body").unwrap(),
            &Value::Str("hello from ispec".into())
        );
        let Value::List(headers) = seen.get("headers").unwrap() else {
            panic!("headers are a list")
        };
        assert!(headers.contains(&"server: ispec-test".to_string()));
        let mut options = Options::new();
        options.insert("method", OptValue::Str("PUT".into()));
        options.insert(
            "request-headers",
            OptValue::StrMap(vec![("X-Probe".into(), "$(id)".into())]),
        );
        options.insert("request-body", OptValue::Str("a'b".into()));
        let seen = new(&format!("http://127.0.0.1:{port}/echo"), &options)
            .unwrap()
            .probe(&host, &all)
            .unwrap();
        assert_eq!(
            seen.get("body").unwrap(),
            &Value::Str("PUT $(id) a'b".into())
        );
        let mut follow = Options::new();
        follow.insert("follow-redirects", OptValue::Bool(true));
        let seen = new(&format!("http://127.0.0.1:{port}/old"), &follow)
            .unwrap()
            .probe(&host, &all)
            .unwrap();
        assert_eq!(seen.get("status").unwrap(), &Value::Int(200));
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let err = new(&format!("http://127.0.0.1:{closed_port}/"), &Options::new())
            .unwrap()
            .probe(&host, &all)
            .unwrap_err();
        assert!(err.to_string().starts_with("cannot connect: "), "{err}");
    }

    #[test]
    fn a_redirect_to_https_is_finished_by_curl() {
        assert!(leaves_http(301, &["location: https://web/".into()]));
        assert!(leaves_http(308, &["location: HTTPS://web/".into()]));
        assert!(!leaves_http(301, &["location: http://web/".into()]));
        assert!(!leaves_http(302, &["location: /go?to=https://web/".into()]));
        assert!(!leaves_http(200, &["location: https://web/".into()]));
        // The https:// end: a closed port, so that curl, and only curl, says where
        // it went.
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let tls_port = closed.local_addr().unwrap().port();
        drop(closed);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let _ = write!(
                    stream,
                    "HTTP/1.1 301 Moved\r\nLocation: https://127.0.0.1:{tls_port}/\r\nContent-Length: 0\r\n\r\n"
                );
            }
        });
        let mut follow = Options::new();
        follow.insert("follow-redirects", OptValue::Bool(true));
        let http = new(&format!("http://127.0.0.1:{port}/"), &follow).unwrap();
        let host =
            Host::new(Box::new(crate::backend::Elsewhere)).with_timeout(Duration::from_secs(5));
        // What the probe answers in a target, as gathering would remember it.
        let Some(net) = parse(&format!("http://127.0.0.1:{port}/"), &follow)
            .unwrap()
            .net(host.timeout())
        else {
            panic!("http:// is a network fact")
        };
        let NetQuery::Http(query) = &net.query else {
            panic!()
        };
        let reply = ispec_probe::http::request(query);
        host.remember_net(&net.query, net.query.answer(reply));
        let err = http.probe(&host, &["status"]).unwrap_err().to_string();
        assert!(
            err.starts_with("cannot connect: ") && err.contains(&tls_port.to_string()),
            "{err}"
        );
    }

    #[test]
    fn silence_is_a_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts and then says nothing until the test is over.
        std::thread::spawn(move || {
            let held: Vec<_> = listener.incoming().collect();
            drop(held);
        });
        let host = Host::local().with_timeout(Duration::from_millis(300));
        let err = new(&format!("http://127.0.0.1:{port}/"), &Options::new())
            .unwrap()
            .probe(&host, &["status"])
            .unwrap_err();
        assert_eq!(err, ProbeError::Timeout(Duration::from_millis(300)));
    }

    #[test]
    fn bad_ids_and_options_are_refused() {
        let none = Options::new();
        for (id, says) in [
            ("ftp://example.org/", "not an http:// or https:// URL"),
            ("example.org", "not an http:// or https:// URL"),
            ("http://exa mple.org/", "not a valid URL"),
            ("http:///path", "not a valid URL"),
            ("http://user:pw@example.org/", "credentials"),
        ] {
            let err = new(id, &none).unwrap_err();
            assert!(err.contains(says), "{id}: {err}");
        }
        let mut bad_method = Options::new();
        bad_method.insert("method", OptValue::Str("GE T".into()));
        assert!(
            new("http://127.0.0.1/", &bad_method)
                .unwrap_err()
                .contains("not an HTTP method")
        );
        let mut bad_header = Options::new();
        bad_header.insert(
            "request-headers",
            OptValue::StrMap(vec![("X-A".into(), "line\nbreak".into())]),
        );
        assert!(new("http://127.0.0.1/", &bad_header).is_err());
    }

    #[test]
    fn ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let err = local::read_ca_file(path.to_str().unwrap()).unwrap_err();
        assert!(err.to_string().contains("holds no certificate"), "{err}");
        let err = local::read_ca_file("/nonexistent/ispec-ca.pem").unwrap_err();
        assert!(err.to_string().contains("cannot read"), "{err}");
    }
}
