//! The DNS message format, as much of it as resolving a name needs: a query for one
//! record type, and the code, truncation flag and addresses of its answer.

use std::net::IpAddr;

pub(super) const TYPE_A: u16 = 1;
pub(super) const TYPE_AAAA: u16 = 28;

/// A DNS query for `name`'s records of type `ty`, recursion desired.
pub fn encode_query(id: u16, name: &str, ty: u16) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(name.len() + 18);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..64).contains(l));
        let len = len.ok_or_else(|| format!("`{name}` is not a valid DNS name"))?;
        out.push(len);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    Ok(out)
}

/// The parts of a DNS answer ispec reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The query's id.
    pub id: u16,
    /// The response code (0 no error, 2 server failure, 3 no such name, 5 refused).
    pub rcode: u8,
    /// Whether it was cut to fit UDP.
    pub truncated: bool,
    /// Every A and AAAA record of the answer section (a CNAME chain's end included).
    pub addrs: Vec<IpAddr>,
}

/// Reads a DNS response.
pub fn decode_answer(msg: &[u8]) -> Result<Answer, String> {
    let bad = || "a malformed DNS answer".to_string();
    let word = |at: usize| -> Result<u16, String> {
        Ok(u16::from_be_bytes([
            *msg.get(at).ok_or_else(bad)?,
            *msg.get(at + 1).ok_or_else(bad)?,
        ]))
    };
    let flags = word(2)?;
    if flags & 0x8000 == 0 {
        return Err("a DNS query, not an answer".into());
    }
    let (questions, answers) = (word(4)?, word(6)?);
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(msg, at).ok_or_else(bad)? + 4;
    }
    let mut addrs = Vec::new();
    for _ in 0..answers {
        at = skip_name(msg, at).ok_or_else(bad)?;
        let (ty, len) = (word(at)?, usize::from(word(at + 8)?));
        let data = msg.get(at + 10..at + 10 + len).ok_or_else(bad)?;
        match (ty, data.len()) {
            (TYPE_A, 4) => addrs.push(IpAddr::from(<[u8; 4]>::try_from(data).map_err(|_| bad())?)),
            (TYPE_AAAA, 16) => {
                addrs.push(IpAddr::from(<[u8; 16]>::try_from(data).map_err(|_| bad())?));
            }
            _ => {}
        }
        at += 10 + len;
    }
    Ok(Answer {
        id: word(0)?,
        rcode: u8::try_from(flags & 0xf).unwrap_or(0),
        truncated: flags & 0x0200 != 0,
        addrs,
    })
}

/// Where the name starting at `at` ends (a compression pointer ends it).
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_messages() {
        let q = encode_query(0x1234, "web.example.", TYPE_AAAA).unwrap();
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(&q[12..], b"\x03web\x07example\x00\x00\x1c\x00\x01");
        assert!(encode_query(1, "a..b", TYPE_A).is_err());
        // An answer: the question, a CNAME and an A record named by pointers.
        let mut a = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        a.extend_from_slice(b"\x03web\x00\x00\x01\x00\x01");
        a.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6]);
        a.extend_from_slice(b"\x03db1\xc0\x0c");
        a.extend_from_slice(&[0xc0, 33, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 172, 18, 0, 2]);
        let answer = decode_answer(&a).unwrap();
        assert_eq!(
            (answer.id, answer.rcode, answer.truncated),
            (0x1234, 0, false)
        );
        assert_eq!(answer.addrs, ["172.18.0.2".parse::<IpAddr>().unwrap()]);
        let mut nx = a[..21].to_vec();
        nx[3] = 0x83;
        nx[7] = 0;
        let nx = decode_answer(&nx).unwrap();
        assert_eq!((nx.rcode, nx.addrs.len()), (3, 0));
        assert!(decode_answer(&a[..a.len() - 3]).is_err());
        assert!(decode_answer(&q).is_err());
    }
}
