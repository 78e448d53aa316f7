//! The book's examples: every `specs/examples/*.toml` runs on this machine, and every
//! kind has its example and its book page, so the docs cannot rot.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::util::ispec;

/// Returns true if and only if an example cannot pass on this machine.
type CannotPassHere = fn() -> bool;

/// Examples that cannot pass on this machine, with the test that says so: here they
/// must give exit 1 with every check an error (or skipped because a gate errored),
/// never a pass and never a plain failure.
const EXPECTED_ERRORS: &[(&str, CannotPassHere)] = &[
    // Image checks need a container target; `local` has no image. `kind_image` runs
    // this example against the Debian fixture, where it must pass.
    ("image.toml", || true),
    // Services need an init system, which containers (this CI) lack.
    ("service.toml", || !has_init_system()),
];

/// Where some example specs (`http`, `addr`) expect a web server.
const HTTP_ADDR: &str = "127.0.0.1:18080";

/// What that server answers to every request.
const HTTP_BODY: &str = "hello from ispec";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The names of the files in `dir` (below the repository) whose extension is `ext`,
/// sorted; the same test the spec loader makes for `*.toml`.
fn names_in(dir: &str, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("cannot read `{dir}`: {e}"))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
}

/// `specs/examples/*.toml`, by file name, sorted.
fn example_names() -> Vec<String> {
    names_in("specs/examples", "toml")
}

/// Starts the example web server once for the whole test binary.
fn http_server() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        // Another test process may be releasing the port; wait a little for it.
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(HTTP_ADDR) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("waiting for {HTTP_ADDR}: {e}");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("cannot listen on {HTTP_ADDR} for the example specs: {e}"),
            }
        };
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || answer(stream));
            }
        });
    });
}

/// Reads one request's head and answers `200 OK` with [`HTTP_BODY`].
fn answer(stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut body = 0;
    // The head ends with an empty line; a client that hangs up early gets nothing.
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {
                let lower = line.to_ascii_lowercase();
                if let Some(len) = lower.strip_prefix("content-length:") {
                    body = len.trim().parse().unwrap_or(0);
                }
            }
        }
    }
    // Read the request's body before answering: closing a socket with unread input
    // resets the connection, and the client may see the reset before the answer.
    let mut rest = vec![0; body];
    if std::io::Read::read_exact(&mut reader, &mut rest).is_err() {
        return;
    }
    let _ = write!(
        writer,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{HTTP_BODY}",
        HTTP_BODY.len()
    );
    let _ = writer.flush();
}

/// Returns true if and only if systemd runs this machine (it does not in containers).
fn has_init_system() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

fn show(out: &std::process::Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn every_example_spec_passes_here() {
    http_server();
    let mut problems = Vec::new();
    let names = example_names();
    assert!(
        names.iter().any(|n| n == "localhost.toml"),
        "specs/examples/localhost.toml is the README's main job: {names:?}"
    );
    for name in &names {
        let spec = format!("specs/examples/{name}");
        let errors_only = EXPECTED_ERRORS
            .iter()
            .any(|(expected, cannot_pass)| expected == name && cannot_pass());
        let mut cmd = ispec();
        cmd.current_dir(root()).args(["run", &spec]);
        if errors_only {
            cmd.args(["--format", "json"]);
        }
        let out = cmd.output().expect("ispec runs");
        if !errors_only {
            if out.status.code() != Some(0) {
                problems.push(format!("`ispec run {spec}` must pass:\n{}", show(&out)));
            }
            continue;
        }
        let doc: serde_json::Value = match serde_json::from_slice(&out.stdout) {
            Ok(doc) => doc,
            Err(e) => {
                problems.push(format!("{spec}: not JSON ({e}):\n{}", show(&out)));
                continue;
            }
        };
        let outcomes: Vec<&str> = doc["results"]
            .as_array()
            .map(|rs| rs.iter().filter_map(|r| r["outcome"].as_str()).collect())
            .unwrap_or_default();
        let only_errors =
            outcomes.contains(&"error") && outcomes.iter().all(|o| *o == "error" || *o == "skip");
        if out.status.code() != Some(1) || !only_errors {
            problems.push(format!(
                "`ispec run {spec}` cannot pass here, so it must give exit 1 with only \
                 errors; outcomes {outcomes:?}:\n{}",
                show(&out)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_example_server_answers() {
    http_server();
    let mut stream = TcpStream::connect(HTTP_ADDR).expect("server listens");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("request sent");
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).expect("response read");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.contains("\r\nContent-Type: text/plain\r\n"),
        "{response}"
    );
    assert!(response.ends_with("\r\n\r\nhello from ispec"), "{response}");
}

/// The files `{{#include ...}}`d by a markdown page, resolved from its folder.
fn includes(page: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(page).expect("page readable");
    let dir = page.parent().expect("page has a folder");
    text.match_indices("{{#include ")
        .filter_map(|(at, directive)| {
            let rest = &text[at + directive.len()..];
            let target = rest[..rest.find("}}")?].trim();
            // `file:anchor` and `file:2:10` select part of the file.
            let file = target.split(':').next()?;
            Some(normalize(&dir.join(file)))
        })
        .collect()
}

/// `a/b/../c` → `a/c`, without touching the file system (the file may be missing).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn every_kind_has_an_example_and_a_page() {
    let pages_dir = root().join("book/src/resources");
    let pages: BTreeSet<String> = names_in("book/src/resources", "md").into_iter().collect();
    let included: BTreeSet<PathBuf> = pages
        .iter()
        .flat_map(|p| includes(&pages_dir.join(p)))
        .collect();
    let summary = std::fs::read_to_string(root().join("book/src/SUMMARY.md")).expect("SUMMARY");
    let index = std::fs::read_to_string(pages_dir.join("index.md")).expect("resources index");
    let examples = example_names();
    let kinds: Vec<&str> = ispec::resource::KINDS.iter().map(|k| k.key).collect();
    let mut problems = Vec::new();
    for kind in &kinds {
        let page = format!("{kind}.md");
        let example = format!("{kind}.toml");
        if !pages.contains(&page) {
            problems.push(format!(
                "kind `{kind}` has no page book/src/resources/{page}"
            ));
        }
        if !summary.contains(&format!("(resources/{page})")) {
            problems.push(format!(
                "book/src/SUMMARY.md does not list resources/{page}"
            ));
        }
        if !index.contains(&format!("({page})")) {
            problems.push(format!("book/src/resources/index.md does not link {page}"));
        }
        if !examples.contains(&example) {
            problems.push(format!("kind `{kind}` has no specs/examples/{example}"));
        }
    }
    for name in &examples {
        let path = root().join("specs/examples").join(name);
        if !included.contains(&path) {
            problems.push(format!(
                "specs/examples/{name} is included by no book/src/resources/*.md page"
            ));
        }
        let stem = name.trim_end_matches(".toml");
        if stem != "localhost" && !kinds.contains(&stem) {
            problems.push(format!("specs/examples/{name} names no kind in `KINDS`"));
        }
    }
    for page in &pages {
        let stem = page.trim_end_matches(".md");
        if stem != "index" && !kinds.contains(&stem) {
            problems.push(format!(
                "book/src/resources/{page} names no kind in `KINDS`"
            ));
        }
    }
    for (name, _) in EXPECTED_ERRORS {
        if !examples.iter().any(|e| e == name) {
            problems.push(format!(
                "EXPECTED_ERRORS names specs/examples/{name}, which is missing"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
