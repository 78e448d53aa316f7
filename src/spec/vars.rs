//! Variables in spec files: `${NAME}` in string values and resource ids, replaced
//! after TOML parsing (so a value cannot change the file's structure, and integers
//! stay integers), before anything is type-checked. `$${` writes a literal `${`.
//!
//! Values come from, lowest precedence first: the suite's `[vars]` table, the
//! environment, and `--var KEY=VALUE` (or [`Vars::set`] in the library).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::SpecError;
use super::matcher::Ctx;

/// Where the environment's part of [`Vars`] comes from.
#[derive(Clone, Debug)]
enum Env {
    /// The process environment, read when a variable is looked up.
    Process,
    /// A fixed set (tests; a library caller that wants no environment).
    Fixed(BTreeMap<String, String>),
}

/// The values `${NAME}` may take.
#[derive(Clone, Debug)]
pub struct Vars {
    /// `--var` and [`Vars::set`]: the highest precedence.
    set: BTreeMap<String, String>,
    env: Env,
    /// The suite's `[vars]`: the lowest.
    suite: BTreeMap<String, String>,
}

impl Default for Vars {
    fn default() -> Self {
        Self::from_env()
    }
}

impl Vars {
    /// The process environment, nothing else yet.
    pub fn from_env() -> Self {
        Self {
            set: BTreeMap::new(),
            env: Env::Process,
            suite: BTreeMap::new(),
        }
    }

    /// No variable at all, not even the environment's.
    pub fn none() -> Self {
        Self {
            set: BTreeMap::new(),
            env: Env::Fixed(BTreeMap::new()),
            suite: BTreeMap::new(),
        }
    }

    /// Sets `name`, over the environment and the suite (`--var NAME=VALUE`).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.set.insert(name.into(), value.into());
    }

    /// These variables with a suite's `[vars]` under them.
    #[must_use]
    pub fn with_suite(&self, suite: BTreeMap<String, String>) -> Self {
        Self {
            suite,
            ..self.clone()
        }
    }

    /// The value of `name`, if it has one.
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        if let Some(v) = self.set.get(name) {
            return Some(Cow::Borrowed(v));
        }
        let env = match &self.env {
            Env::Process => std::env::var(name).ok().map(Cow::Owned),
            Env::Fixed(map) => map.get(name).map(|v| Cow::Borrowed(v.as_str())),
        };
        env.or_else(|| self.suite.get(name).map(|v| Cow::Borrowed(v.as_str())))
    }

    #[cfg(test)]
    fn with_env(mut self, env: &[(&str, &str)]) -> Self {
        self.env = Env::Fixed(
            env.iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        );
        self
    }
}

