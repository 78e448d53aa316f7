//! Expected values and matchers, and how they judge an observed value.
//!
//! Matchers are built (and every regex compiled) when the spec is loaded; judging is
//! pure and happens after the facts have been gathered.

pub mod version;

use std::fmt;

use regex::Regex;

pub use version::Constraint;

/// The type of a property's observed value; decides which matchers a spec may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `true` or `false`.
    Bool,
    /// A whole number.
    Int,
    /// A short text, e.g. an owner or a version.
    Str,
    /// A set of texts, e.g. a user's groups: order and repeats do not matter.
    List,
    /// Words in order, e.g. a command and its arguments: equal only word for word.
    Words,
    /// Permission bits, observed as four octal digits (`"0644"`); specs may write
    /// `"644"`, `"0644"`, `644` or `0o644`.
    Mode,
    /// Long text (file content, command output). The property's plain value is a
    /// list of patterns that must all be found: a string is a substring, a table a matcher.
    Patterns,
}

impl Ty {
    /// How the type reads in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bool => "a boolean",
            Self::Int => "an integer",
            Self::Str => "a string",
            Self::List => "a list of strings",
            Self::Words => "a list of words, in order",
            Self::Mode => "an octal mode such as \"0644\"",
            Self::Patterns => "a string or a list of strings and matchers",
        }
    }
}

/// An observed value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A text.
    Str(String),
    /// A set of texts.
    List(Vec<String>),
    /// Words in order.
    Words(Vec<String>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Str(s) => write!(f, "{}", shorten(s)),
            Self::List(items) | Self::Words(items) => {
                let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
                write!(f, "[{}]", quoted.join(", "))
            }
        }
    }
}

/// Quotes a text for messages, cutting long ones so a report stays readable.
fn shorten(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head:?}… ({} bytes)", s.len())
    }
}

/// A comparison with a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `lt`
    Lt,
    /// `le`
    Le,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
}

impl Cmp {
    fn symbol(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }

    fn holds(self, actual: f64, wanted: f64) -> bool {
        match self {
            Self::Lt => actual < wanted,
            Self::Le => actual <= wanted,
            Self::Gt => actual > wanted,
            Self::Ge => actual >= wanted,
        }
    }
}

/// What a property must be: a plain value or a matcher.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Expect {
    /// Equal to this value (lists: the same set of items).
    Equal(Value),
    /// A regex that must find a match (multi-line: `^` and `$` match at line ends).
    Matches(Regex),
    /// Every item must be contained: a substring of a text, or an item of a list.
    /// A matcher item must hold for the whole text, or for some item of a list.
    Contains(Vec<Expect>),
    /// The inner expectation must not hold.
    Not(Box<Expect>),
    /// Equal to one of these values.
    OneOf(Vec<Value>),
    /// A numeric comparison (texts are read as numbers).
    Cmp(Cmp, i64),
    /// A version constraint.
    Version(Constraint),
    /// Every one must hold.
    All(Vec<Expect>),
    /// At least one must hold.
    Any(Vec<Expect>),
}

impl Expect {
    /// Returns true if and only if `actual` satisfies this expectation.
    pub fn holds(&self, actual: &Value) -> bool {
        match self {
            Self::Equal(want) => equal(want, actual),
            Self::Matches(re) => match actual {
                Value::Str(s) => re.is_match(s),
                Value::List(items) | Value::Words(items) => items.iter().any(|s| re.is_match(s)),
                other => re.is_match(&other.to_string()),
            },
            Self::Contains(items) => items.iter().all(|item| contains(item, actual)),
            Self::Not(inner) => !inner.holds(actual),
            Self::OneOf(values) => values.iter().any(|v| equal(v, actual)),
            Self::Cmp(op, wanted) => number(actual).is_some_and(|n| {
                #[expect(clippy::cast_precision_loss, reason = "spec numbers are small")]
                let wanted = *wanted as f64;
                op.holds(n, wanted)
            }),
            Self::Version(c) => match actual {
                Value::Str(s) => c.matches(s),
                Value::List(items) | Value::Words(items) => items.iter().any(|s| c.matches(s)),
                _ => false,
            },
            Self::All(all) => all.iter().all(|e| e.holds(actual)),
            Self::Any(any) => any.iter().any(|e| e.holds(actual)),
        }
    }
}

fn equal(want: &Value, actual: &Value) -> bool {
    match (want, actual) {
        (Value::List(w), Value::List(a)) => {
            let mut w: Vec<&String> = w.iter().collect();
            let mut a: Vec<&String> = a.iter().collect();
            w.sort();
            w.dedup();
            a.sort();
            a.dedup();
            w == a
        }
        (Value::Words(w), Value::Words(a)) => w == a,
        (Value::Int(w), Value::Str(a)) => a.trim() == w.to_string(),
        (Value::Str(w), Value::Int(a)) => w.trim() == a.to_string(),
        (w, a) => w == a,
    }
}

