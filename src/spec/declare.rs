//! One `[kind."id"]` table → a [`Declared`]: common settings (`title`, `skip`,
//! `when`, `timeout`, `within`), the kind's options and properties, each type-checked against
//! the kind's schema, and the id bound by the kind's constructor.

use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;
use toml::de::DeValue;

use crate::resource::{Kind, OptTy, OptValue, Options};

use super::decl::{Check, Declared};
use super::error::{SpecError, did_you_mean};
use super::matcher::{Ctx, backticked};
use super::when::When;

/// Settings every resource accepts besides its kind's properties and options.
const COMMON: &[&str] = &["title", "skip", "when", "timeout", "within"];

type Node<'i> = Spanned<DeValue<'i>>;

pub(super) fn declare(
    ctx: &Ctx<'_>,
    kind: &'static Kind,
    id_key: &Spanned<std::borrow::Cow<'_, str>>,
    body: &Node<'_>,
) -> Result<Declared, Vec<SpecError>> {
    let id = id_key.get_ref().to_string();
    let DeValue::Table(table) = body.get_ref() else {
        return Err(vec![ctx.error(
            body.span(),
            format!("`{} {id}` must be a table of properties", kind.key),
            &format!(
                "write `[{}.\"{id}\"]` and the properties below it",
                kind.key
            ),
        )]);
    };
    let mut errors = Vec::new();
    let mut decl_title = None;
    let mut skip = false;
    let mut when = None;
    let mut timeout = None;
    let mut within = None;
    let mut options = Options::new();
    let mut checks = Vec::new();
    for (key, value) in table {
        let name = key.get_ref().as_ref();
        let result =
            match name {
                "title" => str_setting(ctx, name, value).map(|t| decl_title = Some(t)),
                "skip" => match value.get_ref() {
                    DeValue::Boolean(b) => {
                        skip = *b;
                        Ok(())
                    }
                    other => Err(type_error(ctx, name, "a boolean", "true", other, value)),
                },
                "timeout" => {
                    duration(ctx, name, value).and_then(|d| {
                        if d.is_zero() {
                            // A zero limit would turn every check into a timeout error.
                            Err(ctx
                        .error(value.span(), "`timeout` must be longer than 0s".into(), "zero")
                        .help("write e.g. `timeout = \"10s\"`, or leave it out for the default"))
                        } else {
                            timeout = Some(d);
                            Ok(())
                        }
                    })
                }
                "within" => duration(ctx, name, value).map(|d| within = Some(d)),
                "when" => condition(ctx, value).map(|w| when = Some(w)),
                _ => {
                    if let Some(prop) = kind.prop(name) {
                        ctx.expect(name, prop.ty, value).map(|expect| {
                            checks.push(Check {
                                prop,
                                expect,
                                location: ctx.source.location(key.span().start),
                            });
                        })
                    } else if let Some(opt) = kind.option(name) {
                        option(ctx, name, opt.ty, value).map(|v| options.insert(name, v))
                    } else {
                        Err(unknown_property(ctx, kind, key))
                    }
                }
            };
        if let Err(e) = result {
            errors.push(e);
        }
    }
    let resource = match (kind.new)(&id, &options) {
        Ok(r) => Some(r),
        Err(why) => {
            errors.push(ctx.error(
                id_key.span(),
                format!("invalid `{}` id `{id}`", kind.key),
                &why,
            ));
            None
        }
    };
    if checks.is_empty() && errors.is_empty() {
        let first = kind.props.first().map_or("exists", |p| p.name);
        errors.push(
            ctx.error(
                id_key.span(),
                format!("`{} {id}` checks nothing", kind.key),
                "no property to check",
            )
            .help(format!(
                "add a property to check, e.g. `{first} = ...`; `{}` checks {}",
                kind.key,
                backticked(&kind.props.iter().map(|p| p.name).collect::<Vec<_>>())
            )),
        );
    }
    match resource {
        Some(resource) if errors.is_empty() => Ok(Declared {
            location: ctx.source.location(id_key.span().start),
            kind,
            id,
            title: decl_title,
            skip,
            when,
            timeout,
            within,
            checks,
            resource: Arc::from(resource),
        }),
        _ => Err(errors),
    }
}

fn unknown_property(
    ctx: &Ctx<'_>,
    kind: &Kind,
    key: &Spanned<std::borrow::Cow<'_, str>>,
) -> SpecError {
    let names: Vec<&str> = kind
        .props
        .iter()
        .map(|p| p.name)
        .chain(kind.options.iter().map(|o| o.name))
        .chain(COMMON.iter().copied())
        .collect();
    let name = key.get_ref();
    let label = did_you_mean(name, names.iter().copied()).map_or_else(
        || format!("expected one of {}", backticked(&names)),
        |p| format!("did you mean `{p}`?"),
    );
    ctx.error(
        key.span(),
        format!("unknown property `{name}` for `{}`", kind.key),
        &label,
    )
}

