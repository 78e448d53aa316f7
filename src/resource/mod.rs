//! Resource kinds: what each kind's properties are, and how it observes them.
//!
//! A kind is one entry in [`KINDS`]: its key as written in specs, the properties it
//! can check (with their types, so specs are type-checked before any target is
//! touched), the options that configure it, and a constructor. Adding a kind adds one
//! module here and one line to `KINDS`; nothing in `spec`, `plan`, `run` or `report`
//! changes.

mod addr;
mod command;
mod dns;
mod file;
mod group;
mod http;
mod image;
mod interface;
mod kernel_param;
mod mount;
mod options;
mod package;
mod port;
mod process;
mod service;
mod user;

use std::collections::BTreeMap;
use std::fmt;

use crate::expect::{Ty, Value};
use crate::gather::{Ask, Fact};
use crate::host::{Host, ProbeError};

pub use options::{OptTy, OptValue, Options};
pub(crate) use process::SCRIPT as PROCESS_SCRIPT;

/// One property a kind can check.
#[derive(Clone, Copy, Debug)]
pub struct PropDef {
    /// Its key, kebab-case.
    pub name: &'static str,
    /// The type of its observed value.
    pub ty: Ty,
    /// A gate (`exists`, `installed`, ...): when it is asserted and does not hold,
    /// the resource's other properties are skipped instead of failing in a cascade.
    pub gate: bool,
    /// One line for `--help`-style listings and error hints.
    pub doc: &'static str,
}

impl PropDef {
    /// A property.
    pub const fn new(name: &'static str, ty: Ty, doc: &'static str) -> Self {
        Self {
            name,
            ty,
            gate: false,
            doc,
        }
    }

    /// A gate property.
    pub const fn gate(name: &'static str, doc: &'static str) -> Self {
        Self {
            name,
            ty: Ty::Bool,
            gate: true,
            doc,
        }
    }
}

/// A setting that configures how a resource is observed (not checked itself).
#[derive(Clone, Copy, Debug)]
pub struct OptDef {
    /// Its key, kebab-case.
    pub name: &'static str,
    /// The type of its value.
    pub ty: OptTy,
    /// One line of documentation.
    pub doc: &'static str,
}

/// Builds a resource from its id and options; the error says what is wrong with the id.
pub type Constructor = fn(id: &str, options: &Options) -> Result<Box<dyn Resource>, String>;

/// A resource kind: the registry entry.
#[derive(Clone, Copy)]
pub struct Kind {
    /// The key as written in specs, e.g. `kernel-param`.
    pub key: &'static str,
    /// The properties it can check.
    pub props: &'static [PropDef],
    /// The options it accepts besides `title`, `skip`, `timeout` and `within`.
    pub options: &'static [OptDef],
    /// Builds the resource from its id and options; the error says what is wrong
    /// with the id in words.
    pub new: Constructor,
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key)
    }
}

impl Kind {
    /// The property named `name`, if the kind has it.
    pub fn prop(&self, name: &str) -> Option<&'static PropDef> {
        self.props.iter().find(|p| p.name == name)
    }

    /// The option named `name`, if the kind has it.
    pub fn option(&self, name: &str) -> Option<&'static OptDef> {
        self.options.iter().find(|o| o.name == name)
    }
}

/// Every resource kind, in the order the book lists them.
pub const KINDS: &[Kind] = &[
    addr::KIND,
    command::KIND,
    dns::KIND,
    file::KIND,
    group::KIND,
    http::KIND,
    image::KIND,
    interface::KIND,
    kernel_param::KIND,
    mount::KIND,
    package::KIND,
    port::KIND,
    process::KIND,
    service::KIND,
    user::KIND,
];

/// The kind whose key is `key`.
pub fn kind(key: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.key == key)
}