/// Parses `KEY=VALUE`, as `--var` takes it.
///
/// # Errors
///
/// Says what to write when there is no `=` or the name is not a variable name.
pub fn parse_var(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected `KEY=VALUE`, found `{s}`"))?;
    if !is_name(name) {
        return Err(format!(
            "`{name}` is not a variable name: use letters, digits and `_`, not starting with a digit"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// Returns true if and only if `name` can be written as `${name}`.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Why a string could not be expanded, and where in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExpandError {
    /// The bytes of the string at fault.
    pub(crate) range: Range<usize>,
    pub(crate) problem: Problem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// `${NAME}` with no value.
    Unknown(String),
    /// `${` without `}`.
    Unclosed,
    /// `${...}` whose inside is not a name.
    BadName(String),
}

/// `text` with every `${NAME}` replaced and every `$${` made `${`.
pub(crate) fn expand<'t>(text: &'t str, vars: &Vars) -> Result<Cow<'t, str>, ExpandError> {
    if !text.contains("${") {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    let mut at = 0;
    while let Some(found) = text[at..].find("${") {
        let start = at + found;
        if start > 0 && text.as_bytes()[start - 1] == b'$' {
            // `$${`: the first `$` escapes; keep `${` and go on after it.
            out.push_str(&text[rest..start - 1]);
            out.push_str("${");
            rest = start + 2;
            at = start + 2;
            continue;
        }
        let Some(len) = text[start + 2..].find('}') else {
            return Err(ExpandError {
                range: start..text.len(),
                problem: Problem::Unclosed,
            });
        };
        let end = start + 2 + len + 1;
        let name = &text[start + 2..end - 1];
        if !is_name(name) {
            return Err(ExpandError {
                range: start..end,
                problem: Problem::BadName(name.to_string()),
            });
        }
        let value = vars.get(name).ok_or_else(|| ExpandError {
            range: start..end,
            problem: Problem::Unknown(name.to_string()),
        })?;
        out.push_str(&text[rest..start]);
        out.push_str(&value);
        rest = end;
        at = end;
    }
    out.push_str(&text[rest..]);
    Ok(Cow::Owned(out))
}

/// The spec error for `e`, found in the string value at `span` whose text is `text`.
pub(super) fn error(ctx: &Ctx<'_>, span: &Range<usize>, text: &str, e: &ExpandError) -> SpecError {
    let at = ctx.source.inside(span, text, &e.range);
    match &e.problem {
        Problem::Unknown(name) => ctx
            .error(at, format!("unknown variable `{name}`"), "not defined")
            .help(format!(
                "define it in the suite's `[vars]` table, in the environment, or with \
                 `--var {name}=VALUE`; write `$${{` for a literal `${{`"
            )),
        Problem::Unclosed => ctx
            .error(at, "unclosed `${` in a value".into(), "no `}` after this")
            .help("write `${NAME}`, or `$${` for a literal `${`"),
        Problem::BadName(name) => ctx
            .error(
                at,
                format!("`${{{name}}}` is not a variable"),
                "not a variable name",
            )
            .help(
                "variable names are letters, digits and `_` (`${WEB_PORT}`); \
                 write `$${` for a literal `${`, e.g. for the target's shell",
            ),
    }
}

type Node<'i> = Spanned<DeValue<'i>>;

/// Expands every string value below `node`, at any depth (not the keys).
pub(super) fn expand_values(
    ctx: &Ctx<'_>,
    node: &mut Node<'_>,
    vars: &Vars,
    errors: &mut Vec<(usize, SpecError)>,
) {
    let span = node.span();
    match node.get_mut() {
        DeValue::String(s) => match expand(s, vars) {
            Ok(Cow::Owned(new)) => *s = Cow::Owned(new),
            Ok(Cow::Borrowed(_)) => {}
            Err(e) => errors.push((span.start, error(ctx, &span, s, &e))),
        },
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                expand_values(ctx, item, vars, errors);
            }
        }
        DeValue::Table(table) => {
            for (_, value) in table.iter_mut() {
                expand_values(ctx, value, vars, errors);
            }
        }
        _ => {}
    }
}

/// The value of a `[vars]` string: taken as written, but for `$${`, which is `${`.
/// A `${NAME}` in it is an error: `[vars]` values are not expanded, so it would stay
/// in the value as text, which is not what its author meant.
fn own_value(ctx: &Ctx<'_>, span: &Range<usize>, text: &str) -> Result<String, SpecError> {
    match expand(text, &Vars::none()) {
        Ok(value) => Ok(value.into_owned()),
        Err(ExpandError {
            range,
            problem: Problem::Unknown(name),
        }) => Err(ctx
            .error(
                ctx.source.inside(span, text, &range),
                format!("`[vars]` values are not expanded: `${{{name}}}` would stay as text"),
                "not expanded",
            )
            .help(
                "write the value in full (the environment or `--var` can still override \
                 the whole variable), or `$${` for a literal `${`",
            )),
        Err(e) => Err(error(ctx, span, text, &e)),
    }
}

