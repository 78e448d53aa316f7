//! `[role.NAME]`: the hosts (target URIs) that play a role, and the specs the role
//! needs. Hosts have no meaning of their own: each host gets the specs of every role
//! that lists it ([`super::Suite::targets`]).

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::DeValue;

use super::values::Values;
use super::{CONTAINER_KEYS, Items, KEYS};
use crate::spec::error::{SpecError, did_you_mean};
use crate::spec::matcher::Ctx;

/// The keys a role table may hold.
const ROLE_KEYS: &[&str] = &["hosts", "specs"];
/// The target URIs a role may list.
const SCHEMES: &str = "expected `local`, `docker://CONTAINER` or `ssh://[USER@]HOST[:PORT]`";
const HOSTS_HELP: &str =
    "list target URIs: `hosts = [\"ssh://deploy@web-1\", \"docker://web-2\", \"local\"]`";
const SPECS_HELP: &str = "add `specs = [\"specs/web.toml\"]`";

/// One `[role.NAME]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Role {
    /// Its name in the suite.
    pub(super) name: String,
    /// Its hosts as written, each with its span in the suite file.
    pub(super) hosts: Items,
    /// The specs it needs, resolved against the suite file's folder.
    pub(super) specs: Vec<PathBuf>,
}

/// Reads `[role.NAME]`: the role, and its `specs` as written with their spans.
pub(super) fn role(
    ctx: &Ctx<'_>,
    base: &Path,
    name: &str,
    name_span: Range<usize>,
    body: &toml::Spanned<DeValue<'_>>,
) -> Result<(Role, Items), SpecError> {
    let DeValue::Table(table) = body.get_ref() else {
        return Err(ctx.error(body.span(), format!("role `{name}` must be a table"), ""));
    };
    let what = format!("role `{name}`");
    let v = Values { ctx, what: &what };
    let mut hosts = None;
    let mut specs = None;
    for (key, value) in table {
        let k = key.get_ref().as_ref();
        match k {
            "hosts" => {
                let list = v.spanned_strings(k, value, HOSTS_HELP)?;
                for (i, (uri, span)) in list.iter().enumerate() {
                    check_uri(uri).map_err(|why| {
                        ctx.error(
                            span.clone(),
                            format!("invalid host `{uri}` in role `{name}`"),
                            &why,
                        )
                    })?;
                    once(ctx, &list[..i], uri, span, name, |a, b| a == b)?;
                }
                hosts = Some((list, value.span()));
            }
            "specs" => {
                let list = v.spanned_strings(k, value, SPECS_HELP)?;
                for (i, (path, span)) in list.iter().enumerate() {
                    once(ctx, &list[..i], path, span, name, |a, b| {
                        base.join(a) == base.join(b)
                    })?;
                }
                specs = Some((list, value.span()));
            }
            _ => {
                let label = if KEYS.contains(&k) || CONTAINER_KEYS.contains(&k) {
                    format!(
                        "a role lists target URIs in `hosts`; `{k}` belongs in a `[target.NAME]`"
                    )
                } else {
                    did_you_mean(k, ROLE_KEYS.iter().copied()).map_or_else(
                        || "expected `hosts` or `specs`".to_string(),
                        |m| format!("did you mean `{m}`?"),
                    )
                };
                return Err(ctx.error(
                    key.span(),
                    format!("unknown key `{k}` in role `{name}`"),
                    &label,
                ));
            }
        }
    }
    let hosts = non_empty(
        ctx,
        hosts,
        &name_span,
        &format!("role `{name}` has no hosts"),
        HOSTS_HELP,
    )?;
    let specs = non_empty(
        ctx,
        specs,
        &name_span,
        &format!("role `{name}` has no specs"),
        SPECS_HELP,
    )?;
    let role = Role {
        name: name.to_string(),
        hosts,
        specs: specs.iter().map(|(s, _)| base.join(s)).collect(),
    };
    Ok((role, specs))
}

/// A list's items, or an error at the empty list (or at the role's name when the key
/// is missing).
fn non_empty(
    ctx: &Ctx<'_>,
    list: Option<(Items, Range<usize>)>,
    name_span: &Range<usize>,
    message: &str,
    help: &str,
) -> Result<Items, SpecError> {
    match list {
        Some((items, _)) if !items.is_empty() => Ok(items),
        Some((_, span)) => Err(ctx.error(span, message.to_string(), help)),
        None => Err(ctx.error(name_span.clone(), message.to_string(), help)),
    }
}

