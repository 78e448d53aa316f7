//! Reading spec files: TOML with spans kept, `[kind."id"]` tables dispatched to the
//! kinds in [`crate::resource::KINDS`], every property type-checked. No target is
//! touched here.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::resource::{self, Kind, OptTy, OptValue, Options};

use super::decl::{Check, Declared, Spec};
use super::error::{SpecError, SpecErrors, did_you_mean};
use super::matcher::{Ctx, backticked};
use super::source::{Location, Source};

/// Settings every resource accepts besides its kind's properties and options.
const COMMON: &[&str] = &["title", "skip", "timeout", "within"];

type Node<'i> = Spanned<DeValue<'i>>;

/// Loads specs from files and folders (every `*.toml` below a folder, sorted).
pub fn load(paths: &[PathBuf]) -> Result<Spec, SpecErrors> {
    let mut errors = Vec::new();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut read = HashSet::new();
    for path in paths {
        match spec_files(path) {
            // A file named twice (`specs/ specs/web.toml`) is read once, not reported as
            // declaring everything twice.
            Ok(found) => {
                files.extend(found.into_iter().filter(|f| {
                    read.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()))
                }));
            }
            Err(e) => errors.push(e),
        }
    }
    let mut spec = Spec::default();
    let mut seen = HashMap::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let source = Source {
                    path: Arc::from(file.as_path()),
                    text: Arc::from(text),
                };
                load_source(&source, &mut spec, &mut seen, &mut errors);
            }
            Err(e) => errors.push(SpecError::new(format!(
                "cannot read spec `{}`: {e}",
                file.display()
            ))),
        }
    }
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(SpecErrors(errors))
    }
}

/// Loads one spec from text, as if read from `path`.
pub fn load_str(path: &Path, text: &str) -> Result<Spec, SpecErrors> {
    let source = Source {
        path: Arc::from(path),
        text: Arc::from(text),
    };
    let mut spec = Spec::default();
    let mut errors = Vec::new();
    load_source(&source, &mut spec, &mut HashMap::new(), &mut errors);
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(SpecErrors(errors))
    }
}

fn spec_files(path: &Path) -> Result<Vec<PathBuf>, SpecError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!("spec `{}` does not exist", path.display())
        } else {
            format!("cannot read spec `{}`: {e}", path.display())
        };
        SpecError::new(message).help("give a spec file or a folder of `*.toml` specs")
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    // A symlink back up the tree must not make the walk endless.
    let mut visited = HashSet::new();
    while let Some(dir) = dirs.pop() {
        if !visited.insert(std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone())) {
            continue;
        }
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| SpecError::new(format!("cannot read folder `{}`: {e}", dir.display())))?;
        for entry in entries.flatten() {
            let p = entry.path();
            // Hidden entries are `.git`, editor lock files (`.#web.toml`) and the like.
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "toml") {
                found.push(p);
            }
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(
            SpecError::new(format!("no `*.toml` spec in folder `{}`", path.display()))
                .help("spec files end in `.toml`; give a folder that holds some, or a spec file"),
        );
    }
    Ok(found)
}