/// A resource with its id and options bound; observes its properties on a host.
pub trait Resource: fmt::Debug + Send + Sync {
    /// Observes the `wanted` properties (names from the kind's `props`). Facts that
    /// many resources share must come from [`Host::run_memo`] or [`Host::read_opt`],
    /// so one read of the target serves them all.
    ///
    /// An error here is an error result for every wanted property; a problem with one
    /// property only goes into [`Observed::fail`].
    fn probe(&self, host: &Host, wanted: &[&'static str]) -> Result<Observed, ProbeError>;

    /// The facts [`Resource::probe`] will ask the host for, named in advance so that
    /// the facts of every check are gathered in one round trip ([`crate::gather`]).
    /// Naming too few costs a round trip per missing fact when the probe asks for it;
    /// naming one the probe does not use costs a little transfer. Neither changes a
    /// result. Facts that depend on the OS are named once `ask.os` is known.
    fn facts(&self, _wanted: &[&'static str], _ask: &Ask<'_>) -> Vec<Fact> {
        Vec::new()
    }
}

/// What a probe saw: a value, or why it could not be seen, for each property.
#[derive(Debug, Default)]
pub struct Observed {
    values: BTreeMap<&'static str, Result<Value, ProbeError>>,
    /// Why a value is what it is, shown after it (`false (connection refused)`).
    notes: BTreeMap<&'static str, String>,
}

impl Observed {
    /// An empty observation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the value of `prop`.
    pub fn set(&mut self, prop: &'static str, value: Value) {
        self.values.insert(prop, Ok(value));
    }

    /// Records why `prop` has the value it has, for reports: `false (connection
    /// refused)`.
    pub fn note(&mut self, prop: &'static str, why: impl Into<String>) {
        self.notes.insert(prop, why.into());
    }

    /// The note on `prop`'s value, if any.
    pub fn note_of(&self, prop: &str) -> Option<&str> {
        self.notes.get(prop).map(String::as_str)
    }

    /// Records why `prop` could not be observed.
    pub fn fail(&mut self, prop: &'static str, why: ProbeError) {
        self.values.insert(prop, Err(why));
    }

    /// Records a value or an error.
    pub fn put(&mut self, prop: &'static str, value: Result<Value, ProbeError>) {
        self.values.insert(prop, value);
    }

    /// The value of `prop`; a property the probe did not report is an error, never a pass.
    pub fn get(&self, prop: &str) -> Result<&Value, ProbeError> {
        match self.values.get(prop) {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(e.clone()),
            None => Err(ProbeError::Failed(format!("`{prop}` was not observed"))),
        }
    }
}

/// Returns true if and only if `wanted` asks for `prop`.
pub fn wants(wanted: &[&'static str], prop: &str) -> bool {
    wanted.contains(&prop)
}

/// The output of a tool a kind reads (a package database, an init system) when its
/// exit status is one of `ok`; otherwise why it could not be read: the tool missing,
/// or its status and what it said.
pub(crate) fn stdout_of(
    out: &crate::cmd::Output,
    tool: &str,
    ok: &[i32],
) -> Result<String, ProbeError> {
    match out.status {
        Some(code) if ok.contains(&code) => Ok(out.stdout_text()),
        Some(127) => Err(ProbeError::ToolMissing(tool.into())),
        Some(code) => Err(ProbeError::Failed(format!(
            "`{tool}` failed with exit status {code}: {}",
            out.stderr_text()
        ))),
        None => Err(ProbeError::Failed(format!(
            "`{tool}` was killed by a signal"
        ))),
    }
}

/// Captured output for parser tests: `fixtures/probes/<kind>/<os>/<case>.txt`.
#[cfg(test)]
pub(crate) fn fixture(kind: &str, os: &str, case: &str) -> String {
    let path = format!(
        "{}/fixtures/probes/{kind}/{os}/{case}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture `{path}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_unique_and_sorted() {
        let keys: Vec<&str> = KINDS.iter().map(|k| k.key).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(keys, sorted);
        for k in KINDS {
            for p in k.props {
                assert!(k.option(p.name).is_none(), "{}: {} is both", k.key, p.name);
                assert!(
                    !["title", "skip", "timeout", "within"].contains(&p.name),
                    "{}: {} is reserved",
                    k.key,
                    p.name
                );
            }
        }
    }
}
