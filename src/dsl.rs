//! Specs written in Rust: one typed builder per resource kind, checked by the
//! compiler, with every check located at the line that wrote it.
//!
//! Each kind has a constructor taking the id ([`file()`], [`port`], [`http`], ...)
//! whose builder has one method per property, named as the spec key in snake_case
//! (`exit-status` is [`Command::exit_status`]; `type`, a Rust keyword, is
//! [`File::type_`]). A property method takes a plain value of the property's type
//! (`bool`, an integer, a string, a slice of strings, a mode as `0o644`) or a matcher
//! that fits the type ([`matches()`], [`contains`], [`not`], [`lt`], [`le`], [`gt`],
//! [`ge`], [`one_of`], [`version`], [`all`], [`any`]); `listening("yes")`,
//! `listening(lt(1))` and `uid(matches(".."))` do not compile. Every builder also has `title`, `skip`,
//! `timeout` and `within`, and some have options ([`Http::method`],
//! [`Command::exec`], ...).
//!
//! [`build`] renders the builders to the spec format's TOML and loads it with
//! [`crate::spec::load_str`], so a DSL spec is checked exactly as a spec file is: what
//! the types cannot say (a regex, a version constraint, an id such as a relative
//! path, an empty `one_of`, a zero timeout, a resource declared twice) is an error
//! that names the Rust call site. Each resource's location is where its constructor
//! was called, each check's where its property method was.
//!
//! ```
//! use ispec::dsl::{self, Resource, command, file, matches, port, secs};
//!
//! let spec = dsl::build([
//!     Resource::from(file("/etc/passwd").exists(true).mode(0o644).contains("root")),
//!     command("echo hello").exit_status(0).stdout(matches("^hel+o$")).into(),
//!     port("tcp:1").listening(false).within(secs(2)).into(),
//! ])
//! .expect("a valid spec");
//! assert_eq!(spec.check_count(), 6);
//! let check = &spec.decls[1].checks[1];
//! assert_eq!(check.prop.name, "stdout");
//! assert_eq!(check.location.file.as_ref(), std::path::Path::new(file!()));
//! ```
//!
//! A matcher that does not fit the property's type is a compile error:
//!
//! ```compile_fail
//! ispec::dsl::port("tcp:80").listening(ispec::dsl::lt(1));
//! ```
//!
//! ```compile_fail
//! ispec::dsl::user("root").uid(ispec::dsl::matches("^0$"));
//! ```

mod expect;
mod kinds;

use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use toml::Value;

use crate::spec::{Location, Spec, SpecError, SpecErrors, load_str};

pub use expect::{
    Bool, Choice, Combinable, Containing, Expect, Int, Items, List, Literal, Matchable, Mode,
    Ordered, Patterns, PropType, Str, Versioned, Words, all, any, contains, ge, gt, le, lt,
    matches, not, one_of, version,
};
pub use kinds::{
    Addr, Command, Dns, File, Group, Http, Image, Interface, KernelParam, Mount, Package, Port,
    Process, Service, User, addr, command, dns, file, group, http, image, interface, kernel_param,
    mount, package, port, process, service, user,
};

/// The name the rendered TOML is loaded under; never shown once errors are located.
const RENDERED: &str = "<ispec::dsl>";

/// `n` seconds, for `timeout` and `within`.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The call site of the `#[track_caller]` function calling this.
#[track_caller]
fn caller() -> Location {
    let at = std::panic::Location::caller();
    Location {
        file: Arc::from(Path::new(at.file())),
        line: at.line(),
        column: at.column(),
    }
}

/// One declared resource, whatever its kind: its kind, id, TOML table and where each
/// part was written. Every builder converts into it.
#[derive(Clone, Debug)]
pub struct Resource {
    kind: &'static str,
    id: String,
    location: Location,
    entries: Vec<Entry>,
    /// Keys set twice: the key, where first set, where set again.
    twice: Vec<(&'static str, Location, Location)>,
}

#[derive(Clone, Debug)]
struct Entry {
    key: &'static str,
    value: Value,
    location: Location,
    check: bool,
}

impl Resource {
    fn new(kind: &'static str, id: String, location: Location) -> Self {
        Self {
            kind,
            id,
            location,
            entries: Vec::new(),
            twice: Vec::new(),
        }
    }

