//! Typed values of a suite's tables (strings, lists, commands, container options),
//! with errors that name the table they are in.

use std::ops::Range;
use std::time::Duration;

use toml::de::DeValue;

use crate::backend::docker::{ContainerSpec, Wait, parse_port};
use crate::spec::error::SpecError;
use crate::spec::matcher::Ctx;

use super::Defaults;

/// The `[defaults]` table: what every resource of every target gets unless its spec
/// says otherwise.
pub(super) fn defaults(ctx: &Ctx<'_>, value: &Node<'_>) -> Result<Defaults, SpecError> {
    let v = Values {
        ctx,
        what: "`[defaults]`",
    };
    let DeValue::Table(table) = value.get_ref() else {
        return Err(v.invalid(
            "defaults",
            value,
            "write `[defaults]` with `within = \"10s\"`",
        ));
    };
    let mut defaults = Defaults::default();
    for (key, value) in table {
        match key.get_ref().as_ref() {
            "within" => defaults.within = Some(v.duration("within", value)?),
            other => {
                return Err(ctx.error(
                    key.span(),
                    format!("unknown key `{other}` in `[defaults]`"),
                    "expected `within`",
                ));
            }
        }
    }
    Ok(defaults)
}

/// Reads typed values of one table, with errors that name it (`what`: "target `web`").
pub(super) struct Values<'a, 'b> {
    pub(super) ctx: &'a Ctx<'b>,
    pub(super) what: &'a str,
}

type Node<'v> = toml::Spanned<DeValue<'v>>;

impl Values<'_, '_> {
    pub(super) fn invalid(&self, key: &str, value: &Node<'_>, help: &str) -> SpecError {
        self.ctx.error(
            value.span(),
            format!("invalid value for `{key}` in {}", self.what),
            help,
        )
    }

    pub(super) fn string(&self, key: &str, value: &Node<'_>) -> Result<String, SpecError> {
        match value.get_ref() {
            DeValue::String(s) if !s.is_empty() => Ok(s.to_string()),
            _ => Err(self.invalid(key, value, "expected a non-empty string")),
        }
    }

    pub(super) fn strings(
        &self,
        key: &str,
        value: &Node<'_>,
        help: &str,
    ) -> Result<Vec<String>, SpecError> {
        Ok(self
            .spanned_strings(key, value, help)?
            .into_iter()
            .map(|(s, _)| s)
            .collect())
    }

    /// A list of strings, each with its span to point at.
    pub(super) fn spanned_strings(
        &self,
        key: &str,
        value: &Node<'_>,
        help: &str,
    ) -> Result<Vec<(String, Range<usize>)>, SpecError> {
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.invalid(key, value, help));
        };
        items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::String(s) => Ok((s.to_string(), item.span())),
                other => Err(self.ctx.error(
                    item.span(),
                    format!("`{key}` holds strings, found {}", other.type_str()),
                    "expected a string",
                )),
            })
            .collect()
    }

    /// A command: a list of words, or one string split like a shell would.
    fn words(&self, key: &str, value: &Node<'_>) -> Result<Vec<String>, SpecError> {
        let help = "write a list such as `[\"nginx\", \"-g\", \"daemon off;\"]`";
        match value.get_ref() {
            DeValue::String(s) => {
                shell_words::split(s).map_err(|e| self.invalid(key, value, &format!("{e}; {help}")))
            }
            _ => self.strings(key, value, help),
        }
    }

    /// `{ KEY = "value" }` (or a list of `KEY=value`) as `KEY=value` entries.
    fn pairs(&self, key: &str, value: &Node<'_>) -> Result<Vec<String>, SpecError> {
        let help = format!("write `{key} = {{ KEY = \"value\" }}`");
        match value.get_ref() {
            DeValue::Table(table) => table
                .iter()
                .map(|(k, v)| match v.get_ref() {
                    DeValue::String(s) => Ok(format!("{}={s}", k.get_ref())),
                    _ => Err(self.invalid(key, v, &help)),
                })
                .collect(),
            _ => self.strings(key, value, &help),
        }
    }

    fn integer(&self, key: &str, value: &Node<'_>) -> Result<i64, SpecError> {
        match value.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .map_err(|_| self.invalid(key, value, "out of range")),
            _ => Err(self.invalid(key, value, "expected an integer")),
        }
    }

    pub(super) fn duration(&self, key: &str, value: &Node<'_>) -> Result<Duration, SpecError> {
        let text = self.string(key, value)?;
        crate::spec::parse_duration(&text).map_err(|e| {
            self.invalid(
                key,
                value,
                &format!("{e}; write a duration such as \"30s\""),
            )
        })
    }

    pub(super) fn container_option(
        &self,
        spec: &mut ContainerSpec,
        key: &str,
        value: &Node<'_>,
    ) -> Result<(), SpecError> {
        match key {
            "env" => spec.env = self.pairs(key, value)?,
            "labels" => spec.labels = self.pairs(key, value)?,
            "cmd" => spec.cmd = Some(self.words(key, value)?),
            "entrypoint" => spec.entrypoint = Some(self.words(key, value)?),
            "user" => spec.user = Some(self.string(key, value)?),
            "ports" | "volumes" | "tmpfs" => {
                let items = self.strings(key, value, "write a list of strings")?;
                if key == "ports" {
                    if let Some(bad) = items.iter().find_map(|p| parse_port(p).err()) {
                        return Err(self.invalid(key, value, &bad));
                    }
                    spec.ports = items;
                } else if key == "volumes" {
                    spec.volumes = items;
                } else {
                    spec.tmpfs = items;
                }
            }
            "privileged" => match value.get_ref() {
                DeValue::Boolean(b) => spec.privileged = *b,
                _ => return Err(self.invalid(key, value, "write `privileged = true`")),
            },
            "wait" => self.wait(&mut spec.wait, value)?,
            _ => unreachable!("CONTAINER_KEYS and this match agree"),
        }
        Ok(())
    }

    fn wait(&self, wait: &mut Wait, value: &Node<'_>) -> Result<(), SpecError> {
        let help =
            "write `wait = { port = 80, within = \"30s\" }` (or `log = \"...\"`, `health = true`)";
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.invalid("wait", value, help));
        };
        for (key, v) in table {
            match key.get_ref().as_ref() {
                "port" => {
                    let n = self.integer("wait.port", v)?;
                    wait.port =
                        Some(u16::try_from(n).ok().filter(|p| *p > 0).ok_or_else(|| {
                            self.invalid("wait.port", v, "a port from 1 to 65535")
                        })?);
                }
                "log" => wait.log = Some(self.string("wait.log", v)?),
                "health" => match v.get_ref() {
                    DeValue::Boolean(b) => wait.health = Some(*b),
                    _ => return Err(self.invalid("wait.health", v, "write `health = true`")),
                },
                "within" => wait.within = self.duration("wait.within", v)?,
                other => {
                    return Err(self.ctx.error(
                        key.span(),
                        format!("unknown key `{other}` in `wait` of {}", self.what),
                        "expected `port`, `log`, `health` or `within`",
                    ));
                }
            }
        }
        Ok(())
    }
}