fn contains(item: &Expect, actual: &Value) -> bool {
    match (item, actual) {
        (Expect::Equal(Value::Str(needle)), Value::Str(hay)) => hay.contains(needle.as_str()),
        (Expect::Equal(want), Value::List(items) | Value::Words(items)) => {
            items.iter().any(|s| equal(want, &Value::Str(s.clone())))
        }
        (matcher, Value::List(items) | Value::Words(items)) => {
            items.iter().any(|s| matcher.holds(&Value::Str(s.clone())))
        }
        (matcher, other) => matcher.holds(other),
    }
}

fn number(actual: &Value) -> Option<f64> {
    match actual {
        #[expect(clippy::cast_precision_loss, reason = "observed numbers are small")]
        Value::Int(i) => Some(*i as f64),
        Value::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Equal(v) => write!(f, "{v}"),
            Self::Matches(re) => write!(f, "matches /{}/", re.as_str()),
            Self::Contains(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|i| match i {
                        Self::Equal(v) => format!("contains {v}"),
                        other => other.to_string(),
                    })
                    .collect();
                f.write_str(&parts.join(" and "))
            }
            Self::Not(inner) => write!(f, "not {inner}"),
            Self::OneOf(values) => {
                let parts: Vec<String> = values.iter().map(ToString::to_string).collect();
                write!(f, "one of [{}]", parts.join(", "))
            }
            Self::Cmp(op, n) => write!(f, "{} {n}", op.symbol()),
            Self::Version(c) => write!(f, "version {c}"),
            Self::All(all) => join(f, "all of", all),
            Self::Any(any) => join(f, "any of", any),
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, word: &str, items: &[Expect]) -> fmt::Result {
    let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
    write!(f, "{word} ({})", parts.join("; "))
}

/// Compiles a spec regex: multi-line, so `^user` finds a line of a file.
pub fn regex(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern).multi_line(true).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    #[test]
    fn equality_and_sets() {
        assert!(Expect::Equal(Value::Int(33)).holds(&Value::Int(33)));
        assert!(Expect::Equal(Value::Int(0)).holds(&s("0")));
        let cmd = Value::Words(vec!["sh".into(), "-c".into(), "sh".into()]);
        assert!(Expect::Equal(cmd.clone()).holds(&cmd));
        assert!(!Expect::Equal(Value::Words(vec!["sh".into(), "-c".into()])).holds(&cmd));
        assert!(
            !Expect::Equal(Value::Words(vec!["-c".into(), "sh".into(), "sh".into()])).holds(&cmd)
        );
        let groups = Value::List(vec!["b".into(), "a".into()]);
        assert!(Expect::Equal(Value::List(vec!["a".into(), "b".into()])).holds(&groups));
        assert!(!Expect::Equal(Value::List(vec!["a".into()])).holds(&groups));
    }

    #[test]
    fn contains_on_text_and_lists() {
        let content = s("user www-data;\nworker_processes auto;\n");
        let items = Expect::Contains(vec![
            Expect::Equal(s("worker_processes")),
            Expect::Matches(regex(r"^user\s+www-data;").unwrap()),
        ]);
        assert!(items.holds(&content));
        assert!(!Expect::Contains(vec![Expect::Equal(s("gzip"))]).holds(&content));
        let groups = Value::List(vec!["sudo".into(), "www-data".into()]);
        assert!(Expect::Contains(vec![Expect::Equal(s("www-data"))]).holds(&groups));
        assert!(!Expect::Contains(vec![Expect::Equal(s("www"))]).holds(&groups));
        assert!(Expect::Contains(vec![Expect::Matches(regex("^www").unwrap())]).holds(&groups));
    }

    #[test]
    fn numbers_versions_and_logic() {
        assert!(Expect::Cmp(Cmp::Lt, 10).holds(&Value::Int(3)));
        assert!(Expect::Cmp(Cmp::Ge, 3).holds(&s("3")));
        assert!(!Expect::Cmp(Cmp::Gt, 3).holds(&s("abc")));
        let v = Expect::Version(Constraint::parse(">= 1.22").unwrap());
        assert!(v.holds(&s("1.22.1-1")));
        assert!(Expect::Not(Box::new(v.clone())).holds(&s("1.18.0")));
        let any = Expect::Any(vec![Expect::Equal(s("a")), Expect::Equal(s("b"))]);
        assert!(any.holds(&s("b")));
        assert!(Expect::OneOf(vec![s("x"), s("y")]).holds(&s("y")));
        let all = Expect::All(vec![Expect::Cmp(Cmp::Gt, 1), Expect::Cmp(Cmp::Lt, 5)]);
        assert!(all.holds(&Value::Int(2)));
        assert!(!all.holds(&Value::Int(7)));
    }

    #[test]
    fn descriptions_read_as_expectations() {
        let e = Expect::Contains(vec![
            Expect::Equal(s("a")),
            Expect::Matches(regex("^b").unwrap()),
        ]);
        assert_eq!(e.to_string(), r#"contains "a" and matches /^b/"#);
        assert_eq!(
            Expect::Not(Box::new(Expect::Equal(Value::Int(0)))).to_string(),
            "not 0"
        );
        let long = "x".repeat(300);
        assert!(s(&long).to_string().ends_with("… (300 bytes)"));
    }
}
