//! How the probe answers: one framed reply per query on standard output, in any
//! order, then an `end` line (the format is described in [`super`]).

use std::fmt::Write as _;

use super::{REPLY_HEADER, WireError};

/// What the probe found for one query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Found: the fields depend on the query. `Read`: the content. `Lstat`: the
    /// metadata as text, `KIND MODE_OCTAL UID GID SIZE MTIME`, then a symlink's
    /// target. `Run`: the exit status (`-` when a signal ended it), stdout, stderr.
    /// `Processes`: the listing. `Connect`: `reachable`, `refused`, `timeout`,
    /// `unreachable` or `noname`, then the error's words. `Resolve`: the addresses,
    /// one a line. `Http`: the status, the head's `name: value` lines, the body.
    Ok(Vec<Vec<u8>>),
    /// The path does not exist; `Resolve`: the name does not.
    NotFound,
    /// The program does not exist on the target.
    Missing(String),
    /// The target refused, and what.
    Denied(String),
    /// The program ran past its limit and was stopped.
    Timeout,
    /// Anything else, in words.
    Failed(String),
}

impl Reply {
    fn code(&self) -> &'static str {
        match self {
            Self::Ok(_) => "ok",
            Self::NotFound => "none",
            Self::Missing(_) => "missing",
            Self::Denied(_) => "denied",
            Self::Timeout => "timeout",
            Self::Failed(_) => "failed",
        }
    }

    fn fields(&self) -> Vec<&[u8]> {
        match self {
            Self::Ok(fields) => fields.iter().map(Vec::as_slice).collect(),
            Self::NotFound | Self::Timeout => Vec::new(),
            Self::Missing(s) | Self::Denied(s) | Self::Failed(s) => vec![s.as_bytes()],
        }
    }

    /// The reply framed for standard output, naming query `index`.
    pub fn frame(&self, index: usize) -> Vec<u8> {
        let fields = self.fields();
        let mut head = format!("{index} {}", self.code());
        for f in &fields {
            let _ = write!(head, " {}", f.len());
        }
        head.push('\n');
        let mut out = head.into_bytes();
        for f in fields {
            out.extend_from_slice(f);
        }
        out
    }
}

/// Everything a probe (or the fallback script) answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replies {
    /// One per query, by index; `None` where no answer came.
    pub replies: Vec<Option<Reply>>,
    /// Whether the probe removed its own file.
    pub unlinked: bool,
    /// Whether the reply ended with its `end` line (a probe that was killed does not).
    pub complete: bool,
}

/// Reads a reply to a batch of `queries` queries.
pub fn parse_replies(out: &[u8], queries: usize) -> Result<Replies, WireError> {
    let rest = out.strip_prefix(REPLY_HEADER.as_bytes()).ok_or_else(|| {
        let start = String::from_utf8_lossy(&out[..out.len().min(200)]).into_owned();
        WireError(format!("not a probe reply: {start:?}"))
    })?;
    let mut replies = vec![None; queries];
    let mut at = 0;
    while at < rest.len() {
        let nl = rest[at..]
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| WireError("a reply line has no end".into()))?;
        let line = std::str::from_utf8(&rest[at..at + nl])
            .map_err(|_| WireError("a reply header is not text".into()))?;
        at += nl + 1;
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"end") {
            return Ok(Replies {
                replies,
                unlinked: words.get(1) == Some(&"1"),
                complete: true,
            });
        }
        let bad = || WireError(format!("bad reply header {line:?}"));
        let [index, code, lens @ ..] = &words[..] else {
            return Err(bad());
        };
        let index: usize = index.parse().map_err(|_| bad())?;
        let mut fields = Vec::new();
        for len in lens {
            let len: usize = len.parse().map_err(|_| bad())?;
            let field = rest
                .get(at..at + len)
                .ok_or_else(|| WireError("a reply ends inside a field".into()))?;
            fields.push(field.to_vec());
            at += len;
        }
        let text = |fields: &[Vec<u8>]| {
            fields
                .first()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .unwrap_or_default()
        };
        let reply = match *code {
            "ok" => Reply::Ok(fields),
            "none" => Reply::NotFound,
            "missing" => Reply::Missing(text(&fields)),
            "denied" => Reply::Denied(text(&fields)),
            "timeout" => Reply::Timeout,
            "failed" => Reply::Failed(text(&fields)),
            _ => return Err(bad()),
        };
        let slot = replies.get_mut(index).ok_or_else(bad)?;
        *slot = Some(reply);
    }
    Ok(Replies {
        replies,
        unlinked: false,
        complete: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip_in_any_order() {
        let mut out = REPLY_HEADER.as_bytes().to_vec();
        out.extend(Reply::Ok(vec![b"0".to_vec(), b"a\nb".to_vec(), Vec::new()]).frame(2));
        out.extend(Reply::NotFound.frame(0));
        out.extend(Reply::Missing("curl".into()).frame(1));
        out.extend(Reply::Timeout.frame(3));
        out.extend(b"end 1\n");
        let r = parse_replies(&out, 5).unwrap();
        assert!(r.complete && r.unlinked);
        assert_eq!(r.replies[0], Some(Reply::NotFound));
        assert_eq!(r.replies[1], Some(Reply::Missing("curl".into())));
        assert_eq!(
            r.replies[2],
            Some(Reply::Ok(vec![b"0".to_vec(), b"a\nb".to_vec(), Vec::new()]))
        );
        assert_eq!(r.replies[3], Some(Reply::Timeout));
        assert_eq!(r.replies[4], None);
    }

    #[test]
    fn cut_or_foreign_replies_are_told_apart() {
        let mut out = REPLY_HEADER.as_bytes().to_vec();
        out.extend(Reply::Ok(vec![b"hello".to_vec()]).frame(0));
        let cut = parse_replies(&out[..out.len() - 2], 1);
        assert!(cut.is_err());
        let r = parse_replies(&out, 2).unwrap();
        assert!(!r.complete);
        assert!(parse_replies(b"sh: 1: exec format error\n", 1).is_err());
        assert!(parse_replies(b"ISPEC-PROBE 1\n9 ok 0\n", 1).is_err());
        // `wc -c` on some systems pads its count with spaces.
        let padded = parse_replies(b"ISPEC-PROBE 1\n0 ok    2\nhiend 0\n", 1).unwrap();
        assert_eq!(padded.replies[0], Some(Reply::Ok(vec![b"hi".to_vec()])));
    }
}
