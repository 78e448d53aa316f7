//! Spec values → [`Expect`]: plain values and one-key matcher tables, type-checked
//! against the property they apply to, every regex compiled here.

use toml::Spanned;
use toml::de::DeValue;

use crate::expect::{self, Cmp, Constraint, Expect, Ty, Value};

use super::error::{SpecError, did_you_mean};
use super::source::Source;

const MATCHERS: &[&str] = &[
    "matches", "contains", "not", "lt", "le", "gt", "ge", "one-of", "version", "all", "any",
];

type Node<'i> = Spanned<DeValue<'i>>;

/// Builds errors that point into one source.
pub(super) struct Ctx<'a> {
    pub(super) source: &'a Source,
}

impl Ctx<'_> {
    pub(super) fn error(
        &self,
        node_span: std::ops::Range<usize>,
        message: String,
        label: &str,
    ) -> SpecError {
        SpecError {
            message,
            snippet: Some(self.source.snippet(&node_span, label)),
            help: None,
        }
    }

    /// Parses what property `prop` of type `ty` must be.
    pub(super) fn expect(&self, prop: &str, ty: Ty, node: &Node<'_>) -> Result<Expect, SpecError> {
        match (node.get_ref(), ty) {
            (DeValue::Table(_), _) => self.matcher(prop, ty, node),
            (DeValue::String(s), Ty::Patterns) => Ok(Expect::Contains(vec![Expect::Equal(
                Value::Str(s.to_string()),
            )])),
            (DeValue::Array(items), Ty::Patterns) => items
                .iter()
                .map(|item| self.expect(prop, Ty::Str, item))
                .collect::<Result<_, _>>()
                .map(Expect::Contains),
            _ => self.literal(prop, ty, node).map(Expect::Equal),
        }
    }

    /// Permission bits written in octal digits, normalized to four (`644` → `"0644"`).
    fn mode(&self, prop: &str, digits: &str, node: &Node<'_>) -> Result<Value, SpecError> {
        match u32::from_str_radix(digits, 8) {
            Ok(bits) if bits <= 0o7777 => Ok(Value::Str(format!("{bits:04o}"))),
            _ => Err(self
                .error(
                    node.span(),
                    format!("`{prop}` must be an octal mode such as \"0644\""),
                    "not an octal mode",
                )
                .help("write up to four octal digits (0-7), e.g. `mode = \"0644\"`")),
        }
    }

    fn literal(&self, prop: &str, ty: Ty, node: &Node<'_>) -> Result<Value, SpecError> {
        match (node.get_ref(), ty) {
            (DeValue::Boolean(b), Ty::Bool) => Ok(Value::Bool(*b)),
            (DeValue::Integer(i), Ty::Int | Ty::Str) => {
                let n = i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| {
                    self.error(
                        node.span(),
                        format!("`{prop}` is out of range"),
                        "too large",
                    )
                })?;
                Ok(if ty == Ty::Int {
                    Value::Int(n)
                } else {
                    Value::Str(n.to_string())
                })
            }
            (DeValue::String(s), Ty::Str | Ty::Patterns) => Ok(Value::Str(s.to_string())),
            (DeValue::String(s), Ty::Mode) => self.mode(prop, s.trim_start_matches("0o"), node),
            (DeValue::Integer(i), Ty::Mode) => self.mode(prop, i.as_str(), node),
            (DeValue::Array(items), Ty::List | Ty::Words) => items
                .iter()
                .map(|item| match item.get_ref() {
                    DeValue::String(s) => Ok(s.to_string()),
                    other => Err(self.error(
                        item.span(),
                        format!("`{prop}` holds strings, found {}", other.type_str()),
                        "expected a string",
                    )),
                })
                .collect::<Result<_, _>>()
                .map(if ty == Ty::Words {
                    Value::Words
                } else {
                    Value::List
                }),
            (other, _) => {
                let mut err = self.error(
                    node.span(),
                    format!("`{prop}` must be {}, found {}", ty.name(), other.type_str()),
                    &format!("expected {}", ty.name()),
                );
                let unquoted = match other {
                    DeValue::String(s) => match ty {
                        Ty::Int => s.trim().parse::<i64>().ok().map(|n| n.to_string()),
                        Ty::Bool => ["true", "false"]
                            .contains(&s.trim())
                            .then(|| s.trim().to_string()),
                        _ => None,
                    },
                    _ => None,
                };
                err = if let Some(value) = unquoted {
                    err.help(format!("write it without quotes: `{prop} = {value}`"))
                } else if matches!(ty, Ty::List | Ty::Words) && other.is_str() {
                    err.help(format!(
                        "to check one item write `{prop} = {{ contains = \"...\" }}`"
                    ))
                } else if matches!(other, DeValue::Array(_)) {
                    err.help(format!(
                        "to allow several values write `{prop} = {{ one-of = [...] }}`"
                    ))
                } else {
                    err.help(format!("write e.g. `{prop} = {}`", example(ty)))
                };
                Err(err)
            }
        }
    }

    fn matcher(&self, prop: &str, ty: Ty, node: &Node<'_>) -> Result<Expect, SpecError> {
        let DeValue::Table(table) = node.get_ref() else {
            unreachable!("matcher() is called on tables only");
        };
        // Matchers that make no sense for a type are refused here, not at run time.
        let allowed: &[&str] = match ty {
            Ty::Bool => &["not"],
            Ty::Int => &["not", "lt", "le", "gt", "ge", "one-of", "all", "any"],
            Ty::Str | Ty::Patterns => MATCHERS,
            Ty::List | Ty::Words => &["contains", "not", "matches", "version", "all", "any"],
            Ty::Mode => &["not", "one-of", "matches", "all", "any"],
        };
        let mut entries = table.iter();
        let (Some((key, arg)), None) = (entries.next(), entries.next()) else {
            let help = if !table.is_empty() && allowed.contains(&"all") {
                format!(
                    "to require several matchers at once write \
                     `{prop} = {{ all = [{{ ... }}, {{ ... }}] }}`, one matcher in each table"
                )
            } else {
                format!(
                    "write one matcher, e.g. `{prop} = {{ {} = ... }}`; for `{prop}` use: {}",
                    allowed[0],
                    backticked(allowed)
                )
            };
            return Err(self
                .error(
                    node.span(),
                    format!("a matcher for `{prop}` must have exactly one key"),
                    &format!("found {} keys", table.len()),
                )
                .help(help));
        };
        let name = key.get_ref().as_ref();
        if !MATCHERS.contains(&name) {
            let label = did_you_mean(name, MATCHERS.iter().copied()).map_or_else(
                || "unknown matcher".to_string(),
                |m| format!("did you mean `{m}`?"),
            );
            return Err(self
                .error(key.span(), format!("unknown matcher `{name}`"), &label)
                .help(format!("matchers: {}", backticked(MATCHERS))));
        }
        if !allowed.contains(&name) {
            return Err(self
                .error(
                    key.span(),
                    format!("`{name}` cannot apply to `{prop}`, which is {}", ty.name()),
                    "not for this type",
                )
                .help(format!("for `{prop}` use: {}", backticked(allowed))));
        }
        let inner = if ty == Ty::Patterns { Ty::Str } else { ty };
        match name {
            "matches" => {
                let pattern = self.string(name, arg)?;
                expect::regex(&pattern).map(Expect::Matches).map_err(|e| {
                    self.error(
                        arg.span(),
                        format!("invalid regex for `{prop}`"),
                        &first_line(&e.to_string()),
                    )
                    .help(
                        "escape a literal `(`, `[`, `{`, `.`, `*`, `+` or `?` with `\\`; \
                         in a TOML literal string no other escaping is needed: '^v\\d+\\.'",
                    )
                })
            }
            "version" => {
                let text = self.string(name, arg)?;
                Constraint::parse(&text)
                    .map(Expect::Version)
                    .map_err(|why| {
                        self.error(
                            arg.span(),
                            format!("invalid version constraint for `{prop}`"),
                            &why,
                        )
                        .help(
                            "a constraint is `OPERATOR VERSION` clauses joined by commas; \
                             operators: `=`, `!=`, `<`, `<=`, `>`, `>=`",
                        )
                    })
            }
            "contains" => {
                let items = match arg.get_ref() {
                    DeValue::Array(items) => items.iter().collect(),
                    _ => vec![arg],
                };
                items
                    .into_iter()
                    .map(|item| self.expect(prop, Ty::Str, item))
                    .collect::<Result<_, _>>()
                    .map(Expect::Contains)
            }
            // For patterns (file `contains`), `not = "x"` reads "does not contain x".
            "not" => Ok(Expect::Not(Box::new(self.expect(prop, ty, arg)?))),
            "lt" | "le" | "gt" | "ge" => {
                let DeValue::Integer(i) = arg.get_ref() else {
                    return Err(self.error(
                        arg.span(),
                        format!(
                            "`{name}` takes an integer, found {}",
                            arg.get_ref().type_str()
                        ),
                        "expected an integer",
                    ));
                };
                let n = i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| {
                    self.error(
                        arg.span(),
                        format!("`{name}` takes a 64-bit integer"),
                        "out of range",
                    )
                })?;
                let op = match name {
                    "lt" => Cmp::Lt,
                    "le" => Cmp::Le,
                    "gt" => Cmp::Gt,
                    _ => Cmp::Ge,
                };
                Ok(Expect::Cmp(op, n))
            }
            "one-of" => self
                .array(name, arg)?
                .iter()
                .map(|item| self.literal(prop, inner, item))
                .collect::<Result<_, _>>()
                .map(Expect::OneOf),
            _ => {
                let parts = self
                    .array(name, arg)?
                    .iter()
                    .map(|item| self.expect(prop, ty, item))
                    .collect::<Result<_, _>>()?;
                Ok(if name == "all" {
                    Expect::All(parts)
                } else {
                    Expect::Any(parts)
                })
            }
        }
    }

    fn string(&self, matcher: &str, node: &Node<'_>) -> Result<String, SpecError> {
        match node.get_ref() {
            DeValue::String(s) => Ok(s.to_string()),
            other => Err(self.error(
                node.span(),
                format!("`{matcher}` takes a string, found {}", other.type_str()),
                "expected a string",
            )),
        }
    }

    fn array<'n, 'i>(
        &self,
        matcher: &str,
        node: &'n Node<'i>,
    ) -> Result<&'n [Node<'i>], SpecError> {
        match node.get_ref() {
            DeValue::Array(items) if !items.is_empty() => Ok(items),
            other => Err(self.error(
                node.span(),
                format!(
                    "`{matcher}` takes a non-empty list, found {}",
                    other.type_str()
                ),
                "expected a list such as [\"a\", \"b\"]",
            )),
        }
    }
}