fn load_source(
    source: &Source,
    spec: &mut Spec,
    seen: &mut HashMap<(&'static str, String), Location>,
    errors: &mut Vec<SpecError>,
) {
    let ctx = Ctx { source };
    spec.files.push(Arc::clone(&source.path));
    let doc = match DeTable::parse(&source.text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let mut lines = e.message().lines();
            let message = lines.next().unwrap_or("invalid TOML").to_string();
            let label: Vec<&str> = lines.map(str::trim).filter(|l| !l.is_empty()).collect();
            let help = if message.contains("duplicate key") {
                "write each property once per resource; to require several things of one \
                 property, combine matchers: `stdout = { all = [...] }`"
            } else {
                "a spec is TOML: a header such as `[command.\"ID\"]`, then one \
                 `property = value` per line, strings in double quotes"
            };
            errors.push(
                ctx.error(span, format!("invalid TOML: {message}"), &label.join("; "))
                    .help(help),
            );
            return;
        }
    };
    // TOML groups tables by kind; reports and errors follow the file's own order.
    let mut decls = Vec::new();
    let mut found = Vec::new();
    for (kind_key, kind_node) in doc.get_ref() {
        let Some(kind) = resource::kind(kind_key.get_ref()) else {
            found.push((kind_key.span().start, unknown_kind(&ctx, kind_key)));
            continue;
        };
        let DeValue::Table(ids) = kind_node.get_ref() else {
            found.push((
                kind_node.span().start,
                ctx.error(
                    kind_node.span(),
                    format!("`{}` must hold resources, one table per id", kind.key),
                    &format!("write `[{}.\"ID\"]` with the properties below it", kind.key),
                ),
            ));
            continue;
        };
        for (id_key, body) in ids {
            let id = id_key.get_ref().to_string();
            let at = id_key.span().start;
            if !matches!(body.get_ref(), DeValue::Table(_)) {
                // `[command]` then `exit-status = 0`: the header lacks the id.
                found.push((
                    at,
                    ctx.error(
                        id_key.span(),
                        format!(
                            "`{id}` is not a `{}` resource: the header has no id",
                            kind.key
                        ),
                        &format!("this sits directly under `[{}]`", kind.key),
                    )
                    .help(format!(
                        "name the resource in the header: `[{}.\"ID\"]`, then its properties",
                        kind.key
                    )),
                ));
                continue;
            }
            let location = source.location(id_key.span().start);
            match declare(&ctx, kind, id_key, body) {
                Ok(decl) => {
                    if let Some(first) = seen.get(&(kind.key, id.clone())) {
                        found.push((
                            at,
                            ctx.error(
                                id_key.span(),
                                format!("`{} {id}` is declared twice", kind.key),
                                "declared again here",
                            )
                            .help(format!("first declared at {first}; merge the two")),
                        ));
                    } else {
                        seen.insert((kind.key, id), location);
                        decls.push((at, decl));
                    }
                }
                Err(errs) => found.extend(errs.into_iter().map(|e| (at, e))),
            }
        }
    }
    decls.sort_by_key(|(at, _)| *at);
    found.sort_by_key(|(at, _)| *at);
    spec.decls.extend(decls.into_iter().map(|(_, d)| d));
    errors.extend(found.into_iter().map(|(_, e)| e));
}

fn unknown_kind(ctx: &Ctx<'_>, key: &Spanned<std::borrow::Cow<'_, str>>) -> SpecError {
    let names: Vec<&str> = resource::KINDS.iter().map(|k| k.key).collect();
    let name = key.get_ref();
    let label = did_you_mean(name, names.iter().copied()).map_or_else(
        || "unknown kind".to_string(),
        |k| format!("did you mean `{k}`?"),
    );
    ctx.error(
        key.span(),
        format!("unknown resource kind `{name}`"),
        &label,
    )
    .help(format!("kinds: {}", backticked(&names)))
}

fn declare(
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

fn str_setting(ctx: &Ctx<'_>, name: &str, node: &Node<'_>) -> Result<String, SpecError> {
    match node.get_ref() {
        DeValue::String(s) => Ok(s.to_string()),
        other => Err(type_error(ctx, name, "a string", "\"...\"", other, node)),
    }
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
    match node.get_ref() {
        DeValue::String(s) => humantime::parse_duration(s).map_err(|_| invalid()),
        DeValue::Integer(i) => i
            .as_str()
            .parse::<u64>()
            .ok()
            .filter(|_| i.radix() == 10)
            .map(Duration::from_secs)
            .ok_or_else(invalid),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_keep_file_order_across_kinds() {
        let text = "[command.\"a\"]\nexit-status = 0\n[file.\"/b\"]\nexists = true\n\
                    [command.\"c\"]\nexit-status = 0\n";
        let spec = load_str(Path::new("s.toml"), text).expect("valid");
        let names: Vec<String> = spec.decls.iter().map(Declared::name).collect();
        assert_eq!(names, ["command a", "file /b", "command c"]);
        let errors = load_str(
            Path::new("s.toml"),
            "[command.\"a\"]\nbad-1 = 0\n[file.\"/b\"]\nbad-2 = 0\n[command.\"c\"]\nbad-3 = 0\n",
        )
        .expect_err("invalid");
        let lines: Vec<String> = errors.0.iter().map(|e| e.message.clone()).collect();
        assert_eq!(
            lines,
            [
                "unknown property `bad-1` for `command`",
                "unknown property `bad-2` for `file`",
                "unknown property `bad-3` for `command`"
            ]
        );
    }
}