fn type_error(
    ctx: &Ctx<'_>,
    name: &str,
    want: &str,
    example: &str,
    found: &DeValue<'_>,
    node: &Node<'_>,
) -> SpecError {
    ctx.error(
        node.span(),
        format!("`{name}` must be {want}, found {}", found.type_str()),
        &format!("expected {want}"),
    )
    .help(format!("write e.g. `{name} = {example}`"))
}

/// A value of type `ty` as a user could write it.
fn option_example(ty: OptTy) -> &'static str {
    match ty {
        OptTy::Str => "\"...\"",
        OptTy::Bool => "true",
        OptTy::Int => "0",
        OptTy::Duration => "\"20s\"",
        OptTy::StrList => "[\"...\", \"...\"]",
        OptTy::StrMap => "{ KEY = \"...\" }",
    }
}

/// `when = "EXPR"`, parsed; a mistake points at its place inside the string.
fn condition(ctx: &Ctx<'_>, node: &Node<'_>) -> Result<When, SpecError> {
    let text = str_setting(ctx, "when", node)?;
    When::parse(&text).map_err(|e| {
        ctx.error(
            ctx.source.inside(&node.span(), &text, &e.range),
            e.message,
            &e.label,
        )
        .help(e.help)
    })
}

fn str_setting(ctx: &Ctx<'_>, name: &str, node: &Node<'_>) -> Result<String, SpecError> {
    match node.get_ref() {
        DeValue::String(s) => Ok(s.to_string()),
        other => Err(type_error(ctx, name, "a string", "\"...\"", other, node)),
    }
}

/// The longest time limit a spec, a suite or the command line may give: a year. Longer
/// ones are surely typing mistakes, and past a few billion years `Instant` arithmetic
/// overflows.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// A duration as the command line takes it (`30s`, `1m 30s`), at most [`MAX_DURATION`].
///
/// # Errors
///
/// Says what is wrong with the text, or that it is longer than a year.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if d > MAX_DURATION {
        return Err(format!(
            "`{text}` is longer than a year; give a limit under a year"
        ));
    }
    Ok(d)
}

fn duration(ctx: &Ctx<'_>, name: &str, node: &Node<'_>) -> Result<Duration, SpecError> {
    let invalid = || {
        ctx.error(
            node.span(),
            format!("invalid duration for `{name}`"),
            "not a duration",
        )
        .help(format!(
            "write a number and a unit: `{name} = \"20s\"`, \"500ms\" or \"1m 30s\""
        ))
    };
    let too_long = |d: Duration| {
        if d > MAX_DURATION {
            Err(ctx
                .error(
                    node.span(),
                    format!("`{name}` is longer than a year"),
                    "too long",
                )
                .help(format!(
                    "a wait that long never ends a run; give `{name}` a limit under a year, such as \"10m\""
                )))
        } else {
            Ok(d)
        }
    };
    match node.get_ref() {
        DeValue::String(s) => humantime::parse_duration(s)
            .map_err(|_| invalid())
            .and_then(too_long),
        DeValue::Integer(i) => i
            .as_str()
            .parse::<u64>()
            .ok()
            .filter(|_| i.radix() == 10)
            .map(Duration::from_secs)
            .ok_or_else(invalid)
            .and_then(too_long),
        other => Err(type_error(
            ctx,
            name,
            "a duration such as \"20s\"",
            "\"20s\"",
            other,
            node,
        )),
    }
}

fn option(ctx: &Ctx<'_>, name: &str, ty: OptTy, node: &Node<'_>) -> Result<OptValue, SpecError> {
    let mismatch = || {
        type_error(
            ctx,
            name,
            ty.name(),
            option_example(ty),
            node.get_ref(),
            node,
        )
    };
    Ok(match (ty, node.get_ref()) {
        (OptTy::Str, DeValue::String(s)) => OptValue::Str(s.to_string()),
        (OptTy::Bool, DeValue::Boolean(b)) => OptValue::Bool(*b),
        (OptTy::Int, DeValue::Integer(i)) => {
            OptValue::Int(i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| mismatch())?)
        }
        (OptTy::Duration, _) => OptValue::Duration(duration(ctx, name, node)?),
        (OptTy::StrList, DeValue::Array(items)) => OptValue::StrList(
            items
                .iter()
                .map(|item| match item.get_ref() {
                    DeValue::String(s) => Ok(s.to_string()),
                    other => Err(ctx
                        .error(
                            item.span(),
                            format!("`{name}` holds strings, found {}", other.type_str()),
                            "expected a string",
                        )
                        .help("quote every item: `[\"...\", \"...\"]`")),
                })
                .collect::<Result<_, _>>()?,
        ),
        (OptTy::StrMap, DeValue::Table(table)) => OptValue::StrMap(
            table
                .iter()
                .map(|(k, v)| Ok((k.get_ref().to_string(), str_setting(ctx, k.get_ref(), v)?)))
                .collect::<Result<_, SpecError>>()?,
        ),
        _ => return Err(mismatch()),
    })
}