/// An error if `item` is among `before` (by `same`): a list of a role names each
/// host and spec once.
fn once(
    ctx: &Ctx<'_>,
    before: &[(String, Range<usize>)],
    item: &str,
    span: &Range<usize>,
    role: &str,
    same: impl Fn(&str, &str) -> bool,
) -> Result<(), SpecError> {
    match before.iter().find(|(b, _)| same(b, item)) {
        Some((_, first)) => {
            let at = ctx.source.location(first.start);
            Err(ctx.error(
                span.clone(),
                format!("`{item}` is listed twice in role `{role}`"),
                &format!("already listed at {}:{}", at.line, at.column),
            ))
        }
        None => Ok(()),
    }
}

/// Checks the form of a target URI a suite names: `local`, `docker://CONTAINER` or
/// `ssh://[USER@]HOST[:PORT]`. The error says what to write instead. (Whether the
/// target can be reached is for the backend to find out, at run time.)
pub(super) fn check_uri(uri: &str) -> Result<(), String> {
    if uri.chars().any(char::is_whitespace) {
        return Err("a target URI has no spaces".into());
    }
    if uri == "local" {
        return Ok(());
    }
    match uri.split_once("://") {
        Some(("docker", name)) => {
            if name.is_empty() {
                Err("name a container: `docker://CONTAINER`".into())
            } else if name.contains('/') {
                Err("a container's name or id has no `/`".into())
            } else {
                Ok(())
            }
        }
        Some(("ssh", dest)) => {
            let host = dest.rsplit_once('@').map_or(dest, |(_, host)| host);
            // `HOST:PORT`; a bracketed IPv6 address is left to the SSH backend.
            let port = match host.split_once(':') {
                Some((_, port)) if !host.starts_with('[') => Some(port),
                _ => None,
            };
            if host.is_empty() || host.starts_with(':') || dest.contains("://") {
                Err("name a host: `ssh://[USER@]HOST[:PORT]`".into())
            } else if let Some(port) = port.filter(|p| !p.parse::<u16>().is_ok_and(|p| p > 0)) {
                Err(format!("`{port}` is not a port from 1 to 65535"))
            } else {
                Ok(())
            }
        }
        Some((scheme, _)) => Err(format!("unknown scheme `{scheme}`; {SCHEMES}")),
        None => Err(match uri.split_once(':') {
            Some((scheme @ ("docker" | "ssh"), rest)) => {
                format!("did you mean `{scheme}://{rest}`?")
            }
            _ if did_you_mean(uri, ["local"]).is_some() => "did you mean `local`?".into(),
            _ => format!("{SCHEMES}; a host over SSH is `ssh://{uri}`"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::check_uri;

    #[test]
    fn uris_a_suite_accepts() {
        for ok in [
            "local",
            "docker://web-2",
            "docker://3f2a9c",
            "ssh://web-1",
            "ssh://deploy@web-1",
            "ssh://deploy@web-1:2222",
            "ssh://root@[::1]:22",
        ] {
            assert_eq!(check_uri(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn uris_a_suite_refuses_say_what_to_write() {
        for (bad, why) in [
            (
                "ftp://x",
                "unknown scheme `ftp`; expected `local`, `docker://CONTAINER` or `ssh://[USER@]HOST[:PORT]`",
            ),
            (
                "image://web",
                "unknown scheme `image`; expected `local`, `docker://CONTAINER` or `ssh://[USER@]HOST[:PORT]`",
            ),
            ("docker://", "name a container: `docker://CONTAINER`"),
            ("docker://a/b", "a container's name or id has no `/`"),
            ("ssh://", "name a host: `ssh://[USER@]HOST[:PORT]`"),
            ("ssh://deploy@", "name a host: `ssh://[USER@]HOST[:PORT]`"),
            (
                "ssh://ssh://web-1",
                "name a host: `ssh://[USER@]HOST[:PORT]`",
            ),
            ("ssh://web-1:ssh", "`ssh` is not a port from 1 to 65535"),
            ("ssh://web-1:0", "`0` is not a port from 1 to 65535"),
            ("docker:web-2", "did you mean `docker://web-2`?"),
            ("locl", "did you mean `local`?"),
            (
                "web-1",
                "expected `local`, `docker://CONTAINER` or `ssh://[USER@]HOST[:PORT]`; a host over SSH is `ssh://web-1`",
            ),
            ("ssh://web 1", "a target URI has no spaces"),
        ] {
            assert_eq!(check_uri(bad), Err(why.to_string()), "{bad}");
        }
    }
}