/// What [`in_suite`] found: the suite's own `[vars]`, the problems, and where a
/// value could not be expanded.
pub(super) struct InSuite {
    /// The `[vars]` table.
    pub(super) own: BTreeMap<String, String>,
    /// Problems of `[vars]` and of expanding the other tables' values.
    pub(super) errors: Vec<SpecError>,
    /// The tables (`("target", Some("web"))`, or `("defaults", None)` for a whole
    /// top-level value) holding a value that could not be expanded: a `${X}` left in
    /// place would only add a second, misleading error, so they are not type-checked.
    pub(super) unexpanded: Vec<(String, Option<String>)>,
}

/// A suite's `[vars]` (strings, integers or booleans, taken as text), and every
/// string value of its other tables expanded with `vars` over them. Errors come with
/// the suite's other problems.
pub(super) fn in_suite(ctx: &Ctx<'_>, doc: &mut DeTable<'_>, vars: &Vars) -> InSuite {
    let mut errors = Vec::new();
    let mut own = BTreeMap::new();
    if let Some(table) = doc.get("vars") {
        match table.get_ref() {
            DeValue::Table(table) => {
                for (key, value) in table {
                    let name = key.get_ref();
                    let text = match value.get_ref() {
                        DeValue::String(s) => match own_value(ctx, &value.span(), s) {
                            Ok(text) => text,
                            Err(e) => {
                                errors.push(e);
                                continue;
                            }
                        },
                        // `0x10` is 16: the digits alone would be read as decimal.
                        DeValue::Integer(i) => {
                            if let Ok(n) = i64::from_str_radix(i.as_str(), i.radix()) {
                                n.to_string()
                            } else {
                                errors.push(
                                    ctx.error(
                                        value.span(),
                                        format!("variable `{name}` is out of range"),
                                        "not a 64-bit integer",
                                    )
                                    .help(format!("write it as a string: `{name} = \"...\"`")),
                                );
                                continue;
                            }
                        }
                        DeValue::Boolean(b) => b.to_string(),
                        other => {
                            errors.push(
                                ctx.error(
                                    value.span(),
                                    format!(
                                        "variable `{name}` must be a string, found {}",
                                        other.type_str()
                                    ),
                                    "expected a string",
                                )
                                .help(format!("write e.g. `{name} = \"...\"`")),
                            );
                            continue;
                        }
                    };
                    if !is_name(name) {
                        errors.push(ctx.error(
                            key.span(),
                            format!("`{name}` is not a variable name"),
                            "use letters, digits and `_`, not starting with a digit",
                        ));
                        continue;
                    }
                    own.insert(name.to_string(), text);
                }
            }
            other => errors.push(ctx.error(
                table.span(),
                format!("`vars` must be a table, found {}", other.type_str()),
                "write `[vars]` and `NAME = \"value\"` lines below it",
            )),
        }
    }
    let vars = vars.with_suite(own.clone());
    let mut found = Vec::new();
    let mut unexpanded = Vec::new();
    for (key, value) in doc.iter_mut() {
        let key = key.get_ref().to_string();
        if key == "vars" {
            continue;
        }
        if let DeValue::Table(table) = value.get_mut() {
            for (name, body) in table.iter_mut() {
                let before = found.len();
                expand_values(ctx, body, &vars, &mut found);
                if found.len() > before {
                    unexpanded.push((key.clone(), Some(name.get_ref().to_string())));
                }
            }
        } else {
            let before = found.len();
            expand_values(ctx, value, &vars, &mut found);
            if found.len() > before {
                unexpanded.push((key, None));
            }
        }
    }
    errors.extend(found.into_iter().map(|(_, e)| e));
    InSuite {
        own,
        errors,
        unexpanded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut v = Vars::none().with_env(&[("HOST", "env-host"), ("PORT", "8080")]);
        v.set("USER", "deploy");
        v
    }

    #[test]
    fn names_are_replaced_and_escapes_kept_literal() {
        let v = vars();
        assert_eq!(expand("plain", &v).unwrap(), "plain");
        assert!(matches!(expand("plain", &v).unwrap(), Cow::Borrowed(_)));
        assert_eq!(
            expand("http://${HOST}:${PORT}/", &v).unwrap(),
            "http://env-host:8080/"
        );
        assert_eq!(expand("${USER}${USER}", &v).unwrap(), "deploydeploy");
        assert_eq!(expand("$${HOST} $$x $x", &v).unwrap(), "${HOST} $$x $x");
        assert_eq!(expand("a$$${HOST}", &v).unwrap(), "a$${HOST}");
        assert_eq!(expand("$HOST {HOST}", &v).unwrap(), "$HOST {HOST}");
    }

    #[test]
    fn problems_say_where() {
        let v = vars();
        assert_eq!(
            expand("ab ${NOPE} ${HOST}", &v),
            Err(ExpandError {
                range: 3..10,
                problem: Problem::Unknown("NOPE".into())
            })
        );
        assert_eq!(
            expand("x ${HOST", &v).unwrap_err(),
            ExpandError {
                range: 2..8,
                problem: Problem::Unclosed
            }
        );
        assert_eq!(
            expand("${db:Status}", &v).unwrap_err().problem,
            Problem::BadName("db:Status".into())
        );
        assert_eq!(
            expand("${}", &v).unwrap_err().problem,
            Problem::BadName(String::new())
        );
    }

    #[test]
    fn set_beats_environment_beats_suite() {
        let mut v = Vars::none()
            .with_env(&[("A", "env"), ("B", "env")])
            .with_suite(
                [("A", "suite"), ("B", "suite"), ("C", "suite")]
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .into(),
            );
        v.set("A", "set");
        assert_eq!(expand("${A} ${B} ${C}", &v).unwrap(), "set env suite");
    }

    /// The `[vars]` of a suite's text, or its errors as printed.
    fn own(text: &str) -> Result<BTreeMap<String, String>, String> {
        let source = crate::spec::Source {
            path: std::sync::Arc::from(std::path::Path::new("ispec.toml")),
            text: std::sync::Arc::from(text),
        };
        let ctx = Ctx { source: &source };
        let mut doc = DeTable::parse(text).unwrap();
        let found = in_suite(&ctx, doc.get_mut(), &Vars::none());
        if found.errors.is_empty() {
            Ok(found.own)
        } else {
            Err(crate::spec::SpecErrors(found.errors).to_string())
        }
    }

    #[test]
    fn suite_vars_integers_keep_their_radix() {
        let vars =
            own("[vars]\nHEX = 0x10\nOCT = 0o17\nBIN = 0b101\nBIG = 1_000\nNEG = -3\n").unwrap();
        let got: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            [
                ("BIG", "1000"),
                ("BIN", "5"),
                ("HEX", "16"),
                ("NEG", "-3"),
                ("OCT", "15")
            ]
        );
    }

    #[test]
    fn suite_vars_are_not_expanded() {
        assert_eq!(
            own("[vars]\nA = \"x\"\nB = \"${A}/y\"\n").unwrap_err(),
            "\
error: `[vars]` values are not expanded: `${A}` would stay as text
 --> ispec.toml:3:6
  |
3 | B = \"${A}/y\"
  |      ^^^^ not expanded
  = help: write the value in full (the environment or `--var` can still override the whole variable), or `$${` for a literal `${`
"
        );
        assert_eq!(own("[vars]\nB = \"$${A}\"\n").unwrap()["B"], "${A}");
    }

    #[test]
    fn var_flags_parse() {
        assert_eq!(parse_var("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert_eq!(parse_var("A="), Ok(("A".into(), String::new())));
        assert!(parse_var("A").unwrap_err().contains("KEY=VALUE"));
        assert!(
            parse_var("1A=x")
                .unwrap_err()
                .contains("not a variable name")
        );
    }
}
