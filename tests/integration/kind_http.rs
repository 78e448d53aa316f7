//! `http` end to end on the local machine: a plain HTTP server and an `openssl
//! s_server` with a self-signed certificate, both on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{outcome, result, run_json};

/// Serves HTTP/1.1 on 127.0.0.1 until the test binary exits: `/` is 200 with
/// `Content-Type: text/plain`, `Server: ispec-test` and `hello from ispec`; `/old`
/// redirects to `/`; anything else is 404.
fn serve() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("port").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    port
}

fn answer(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/").to_string();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
    }
    let (status, extra, body) = match path.as_str() {
        "/" => ("200 OK", "Server: ispec-test\r\n", "hello from ispec"),
        "/old" => ("301 Moved Permanently", "Location: /\r\n", ""),
        _ => ("404 Not Found", "", "no such page"),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A port on 127.0.0.1 that nothing listens on (it was free a moment ago).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("port").port()
}

#[test]
fn status_headers_and_body() {
    let port = serve();
    let spec = format!(
        r#"
[http."http://127.0.0.1:{port}/"]
status = 200
headers = {{ contains = ["content-type: text/plain", {{ matches = "^server: ispec" }}] }}
body = {{ contains = "hello from ispec" }}

[http."http://127.0.0.1:{port}/missing"]
status = 200
body = "no such page"

[http."http://127.0.0.1:{port}/old"]
status = 301
headers = {{ contains = "location: /" }}

[http."http://127.0.0.1:{port}/old?follow"]
follow-redirects = true
status = 200
body = "hello from ispec"
"#
    );
    let (code, doc) = run_json(&spec);
    assert_eq!(code, 1);
    let root = format!("http://127.0.0.1:{port}/");
    for prop in ["status", "headers", "body"] {
        assert_eq!(outcome(&doc, "http", &root, prop), "pass", "{prop}");
    }
    let missing = format!("http://127.0.0.1:{port}/missing");
    let status = result(&doc, "http", &missing, "status");
    assert_eq!(status["outcome"], "fail");
    assert_eq!(status["actual"], "404");
    assert_eq!(outcome(&doc, "http", &missing, "body"), "pass");
    let old = format!("http://127.0.0.1:{port}/old");
    assert_eq!(outcome(&doc, "http", &old, "status"), "pass");
    assert_eq!(outcome(&doc, "http", &old, "headers"), "pass");
    let follow = format!("http://127.0.0.1:{port}/old?follow");
    assert_eq!(outcome(&doc, "http", &follow, "status"), "pass");
    assert_eq!(outcome(&doc, "http", &follow, "body"), "pass");
}

#[test]
fn refused_connection_is_an_error() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let (code, doc) = run_json(&format!("[http.\"{url}\"]\nstatus = 200\n"));
    assert_eq!(code, 1);
    let status = result(&doc, "http", &url, "status");
    assert_eq!(status["outcome"], "error");
    assert_eq!(
        status["message"],
        format!("cannot connect to 127.0.0.1:{port}: connection refused")
    );
}

/// `openssl s_server` on 127.0.0.1, killed by pid when dropped.
struct TlsServer {
    child: Child,
    port: u16,
}

impl TlsServer {
    /// Makes a self-signed certificate for `localhost` in `dir` and serves it.
    fn start(dir: &Path) -> Self {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let made = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes"])
            .args(["-subj", "/CN=localhost", "-days", "1"])
            // A name the URL uses, and not a CA: what `ca-file` can then trust.
            .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(made.success(), "openssl req failed");
        let port = free_port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server starts");
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tls_verification() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TlsServer::start(dir.path());
    let url = format!("https://127.0.0.1:{}/", server.port);
    let spec = format!(
        r#"
[http."{url}"]
status = 200

[http."{url}?insecure"]
tls-verify = false
status = 200
body = {{ contains = "s_server" }}

[http."{url}?ca"]
ca-file = "{ca}"
status = 200
"#,
        ca = dir.path().join("cert.pem").display()
    );
    let (code, doc) = run_json(&spec);
    assert_eq!(code, 1);
    let verified = result(&doc, "http", &url, "status");
    assert_eq!(verified["outcome"], "error");
    assert_eq!(
        verified["message"],
        format!(
            "TLS certificate of 127.0.0.1:{} not trusted: it is not signed by a trusted \
             authority (self-signed? see `ca-file`) (UnknownIssuer)",
            server.port
        )
    );
    let insecure = format!("{url}?insecure");
    assert_eq!(outcome(&doc, "http", &insecure, "status"), "pass");
    assert_eq!(outcome(&doc, "http", &insecure, "body"), "pass");
    assert_eq!(
        outcome(&doc, "http", &format!("{url}?ca"), "status"),
        "pass"
    );
}