/// A value of type `ty` as a user could write it.
fn example(ty: Ty) -> &'static str {
    match ty {
        Ty::Bool => "true",
        Ty::Int => "0",
        Ty::Str | Ty::Patterns => "\"...\"",
        Ty::List | Ty::Words => "[\"...\", \"...\"]",
        Ty::Mode => "\"0644\"",
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .rfind(|l| l.starts_with("error:"))
        .map_or_else(
            || s.lines().next().unwrap_or_default().to_string(),
            |l| l.trim_start_matches("error:").trim().to_string(),
        )
}

pub(super) fn backticked(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::expect::Value;
    use crate::spec::load_str;

    /// Loads one `file` resource with `body` and judges its first check on `actual`.
    fn holds(body: &str, actual: &str) -> bool {
        let spec = load_str(Path::new("t.toml"), &format!("[file.\"/x\"]\n{body}\n")).unwrap();
        spec.decls[0].checks[0]
            .expect
            .holds(&Value::Str(actual.into()))
    }

    #[test]
    fn modes_are_normalized_octal() {
        for written in [
            "mode = \"0644\"",
            "mode = \"644\"",
            "mode = 644",
            "mode = 0o644",
        ] {
            assert!(holds(written, "0644"), "{written}");
        }
        assert!(holds("mode = { one-of = [600, \"0644\"] }", "0644"));
        assert!(!holds("mode = 600", "0644"));
        let err = load_str(Path::new("t.toml"), "[file.\"/x\"]\nmode = \"0899\"\n").unwrap_err();
        assert_eq!(
            err.0[0].message,
            "`mode` must be an octal mode such as \"0644\""
        );
    }

    #[test]
    fn not_on_patterns_means_does_not_contain() {
        let content = "user www-data;\nworker_processes 4;\n";
        assert!(holds("contains = { not = \"gzip on\" }", content));
        assert!(!holds("contains = { not = \"worker_processes\" }", content));
        assert!(holds(
            "contains = { all = [\"user\", { matches = \"^worker\" }] }",
            content
        ));
        assert!(!holds(
            "contains = { any = [\"gzip\", \"brotli\"] }",
            content
        ));
    }
}
