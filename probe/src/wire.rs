//! What ispec asks the probe and how the probe answers, in bytes.
//!
//! **Queries** travel in a trailer appended to the probe's own executable, so one
//! copy into the target carries both the program and everything it must find out:
//!
//! ```text
//! [ELF executable][batch][batch length: u64 LE][QUERY_MAGIC]
//! ```
//!
//! A batch is `jobs: u32`, a count, then each query as a tag byte and its fields;
//! strings and byte strings are a `u32` LE length and the bytes.
//!
//! **Answers** are written to standard output in a framing simple enough that a POSIX
//! shell script can produce it too (ispec's fallback when the probe cannot run):
//!
//! ```text
//! ISPEC-PROBE 1\n
//! <index> <code> <len> <len> ...\n<field bytes, one after another>
//! ...
//! end <unlinked: 0 | 1>\n
//! ```
//!
//! Answers may come in any order; each names its query by index.

use std::fmt;

mod reply;

pub use reply::{Replies, Reply, parse_replies};

/// The eight bytes that end a probe carrying a batch.
pub const QUERY_MAGIC: &[u8; 8] = b"ISPECQ1\n";
/// The first line of every reply.
pub const REPLY_HEADER: &str = "ISPEC-PROBE 1\n";

/// One thing to find out on the target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Query {
    /// A whole file's content.
    Read(String),
    /// A path's metadata, not following a final symlink, and a symlink's target.
    Lstat(String),
    /// A program's exit status and output.
    Run(Run),
    /// Every process: `pid NUL euid NUL comm NUL cmdline NUL state NUL fds NUL`
    /// each, the command line's own NULs made spaces; `state` is the letter of
    /// `/proc/PID/status` (`R`, `S`, `Z` for a zombie, ...), `fds` how many entries
    /// `/proc/PID/fd` has, `-` when it cannot be read (another user's process).
    Processes,
    /// A connection from the target's own network namespace.
    Connect(Connect),
    /// A host name's addresses, found the target's way (see [`crate::resolve`]).
    Resolve(Resolve),
    /// An `http://` request made from the target (see [`crate::http`]).
    Http(Http),
}

/// A connection to try: TCP (accepted or not) or UDP (refused or not).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Connect {
    /// A host name or an IP address.
    pub host: String,
    /// The port.
    pub port: u16,
    /// UDP instead of TCP.
    pub udp: bool,
    /// Given up (as `timeout`) after this many milliseconds.
    pub timeout_ms: u64,
}

/// A name to resolve.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Resolve {
    /// A host name or an IP address.
    pub name: String,
    /// Given up after this many milliseconds.
    pub timeout_ms: u64,
}

/// An HTTP/1.1 request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Http {
    /// The method, e.g. `GET`.
    pub method: String,
    /// An `http://` URL.
    pub url: String,
    /// Headers to send, in order.
    pub headers: Vec<(String, String)>,
    /// A body to send.
    pub body: Option<Vec<u8>>,
    /// Whether redirects are followed (at most [`crate::http::MAX_REDIRECTS`]); a
    /// redirect to `https://` is not followed but answered as it came.
    pub follow: bool,
    /// Given up (as `timeout`) after this many milliseconds, all redirects included.
    pub timeout_ms: u64,
}

/// A program to run, as an argv (never a shell line), with a time limit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Run {
    /// The program (looked up on `PATH`) and its arguments.
    pub argv: Vec<String>,
    /// Bytes for its standard input; `None` reads from `/dev/null`.
    pub input: Option<Vec<u8>>,
    /// Stopped (with every process it started) after this many milliseconds.
    pub timeout_ms: u64,
}

/// Every query of one round trip.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// How many programs may run at once.
    pub jobs: u32,
    /// The queries, answered by index.
    pub queries: Vec<Query>,
}

/// A reply that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("a query field under 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

