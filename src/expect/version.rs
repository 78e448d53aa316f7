//! Version ordering (dpkg's algorithm, which also orders rpm and apk versions sensibly)
//! and version constraints such as `>= 1.22, < 2`.

use std::cmp::Ordering;
use std::fmt;

/// A comparison operator in a version constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=` or `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// The operator's spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }

    /// Returns true if and only if `ord` (actual compared with wanted) satisfies the operator.
    pub fn holds(self, ord: Ordering) -> bool {
        match self {
            Self::Eq => ord == Ordering::Equal,
            Self::Ne => ord != Ordering::Equal,
            Self::Lt => ord == Ordering::Less,
            Self::Le => ord != Ordering::Greater,
            Self::Gt => ord == Ordering::Greater,
            Self::Ge => ord != Ordering::Less,
        }
    }
}

/// A conjunction of `op version` clauses, e.g. `>= 1.22, < 1.23`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    clauses: Vec<(Op, String)>,
}

impl Constraint {
    /// Parses a constraint; the error says what is wrong in words.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut clauses = Vec::new();
        for raw in text.split(',') {
            let clause = raw.trim();
            if clause.is_empty() {
                return Err(format!(
                    "empty clause in version constraint `{text}`; write e.g. `>= 1.22, < 2`"
                ));
            }
            let (op, rest) = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("!=", Op::Ne),
                ("==", Op::Eq),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(sym, op)| clause.strip_prefix(sym).map(|rest| (*op, rest)))
            .unwrap_or((Op::Eq, clause));
            let version = rest.trim();
            if version.is_empty() {
                return Err(format!("`{clause}` names no version; write e.g. `>= 1.22`"));
            }
            if let Some(bad) = version
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || ".+-~:_".contains(*c)))
            {
                return Err(format!(
                    "`{version}` is not a version (unexpected `{bad}`); write e.g. `>= 1.22, < 2`"
                ));
            }
            clauses.push((op, version.to_string()));
        }
        Ok(Self { clauses })
    }

    /// Returns true if and only if `actual` satisfies every clause.
    pub fn matches(&self, actual: &str) -> bool {
        self.clauses
            .iter()
            .all(|(op, wanted)| op.holds(compare(actual, wanted)))
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .clauses
            .iter()
            .map(|(op, v)| format!("{} {v}", op.symbol()))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Orders two version strings as dpkg does: epoch, then upstream, then revision.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua, ub))
        .then_with(|| verrevcmp(ra, rb))
}

fn split(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (e.parse().unwrap_or(0), rest)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// The weight of a non-digit character: `~` sorts before everything, even the end.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let bc = order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let si = i;
        let sj = j;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (da, db) = (&a[si..i], &b[sj..j]);
        let ord = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_ordering() {
        use Ordering::{Equal, Greater, Less};
        for (a, b, want) in [
            ("1.22.1-1", "1.22", Greater),
            ("1.22", "1.22.0", Less),
            ("1.0~rc1", "1.0", Less),
            ("1:0.9", "2.0", Greater),
            ("2.10", "2.9", Greater),
            ("1.0-1", "1.0-1", Equal),
            ("1.0a", "1.0", Greater),
            ("1.0+deb12u1", "1.0", Greater),
            ("3.0.11-1~deb12u2", "3.0.11-1", Less),
            ("1.2.3-r0", "1.2.3-r1", Less),
            ("001", "1", Equal),
        ] {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn constraints() {
        let c = Constraint::parse(">= 1.22, < 1.23").unwrap();
        assert!(c.matches("1.22.1-1~deb12u1"));
        assert!(!c.matches("1.23.0"));
        assert!(!c.matches("1.21.9"));
        assert_eq!(c.to_string(), ">= 1.22, < 1.23");
        assert!(Constraint::parse("1.2").unwrap().matches("1.2"));
        assert!(Constraint::parse("!= 1.2").unwrap().matches("1.3"));
    }

    #[test]
    fn bad_constraints_say_why() {
        assert!(
            Constraint::parse(">=")
                .unwrap_err()
                .contains("names no version")
        );
        assert!(
            Constraint::parse("1.2,")
                .unwrap_err()
                .contains("empty clause")
        );
        assert!(
            Constraint::parse("~> 1 2")
                .unwrap_err()
                .contains("not a version")
        );
    }
}
