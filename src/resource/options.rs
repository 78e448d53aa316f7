//! Resource options: settings that shape how a resource is observed.

use std::collections::BTreeMap;
use std::time::Duration;

/// The type of an option's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptTy {
    /// A string.
    Str,
    /// A boolean.
    Bool,
    /// An integer.
    Int,
    /// A duration such as `"5s"` or `"1m 30s"`.
    Duration,
    /// A list of strings.
    StrList,
    /// A table of string values.
    StrMap,
}

impl OptTy {
    /// How the type reads in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Str => "a string",
            Self::Bool => "a boolean",
            Self::Int => "an integer",
            Self::Duration => "a duration such as \"5s\"",
            Self::StrList => "a list of strings",
            Self::StrMap => "a table of strings",
        }
    }
}

/// An option's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptValue {
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A duration.
    Duration(Duration),
    /// A list of strings.
    StrList(Vec<String>),
    /// A table of strings, in spec order.
    StrMap(Vec<(String, String)>),
}

/// The options given to one resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    values: BTreeMap<String, OptValue>,
}

impl Options {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets an option (the spec loader has checked its type against the kind).
    pub fn insert(&mut self, name: impl Into<String>, value: OptValue) {
        self.values.insert(name.into(), value);
    }

    /// A string option.
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(OptValue::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// A boolean option.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.values.get(name) {
            Some(OptValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// An integer option.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.values.get(name) {
            Some(OptValue::Int(i)) => Some(*i),
            _ => None,
        }
    }

    /// A duration option.
    pub fn duration(&self, name: &str) -> Option<Duration> {
        match self.values.get(name) {
            Some(OptValue::Duration(d)) => Some(*d),
            _ => None,
        }
    }

    /// A list option.
    pub fn list(&self, name: &str) -> Option<&[String]> {
        match self.values.get(name) {
            Some(OptValue::StrList(l)) => Some(l),
            _ => None,
        }
    }

    /// A table option.
    pub fn map(&self, name: &str) -> Option<&[(String, String)]> {
        match self.values.get(name) {
            Some(OptValue::StrMap(m)) => Some(m),
            _ => None,
        }
    }
}
