//! Reading spec files: TOML with spans kept, `[kind."id"]` tables dispatched to the
//! kinds in [`crate::resource::KINDS`], every property type-checked. No target is
//! touched here.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::resource;

use super::decl::Spec;
use super::declare::declare;
use super::error::{SpecError, SpecErrors, did_you_mean, invalid_toml};
use super::matcher::{Ctx, backticked};
use super::source::{Location, Source};
use super::vars::{self, Vars};

/// Loads specs from files and folders (every `*.toml` below a folder, sorted), their
/// `${VAR}`s from the environment.
pub fn load(paths: &[PathBuf]) -> Result<Spec, SpecErrors> {
    load_with(paths, &Vars::from_env())
}

/// Loads specs from files and folders, their `${VAR}`s from `vars`.
pub fn load_with(paths: &[PathBuf], vars: &Vars) -> Result<Spec, SpecErrors> {
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
                load_source(&source, Some(vars), &mut spec, &mut seen, &mut errors);
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

/// Loads one spec from text, as if read from `path`. Its text is taken literally:
/// `${VAR}` is not replaced (the DSL renders to this, and its strings are Rust's).
pub fn load_str(path: &Path, text: &str) -> Result<Spec, SpecErrors> {
    let source = Source {
        path: Arc::from(path),
        text: Arc::from(text),
    };
    let mut spec = Spec::default();
    let mut errors = Vec::new();
    load_source(&source, None, &mut spec, &mut HashMap::new(), &mut errors);
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
    vars: Option<&Vars>,
    spec: &mut Spec,
    seen: &mut HashMap<(&'static str, String), Location>,
    errors: &mut Vec<SpecError>,
) {
    let ctx = Ctx { source };
    spec.files.push(Arc::clone(&source.path));
    let mut doc = match DeTable::parse(&source.text) {
        Ok(doc) => doc,
        Err(e) => {
            errors.push(invalid_toml(
                source,
                &e,
                "a spec is TOML: a header such as `[command.\"ID\"]`, then one \
                 `property = value` per line, strings in double quotes",
                "write each property once per resource; to require several things of one \
                 property, combine matchers: `stdout = { all = [...] }`",
            ));
            return;
        }
    };
    // TOML groups tables by kind; reports and errors follow the file's own order.
    let mut decls = Vec::new();
    let mut found = Vec::new();
    // Resources (by the id's position) whose variables could not all be replaced.
    let mut unexpanded = HashSet::new();
    if let Some(vars) = vars {
        for (_, kind_node) in doc.get_mut().iter_mut() {
            let DeValue::Table(ids) = kind_node.get_mut() else {
                continue;
            };
            let mut errs = Vec::new();
            // Ids are expanded below, where duplicates are checked.
            for (id_key, body) in ids.iter_mut() {
                let at = id_key.span().start;
                let before = errs.len();
                vars::expand_values(&ctx, body, vars, &mut errs);
                if errs.len() > before {
                    unexpanded.insert(at);
                }
            }
            found.extend(errs);
        }
    }
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
            let at = id_key.span().start;
            let written = id_key.get_ref();
            // The id with its variables replaced; one that cannot be is an error, and
            // left out (type-checking `${X}` would only add a misleading second one).
            let expanded = match vars.map(|v| vars::expand(written, v)) {
                Some(Ok(Cow::Owned(new))) => Some(Spanned::new(id_key.span(), Cow::Owned(new))),
                Some(Err(e)) => {
                    found.push((at, vars::error(&ctx, &id_key.span(), written, &e)));
                    continue;
                }
                _ => None,
            };
            let id_key = expanded.as_ref().unwrap_or(id_key);
            let id = id_key.get_ref().to_string();
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
            if unexpanded.contains(&at) {
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
                                &if expanded.is_some() {
                                    format!("declared again here, as `{id}` once its variables are replaced")
                                } else {
                                    "declared again here".to_string()
                                },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Declared;

    /// The errors loading `text` with `vars`.
    fn errors_with(text: &str, vars: &Vars) -> Vec<SpecError> {
        let source = Source {
            path: Arc::from(Path::new("s.toml")),
            text: Arc::from(text),
        };
        let mut errors = Vec::new();
        load_source(
            &source,
            Some(vars),
            &mut Spec::default(),
            &mut HashMap::new(),
            &mut errors,
        );
        errors
    }

    /// The messages of the errors loading `text` with no variables defined.
    fn messages_without_vars(text: &str) -> Vec<String> {
        errors_with(text, &Vars::none())
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn ids_equal_once_expanded_are_declared_twice() {
        let mut vars = Vars::none();
        vars.set("A", "x");
        let errors = errors_with(
            "[file.\"/etc/x\"]\nexists = true\n\n[file.\"/etc/${A}\"]\nexists = true\n",
            &vars,
        );
        assert_eq!(
            SpecErrors(errors).to_string(),
            "\
error: `file /etc/x` is declared twice
 --> s.toml:4:7
  |
4 | [file.\"/etc/${A}\"]
  |       ^^^^^^^^^^^ declared again here, as `/etc/x` once its variables are replaced
  = help: first declared at s.toml:1:7; merge the two
"
        );
    }

    #[test]
    fn what_failed_to_expand_is_not_type_checked_too() {
        assert_eq!(
            messages_without_vars("[port.\"tcp:${NOPE}\"]\nlistening = true\n"),
            ["unknown variable `NOPE`"]
        );
        assert_eq!(
            messages_without_vars("[port.\"tcp:80\"]\nlistening = true\nip = \"${NOPE}\"\n"),
            ["unknown variable `NOPE`"]
        );
    }

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