impl Batch {
    /// The batch as bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.jobs.to_le_bytes());
        let count = u32::try_from(self.queries.len()).expect("fewer than 4 billion queries");
        out.extend_from_slice(&count.to_le_bytes());
        for q in &self.queries {
            match q {
                Query::Read(path) => {
                    out.push(b'R');
                    put_bytes(&mut out, path.as_bytes());
                }
                Query::Lstat(path) => {
                    out.push(b'L');
                    put_bytes(&mut out, path.as_bytes());
                }
                Query::Run(run) => {
                    out.push(b'X');
                    out.extend_from_slice(&run.timeout_ms.to_le_bytes());
                    let argc = u32::try_from(run.argv.len()).expect("a short argv");
                    out.extend_from_slice(&argc.to_le_bytes());
                    for arg in &run.argv {
                        put_bytes(&mut out, arg.as_bytes());
                    }
                    match &run.input {
                        None => out.push(0),
                        Some(input) => {
                            out.push(1);
                            put_bytes(&mut out, input);
                        }
                    }
                }
                Query::Processes => out.push(b'P'),
                Query::Connect(c) => {
                    out.push(b'C');
                    put_bytes(&mut out, c.host.as_bytes());
                    out.extend_from_slice(&c.port.to_le_bytes());
                    out.push(u8::from(c.udp));
                    out.extend_from_slice(&c.timeout_ms.to_le_bytes());
                }
                Query::Resolve(r) => {
                    out.push(b'N');
                    put_bytes(&mut out, r.name.as_bytes());
                    out.extend_from_slice(&r.timeout_ms.to_le_bytes());
                }
                Query::Http(h) => {
                    out.push(b'H');
                    put_bytes(&mut out, h.method.as_bytes());
                    put_bytes(&mut out, h.url.as_bytes());
                    let count = u32::try_from(h.headers.len()).expect("a few headers");
                    out.extend_from_slice(&count.to_le_bytes());
                    for (name, value) in &h.headers {
                        put_bytes(&mut out, name.as_bytes());
                        put_bytes(&mut out, value.as_bytes());
                    }
                    match &h.body {
                        None => out.push(0),
                        Some(body) => {
                            out.push(1);
                            put_bytes(&mut out, body);
                        }
                    }
                    out.push(u8::from(h.follow));
                    out.extend_from_slice(&h.timeout_ms.to_le_bytes());
                }
            }
        }
        out
    }

    /// `probe` with this batch appended as its trailer: what is copied into the target.
    pub fn appended_to(&self, probe: &[u8]) -> Vec<u8> {
        let batch = self.encode();
        let mut out = Vec::with_capacity(probe.len() + batch.len() + 16);
        out.extend_from_slice(probe);
        out.extend_from_slice(&batch);
        out.extend_from_slice(&(batch.len() as u64).to_le_bytes());
        out.extend_from_slice(QUERY_MAGIC);
        out
    }

    /// Reads a batch written by [`Batch::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader { bytes, at: 0 };
        let jobs = r.u32()?;
        let count = r.u32()?;
        let mut queries = Vec::new();
        for _ in 0..count {
            let query = match r.take(1)?[0] {
                b'R' => Query::Read(r.string()?),
                b'L' => Query::Lstat(r.string()?),
                b'X' => {
                    let timeout_ms = r.u64()?;
                    let words = r.u32()?;
                    let argv = (0..words).map(|_| r.string()).collect::<Result<_, _>>()?;
                    let input = match r.take(1)?[0] {
                        0 => None,
                        _ => Some(r.bytes()?.to_vec()),
                    };
                    Query::Run(Run {
                        argv,
                        input,
                        timeout_ms,
                    })
                }
                b'P' => Query::Processes,
                b'C' => Query::Connect(Connect {
                    host: r.string()?,
                    port: u16::from_le_bytes(r.take(2)?.try_into().expect("2 bytes")),
                    udp: r.take(1)?[0] != 0,
                    timeout_ms: r.u64()?,
                }),
                b'N' => Query::Resolve(Resolve {
                    name: r.string()?,
                    timeout_ms: r.u64()?,
                }),
                b'H' => {
                    let method = r.string()?;
                    let url = r.string()?;
                    let count = r.u32()?;
                    let headers = (0..count)
                        .map(|_| Ok((r.string()?, r.string()?)))
                        .collect::<Result<_, WireError>>()?;
                    let body = match r.take(1)?[0] {
                        0 => None,
                        _ => Some(r.bytes()?.to_vec()),
                    };
                    Query::Http(Http {
                        method,
                        url,
                        headers,
                        body,
                        follow: r.take(1)?[0] != 0,
                        timeout_ms: r.u64()?,
                    })
                }
                other => return Err(WireError(format!("unknown query tag {other}"))),
            };
            queries.push(query);
        }
        if r.at != bytes.len() {
            return Err(WireError("trailing bytes after the batch".into()));
        }
        Ok(Self { jobs, queries })
    }

    /// The batch in the trailer of `file`, if it has one.
    pub fn from_trailer(file: &[u8]) -> Result<Option<Self>, WireError> {
        let Some(end) = file.len().checked_sub(16) else {
            return Ok(None);
        };
        if &file[end + 8..] != QUERY_MAGIC {
            return Ok(None);
        }
        let len = u64::from_le_bytes(file[end..end + 8].try_into().expect("8 bytes"));
        let start = usize::try_from(len)
            .ok()
            .and_then(|len| end.checked_sub(len))
            .ok_or_else(|| WireError("the trailer's length is past the file's start".into()))?;
        Self::decode(&file[start..end]).map(Some)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| WireError("the batch ends too early".into()))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn string(&mut self) -> Result<String, WireError> {
        String::from_utf8(self.bytes()?.to_vec())
            .map_err(|_| WireError("a query string is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Batch {
        Batch {
            jobs: 4,
            queries: vec![
                Query::Read("/etc/passwd".into()),
                Query::Lstat("/etc/ä".into()),
                Query::Run(Run {
                    argv: vec!["sh".into(), "-c".into(), "echo $1".into(), "x y".into()],
                    input: Some(b"in\0put".to_vec()),
                    timeout_ms: 1500,
                }),
                Query::Run(Run {
                    argv: vec!["true".into()],
                    input: None,
                    timeout_ms: 1,
                }),
                Query::Processes,
                Query::Connect(Connect {
                    host: "web".into(),
                    port: 5432,
                    udp: true,
                    timeout_ms: 700,
                }),
                Query::Resolve(Resolve {
                    name: "db".into(),
                    timeout_ms: 9,
                }),
                Query::Http(Http {
                    method: "POST".into(),
                    url: "http://web/a".into(),
                    headers: vec![("X-A".into(), "b".into())],
                    body: Some(b"x".to_vec()),
                    follow: true,
                    timeout_ms: 1000,
                }),
            ],
        }
    }

    #[test]
    fn batches_round_trip_through_a_trailer() {
        let b = batch();
        assert_eq!(Batch::decode(&b.encode()).unwrap(), b);
        let file = b.appended_to(b"\x7fELF....");
        assert_eq!(Batch::from_trailer(&file).unwrap(), Some(b));
        assert_eq!(Batch::from_trailer(b"\x7fELF....").unwrap(), None);
        assert_eq!(Batch::from_trailer(b"").unwrap(), None);
    }

    #[test]
    fn broken_batches_are_errors() {
        let bytes = batch().encode();
        for cut in [1, 9, 20, bytes.len() - 1] {
            assert!(Batch::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(Batch::decode(&long).is_err());
        let mut file = b"xx".to_vec();
        file.extend_from_slice(&u64::MAX.to_le_bytes());
        file.extend_from_slice(QUERY_MAGIC);
        assert!(Batch::from_trailer(&file).is_err());
    }
}
