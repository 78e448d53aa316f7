//! One `[target.NAME]` table of a suite: how the target is reached (`local`,
//! `image` with its container keys, `docker`, `ssh` with `sudo` and `identity`) and
//! the specs it must pass.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::DeValue;

use super::values::Values;
use super::{CONTAINER_KEYS, Items, KEYS, SSH_KEYS, SuiteTarget, role};
use crate::backend::docker::ContainerSpec;
use crate::backend::{SshTarget, TargetSpec};
use crate::spec::error::{SpecError, did_you_mean};
use crate::spec::matcher::{Ctx, backticked};

/// Reads `[target.NAME]`: the target, and its `specs` as written with their spans.
pub(super) fn target(
    ctx: &Ctx<'_>,
    base: &Path,
    name: &str,
    name_span: Range<usize>,
    body: &toml::Spanned<DeValue<'_>>,
) -> Result<(SuiteTarget, Items), SpecError> {
    let DeValue::Table(table) = body.get_ref() else {
        return Err(ctx.error(body.span(), format!("target `{name}` must be a table"), ""));
    };
    let mut uri: Option<(String, Range<usize>)> = None;
    let mut specs = Vec::new();
    let mut container = ContainerSpec::default();
    // Container options seen, for the error when the target is not an image.
    let mut container_keys = Vec::new();
    // SSH options: `sudo`, `identity`.
    let mut ssh = SshTarget::default();
    let mut ssh_keys = Vec::new();
    let mut after = Vec::new();
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
            "docker" | "ssh" => {
                let uri = format!("{k}://{}", v.string(k, value)?);
                role::check_uri(&uri).map_err(|why| v.invalid(k, value, &why))?;
                Some(uri)
            }
            "specs" => {
                specs = v.spanned_strings(k, value, "write `specs = [\"specs/web.toml\"]`")?;
                None
            }
            "after" => {
                after =
                    v.spanned_strings(k, value, "write `after = [\"db\"]`: targets of this suite")?;
                None
            }
            "sudo" => match value.get_ref() {
                DeValue::Boolean(b) => {
                    ssh.sudo = Some(*b);
                    ssh_keys.push(key.span());
                    None
                }
                _ => return Err(v.invalid(k, value, "write `sudo = true`")),
            },
            "identity" => {
                let files = match value.get_ref() {
                    DeValue::String(_) => vec![v.string(k, value)?],
                    _ => v.strings(k, value, "write `identity = \"~/.ssh/deploy\"`")?,
                };
                ssh.identities = files.iter().map(|f| expand_home(base, f)).collect();
                ssh_keys.push(key.span());
                None
            }
            _ if CONTAINER_KEYS.contains(&k) => {
                container_keys.push(key.span());
                v.container_option(&mut container, k, value)?;
                if k == "volumes" {
                    container.volumes = container
                        .volumes
                        .iter()
                        .map(|m| bind_source(base, m))
                        .collect::<Result<_, _>>()
                        .map_err(|why| v.invalid(k, value, &why))?;
                }
                None
            }
            _ => {
                let label = did_you_mean(
                    k,
                    KEYS.iter().chain(CONTAINER_KEYS).chain(SSH_KEYS).copied(),
                )
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
    if let (Some(span), false) = (ssh_keys.first(), uri.starts_with("ssh://")) {
        return Err(ctx.error(
            span.clone(),
            format!(
                "target `{name}` is not an SSH host; `sudo` and `identity` apply to `ssh` targets"
            ),
            "only for `ssh = \"...\"`",
        ));
    }
    if specs.is_empty() {
        return Err(ctx.error(
            name_span,
            format!("target `{name}` has no specs"),
            "add `specs = [\"specs/web.toml\"]`",
        ));
    }
    container.name = Some(name.to_string());
    let target = SuiteTarget {
        name: name.to_string(),
        after,
        checked: true,
        target: if uri.starts_with("image:") {
            TargetSpec::Image(Box::new(container))
        } else if !ssh_keys.is_empty() {
            ssh.uri = uri;
            TargetSpec::Ssh(Box::new(ssh))
        } else {
            TargetSpec::Uri(uri)
        },
        specs: specs.iter().map(|(s, _)| base.join(s)).collect(),
        roles: Vec::new(),
    };
    Ok((target, specs))
}

/// A path from the suite: `~/` is the home folder, a relative path is the suite's
/// folder's.
fn expand_home(base: &Path, path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => base.join(path),
    }
}

/// A mount `SOURCE:DEST[:OPTIONS]` with a relative folder or file as its source
/// (`./conf:/etc/app`, `conf/app.ini:/etc/app.ini`) made absolute against the
/// suite's folder, as the engine needs; the source must exist (the engine would
/// make an empty folder in its place). A bare name is a named volume, kept as is.
fn bind_source(base: &Path, mount: &str) -> Result<String, String> {
    let Some((source, rest)) = mount.split_once(':') else {
        return Ok(mount.to_string());
    };
    let relative = source.starts_with('.') || (source.contains('/') && !source.starts_with('/'));
    if !relative {
        return Ok(mount.to_string());
    }
    let path = std::path::absolute(base.join(source))
        .map_err(|e| format!("cannot make `{source}` absolute: {e}"))?;
    if !path.exists() {
        return Err(format!(
            "`{source}` is not there (looked for `{}`); a relative mount source is the suite folder's",
            path.display()
        ));
    }
    Ok(format!("{}:{rest}", path.display()))
}