    fn set(&mut self, key: &'static str, value: Value, location: Location, check: bool) {
        if let Some(first) = self.entries.iter().find(|e| e.key == key) {
            self.twice.push((key, first.location.clone(), location));
            return;
        }
        self.entries.push(Entry {
            key,
            value,
            location,
            check,
        });
    }

    /// The kind's key as specs write it, e.g. `kernel-param`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the resource's constructor was called.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The properties, options and settings, as the `[kind."id"]` table of a spec file.
    pub fn table(&self) -> toml::Table {
        self.entries
            .iter()
            .map(|e| (e.key.to_string(), e.value.clone()))
            .collect()
    }

    /// Where each property was set, in call order: the spec key and the call site.
    pub fn check_locations(&self) -> impl Iterator<Item = (&'static str, &Location)> {
        self.entries
            .iter()
            .filter(|e| e.check)
            .map(|e| (e.key, &e.location))
    }

    /// The resource as a spec file writes it: `[kind."id"]`, then `key = value` lines.
    pub fn to_toml(&self) -> String {
        let mut text = String::new();
        render(self, &mut text, &mut Vec::new());
        text
    }

    /// How the call that wrote `key` reads, e.g. `.exit_status(...)`.
    fn call(&self, key: Option<&str>) -> String {
        match key {
            None => format!("`{}({:?})`", self.kind.replace('-', "_"), self.id),
            Some("skip") => "`.skip()`".into(),
            Some(key) => format!("`.{}(...)`", method(key)),
        }
    }
}

/// The builder method for spec key `key`.
fn method(key: &str) -> String {
    if key == "type" {
        "type_".into()
    } else {
        key.replace('-', "_")
    }
}

/// Lines `first..=last` of the rendered TOML came from this call.
struct Span {
    first: u32,
    last: u32,
    location: Location,
    call: String,
    toml: String,
    kind: &'static str,
}

fn line_count(text: &str) -> u32 {
    u32::try_from(text.matches('\n').count()).unwrap_or(u32::MAX)
}

/// Appends `res` as TOML to `text`, recording which lines each call wrote.
fn render(res: &Resource, text: &mut String, spans: &mut Vec<Span>) {
    let mut push = |text: &mut String, line: String, location: &Location, call: String| {
        let first = line_count(text) + 1;
        text.push_str(&line);
        spans.push(Span {
            first,
            last: line_count(text),
            location: location.clone(),
            call,
            toml: line.trim_end().to_string(),
            kind: res.kind,
        });
    };
    let header = format!("[{}.{}]\n", res.kind, quoted_key(&res.id));
    push(text, header, &res.location, res.call(None));
    for e in &res.entries {
        let line = format!("{} = {}\n", e.key, e.value);
        push(text, line, &e.location, res.call(Some(e.key)));
    }
}

/// `id` as a TOML key, quoted and escaped as the `toml` crate writes keys.
fn quoted_key(id: &str) -> String {
    let mut table = toml::Table::new();
    table.insert(id.to_string(), Value::Boolean(true));
    let line = toml::to_string(&table).unwrap_or_default();
    line.trim_end()
        .strip_suffix(" = true")
        .map_or_else(|| format!("{id:?}"), str::to_string)
}

/// Builds a spec from resources, in order. Everything a spec file's loader checks is
/// checked here, and each error names the Rust call site that caused it.
///
/// Builders of different kinds convert into [`Resource`]:
/// `build([Resource::from(file("/etc/hosts").exists(true)), port("tcp:22").listening(true).into()])`.
pub fn build(resources: impl IntoIterator<Item = impl Into<Resource>>) -> Result<Spec, SpecErrors> {
    let resources: Vec<Resource> = resources.into_iter().map(Into::into).collect();
    let mut errors = Vec::new();
    let mut seen: HashMap<(&str, &str), &Location> = HashMap::new();
    let mut unique = Vec::new();
    for res in &resources {
        for (key, first, again) in &res.twice {
            errors.push(set_twice(res, key, first, again));
        }
        match seen.entry((res.kind, res.id.as_str())) {
            Slot::Occupied(first) => errors.push(SpecError {
                message: format!("`{} {}` is declared twice", res.kind, res.id),
                snippet: Some(format!(
                    " --> {}\n  = in {}\n",
                    res.location,
                    res.call(None)
                )),
                help: Some(format!(
                    "first declared at {}; merge the two into one builder",
                    first.get()
                )),
            }),
            Slot::Vacant(slot) => {
                slot.insert(&res.location);
                unique.push(res);
            }
        }
    }
    let mut text = String::new();
    let mut spans = Vec::new();
    for res in &unique {
        render(res, &mut text, &mut spans);
    }
    match load_str(Path::new(RENDERED), &text) {
        Ok(mut spec) if errors.is_empty() => {
            relocate(&mut spec, &unique);
            Ok(spec)
        }
        Ok(_) => Err(SpecErrors(errors)),
        Err(SpecErrors(found)) => {
            errors.extend(found.into_iter().map(|e| locate(e, &spans)));
            Err(SpecErrors(errors))
        }
    }
}

fn set_twice(res: &Resource, key: &str, first: &Location, again: &Location) -> SpecError {
    let check = res.entries.iter().any(|e| e.key == key && e.check);
    let help = if check {
        format!(
            "first set at {first}; to require several things of `{key}`, combine \
             matchers: `all([...])`"
        )
    } else {
        format!("first set at {first}; keep one")
    };
    SpecError {
        message: format!("`{key}` is set twice on `{} {}`", res.kind, res.id),
        snippet: Some(format!(" --> {again}\n  = in {}\n", res.call(Some(key)))),
        help: Some(help),
    }
}

/// Replaces an error's snippet into the rendered TOML with the call site that wrote
/// the offending line, keeping the snippet's label and the help.
fn locate(error: SpecError, spans: &[Span]) -> SpecError {
    let Some(snippet) = &error.snippet else {
        return error;
    };
    let line = snippet
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
        .and_then(|at| at.rsplit(':').nth(1))
        .and_then(|n| n.parse::<u32>().ok());
    let Some(span) = line.and_then(|n| spans.iter().find(|s| (s.first..=s.last).contains(&n)))
    else {
        return error;
    };
    // The caret line: `  | ^^^^ label`.
    let label = snippet
        .lines()
        .nth(3)
        .and_then(|l| l.split_once(" | "))
        .map(|(_, rest)| rest.trim_start().trim_start_matches('^').trim())
        .unwrap_or_default();
    let toml = if span.toml.contains('\n') {
        String::new()
    } else {
        format!(", as TOML `{}`", span.toml)
    };
    let label = if label.is_empty() {
        String::new()
    } else {
        format!(": {label}")
    };
    let help = rust_help(&error.message, span).or(error.help);
    SpecError {
        message: error.message,
        snippet: Some(format!(
            " --> {}\n  = in {}{toml}{label}\n",
            span.location, span.call
        )),
        help,
    }
}

/// The loader's hints show TOML; where one would mislead in Rust, the Rust to write.
fn rust_help(message: &str, span: &Span) -> Option<String> {
    let help = if message.starts_with("invalid regex") {
        "escape a literal `(`, `[`, `{`, `.`, `*`, `+` or `?` with `\\`; in a raw string \
         no other escaping is needed: `matches(r\"^v\\d+\\.\")`"
    } else if message.ends_with("must be an octal mode such as \"0644\"") {
        "write the mode as an octal integer of at most four digits: `.mode(0o644)`"
    } else if message.starts_with("`timeout` must be longer") {
        "write e.g. `.timeout(secs(10))`, or leave it out for the run's timeout"
    } else if message.ends_with("checks nothing") {
        let props = crate::resource::kind(span.kind).map_or(&[][..], |k| k.props);
        let names: Vec<String> = props
            .iter()
            .map(|p| format!("`.{}(...)`", method(p.name)))
            .collect();
        return Some(format!(
            "call a property method on {}: {}",
            span.call,
            names.join(", ")
        ));
    } else {
        return None;
    };
    Some(help.to_string())
}

/// Puts the recorded call sites on the loaded spec, and names the Rust files as its
/// files.
fn relocate(spec: &mut Spec, resources: &[&Resource]) {
    debug_assert_eq!(spec.decls.len(), resources.len());
    let mut files: Vec<Arc<Path>> = Vec::new();
    for (decl, res) in spec.decls.iter_mut().zip(resources) {
        decl.location = res.location.clone();
        if !files.contains(&res.location.file) {
            files.push(Arc::clone(&res.location.file));
        }
        for check in &mut decl.checks {
            if let Some(e) = res.entries.iter().find(|e| e.key == check.prop.name) {
                check.location = e.location.clone();
            }
        }
    }
    spec.files = files;
}

#[cfg(test)]
mod tests;
