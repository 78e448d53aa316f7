//! The suite file (`ispec.toml`): named targets and the specs each must pass.
//!
//! ```toml
//! [target.base]
//! local = true
//! specs = ["specs/base.toml"]
//! ```
//!
//! Spec paths are relative to the suite file's folder.

mod values;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use crate::backend::TargetSpec;
use crate::backend::docker::ContainerSpec;

use super::error::{SpecError, SpecErrors, did_you_mean};
use super::matcher::{Ctx, backticked};
use super::source::Source;
use values::Values;

/// The keys a target table may hold.
const KEYS: &[&str] = &["local", "image", "docker", "ssh", "specs"];
/// The keys that shape a throwaway container (`image` targets only).
const CONTAINER_KEYS: &[&str] = &[
    "env",
    "cmd",
    "entrypoint",
    "user",
    "ports",
    "volumes",
    "tmpfs",
    "privileged",
    "labels",
    "wait",
];

/// One target of a suite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuiteTarget {
    /// Its name in the suite.
    pub name: String,
    /// How to reach it.
    pub target: TargetSpec,
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
    let mut uri: Option<(String, std::ops::Range<usize>)> = None;
    let mut specs = Vec::new();
    let mut container = ContainerSpec::default();
    // Container options seen, for the error when the target is not an image.
    let mut container_keys = Vec::new();
    let what = format!("target `{name}`");
    let v = Values { ctx, what: &what };
    for (key, value) in table {
        let k = key.get_ref().as_ref();
        let found = match k {
            "local" => match value.get_ref() {
                DeValue::Boolean(true) => Some("local".to_string()),
                _ => return Err(v.invalid(k, value, "write `local = true`")),
            },
            "image" => {
                container.image = v.string(k, value)?;
                Some(format!("image:{}", container.image))
            }
            "docker" => Some(format!("docker://{}", v.string(k, value)?)),
            "ssh" => Some(format!("ssh://{}", v.string(k, value)?)),
            "specs" => {
                let paths = v.strings(k, value, "write `specs = [\"specs/web.toml\"]`")?;
                specs.extend(paths.iter().map(|s| base.join(s)));
                None
            }
            _ if CONTAINER_KEYS.contains(&k) => {
                container_keys.push(key.span());
                v.container_option(&mut container, k, value)?;
                None
            }
            _ => {
                let label = did_you_mean(k, KEYS.iter().chain(CONTAINER_KEYS).copied())
                    .map_or_else(
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
            uri = Some((found, key.span()));
        }
    }
    let Some((uri, _)) = uri else {
        return Err(ctx.error(
            name_span,
            format!("target `{name}` does not say how to reach it"),
            "add `local = true`, `image = \"...\"`, `docker = \"...\"` or `ssh = \"...\"`",
        ));
    };
    if let (Some(span), false) = (container_keys.first(), uri.starts_with("image:")) {
        return Err(ctx.error(
            span.clone(),
            format!("target `{name}` is not an image; container options apply to `image` targets"),
            "only for `image = \"...\"`",
        ));
    }
    if specs.is_empty() {
        return Err(ctx.error(
            name_span,
            format!("target `{name}` has no specs"),
            "add `specs = [\"specs/web.toml\"]`",
        ));
    }
    Ok(SuiteTarget {
        name: name.to_string(),
        target: if uri.starts_with("image:") {
            TargetSpec::Image(Box::new(container))
        } else {
            TargetSpec::Uri(uri)
        },
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
        assert_eq!(targets[0].target, TargetSpec::Uri("local".into()));
        assert_eq!(
            targets[0].specs,
            vec![PathBuf::from("/suite/specs/base.toml")]
        );
        assert_eq!(targets[1].target.name(), "image:web:candidate");
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
