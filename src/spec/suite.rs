//! The suite file (`ispec.toml`): named targets and the specs each must pass.
//!
//! ```toml
//! [target.base]
//! local = true
//! specs = ["specs/base.toml"]
//! ```
//!
//! Spec paths are relative to the suite file's folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use super::error::{SpecError, SpecErrors, did_you_mean};
use super::matcher::{Ctx, backticked};
use super::source::Source;

/// The keys a target table may hold.
const KEYS: &[&str] = &["local", "image", "docker", "ssh", "specs"];

/// One target of a suite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuiteTarget {
    /// Its name in the suite.
    pub name: String,
    /// The target URI: `local`, `docker://NAME`, `ssh://...`, or `image:IMAGE`.
    pub uri: String,
    /// The specs it must pass, resolved against the suite file's folder.
    pub specs: Vec<PathBuf>,
}

/// Reads a suite file.
pub fn load_suite(path: &Path) -> Result<Vec<SuiteTarget>, SpecErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        SpecErrors(vec![SpecError::new(format!(
            "cannot read suite `{}`: {e}",
            path.display()
        ))])
    })?;
    let source = Source {
        path: Arc::from(path),
        text: Arc::from(text),
    };
    let base = path.parent().unwrap_or(Path::new("."));
    parse_suite(&source, base).map_err(SpecErrors)
}

fn parse_suite(source: &Source, base: &Path) -> Result<Vec<SuiteTarget>, Vec<SpecError>> {
    let ctx = Ctx { source };
    let doc = DeTable::parse(&source.text).map_err(|e| {
        vec![ctx.error(
            e.span().unwrap_or(0..0),
            format!("invalid TOML: {}", e.message().lines().next().unwrap_or("")),
            "",
        )]
    })?;
    let mut errors = Vec::new();
    let mut targets = Vec::new();
    for (key, value) in doc.get_ref() {
        if key.get_ref() != "target" {
            errors.push(ctx.error(
                key.span(),
                format!("unknown suite table `{}`", key.get_ref()),
                "expected `[target.NAME]`",
            ));
            continue;
        }
        let DeValue::Table(table) = value.get_ref() else {
            errors.push(ctx.error(
                value.span(),
                "`target` must hold tables".into(),
                "write `[target.NAME]`",
            ));
            continue;
        };
        for (name, body) in table {
            match target(&ctx, base, name.get_ref(), name.span(), body) {
                Ok(t) => targets.push(t),
                Err(e) => errors.push(e),
            }
        }
    }
    if targets.is_empty() && errors.is_empty() {
        errors.push(
            SpecError::new(format!("suite `{}` names no target", source.path.display()))
                .help("add `[target.NAME]` with `local = true` (or `image`, `docker`, `ssh`) and `specs = [...]`"),
        );
    }
    if errors.is_empty() {
        Ok(targets)
    } else {
        Err(errors)
    }
}

fn target(
    ctx: &Ctx<'_>,
    base: &Path,
    name: &str,
    name_span: std::ops::Range<usize>,
    body: &toml::Spanned<DeValue<'_>>,
) -> Result<SuiteTarget, SpecError> {
    let DeValue::Table(table) = body.get_ref() else {
        return Err(ctx.error(body.span(), format!("target `{name}` must be a table"), ""));
    };
    let mut uri = None;
    let mut specs = Vec::new();
    for (key, value) in table {
        let k = key.get_ref().as_ref();
        let text = match value.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => None,
        };
        let found = match (k, value.get_ref(), text) {
            ("local", DeValue::Boolean(true), _) => Some("local".to_string()),
            ("image", _, Some(image)) => Some(format!("image:{image}")),
            ("docker", _, Some(container)) => Some(format!("docker://{container}")),
            ("ssh", _, Some(host)) => Some(format!("ssh://{host}")),
            ("specs", DeValue::Array(items), _) => {
                for item in items {
                    match item.get_ref() {
                        DeValue::String(s) => specs.push(base.join(s.as_ref())),
                        other => {
                            return Err(ctx.error(
                                item.span(),
                                format!("`specs` holds paths, found {}", other.type_str()),
                                "expected a string",
                            ));
                        }
                    }
                }
                None
            }
            (k, _, _) if KEYS.contains(&k) => {
                return Err(ctx.error(
                    value.span(),
                    format!("invalid value for `{k}` in target `{name}`"),
                    match k {
                        "local" => "write `local = true`",
                        "specs" => "write `specs = [\"specs/web.toml\"]`",
                        _ => "expected a string",
                    },
                ));
            }
            (k, _, _) => {
                let label = did_you_mean(k, KEYS.iter().copied()).map_or_else(
                    || format!("expected one of {}", backticked(KEYS)),
                    |m| format!("did you mean `{m}`?"),
                );
                return Err(ctx.error(
                    key.span(),
                    format!("unknown key `{k}` in target `{name}`"),
                    &label,
                ));
            }
        };
        if let Some(found) = found {
            if uri.is_some() {
                return Err(ctx.error(
                    key.span(),
                    format!("target `{name}` names more than one way to reach it"),
                    "keep one of `local`, `image`, `docker`, `ssh`",
                ));
            }
            uri = Some(found);
        }
    }
    let Some(uri) = uri else {
        return Err(ctx.error(
            name_span,
            format!("target `{name}` does not say how to reach it"),
            "add `local = true`, `image = \"...\"`, `docker = \"...\"` or `ssh = \"...\"`",
        ));
    };
    if specs.is_empty() {
        return Err(ctx.error(
            name_span,
            format!("target `{name}` has no specs"),
            "add `specs = [\"specs/web.toml\"]`",
        ));
    }
    Ok(SuiteTarget {
        name: name.to_string(),
        uri,
        specs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<SuiteTarget>, Vec<SpecError>> {
        let source = Source {
            path: Arc::from(Path::new("ispec.toml")),
            text: Arc::from(text),
        };
        parse_suite(&source, Path::new("/suite"))
    }

    #[test]
    fn targets_and_specs() {
        let targets = parse(
            "[target.base]\nlocal = true\nspecs = [\"specs/base.toml\"]\n\n\
             [target.web]\nimage = \"web:candidate\"\nspecs = [\"web.toml\", \"base.toml\"]\n",
        )
        .unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].uri, "local");
        assert_eq!(
            targets[0].specs,
            vec![PathBuf::from("/suite/specs/base.toml")]
        );
        assert_eq!(targets[1].uri, "image:web:candidate");
        assert_eq!(targets[1].specs.len(), 2);
    }

    #[test]
    fn mistakes_are_named() {
        let err = parse("[target.a]\nlocl = true\nspecs = [\"a.toml\"]\n").unwrap_err();
        assert_eq!(err[0].message, "unknown key `locl` in target `a`");
        assert!(
            err[0]
                .snippet
                .as_ref()
                .unwrap()
                .contains("did you mean `local`?")
        );
        let err = parse("[target.a]\nspecs = [\"a.toml\"]\n").unwrap_err();
        assert_eq!(err[0].message, "target `a` does not say how to reach it");
        let err = parse("[target.a]\nlocal = true\nssh = \"h\"\nspecs = [\"a\"]\n").unwrap_err();
        assert_eq!(
            err[0].message,
            "target `a` names more than one way to reach it"
        );
        let err = parse("[target.a]\nlocal = true\n").unwrap_err();
        assert_eq!(err[0].message, "target `a` has no specs");
        let err = parse("[targets.a]\n").unwrap_err();
        assert_eq!(err[0].message, "unknown suite table `targets`");
    }
}
