//! Typed expectations: what a property must be, as a plain value of the property's
//! type or a matcher that fits it. Each renders to the TOML value the spec format
//! takes; the spec loader builds the [`crate::expect::Expect`] from it.

use std::marker::PhantomData;

use toml::Value;

mod sealed {
    pub trait Sealed {}
}

/// The type of a property, as a marker for [`Expect`]. Sealed: one marker per
/// [`crate::expect::Ty`].
pub trait PropType: sealed::Sealed {}

/// Types `matches` applies to.
pub trait Matchable: PropType {}
/// Types `contains` applies to.
pub trait Containing: PropType {}
/// Types `lt`, `le`, `gt` and `ge` apply to.
pub trait Ordered: PropType {}
/// Types `one_of` applies to.
pub trait Choice: PropType {}
/// Types `version` applies to.
pub trait Versioned: PropType {}
/// Types `all` and `any` apply to.
pub trait Combinable: PropType {}

macro_rules! markers {
    ($($(#[doc = $doc:literal])* $name:ident: $($cap:ident),*;)*) => {$(
        $(#[doc = $doc])*
        #[derive(Debug)]
        pub enum $name {}
        impl sealed::Sealed for $name {}
        impl PropType for $name {}
        $(impl $cap for $name {})*
    )*};
}

markers! {
    /// A boolean property (`listening`, `exists`): `true`, `false`, or [`not`].
    Bool: ;
    /// An integer property (`uid`, `exit_status`).
    Int: Ordered, Choice, Combinable;
    /// A text property (`stdout`, `version`, `owner`).
    Str: Matchable, Containing, Ordered, Choice, Versioned, Combinable;
    /// A set of texts (`groups`, `addrs`): a plain value is a slice or `Vec` of
    /// strings, equal as a set.
    List: Matchable, Containing, Versioned, Combinable;
    /// Words in order (an image's `cmd`): a plain value is equal word for word.
    Words: Matchable, Containing, Versioned, Combinable;
    /// Permission bits: a plain value is an integer written in octal, `0o644`.
    Mode: Matchable, Choice, Combinable;
    /// Patterns that must all be found in a long text (a file's `contains`): a
    /// string is a substring, a list of strings needs every one.
    Patterns: Matchable, Containing, Ordered, Choice, Versioned, Combinable;
}

/// What a property of type `T` must be: a plain value (`From` a value of the
/// property's type) or a matcher ([`matches()`], [`contains`], [`not`], ...).
#[must_use]
pub struct Expect<T> {
    value: Value,
    ty: PhantomData<fn() -> T>,
}

impl<T> Expect<T> {
    fn new(value: Value) -> Self {
        Self {
            value,
            ty: PhantomData,
        }
    }

    /// The TOML value this expectation is written as in a spec file.
    pub fn toml(&self) -> &Value {
        &self.value
    }

    pub(super) fn into_toml(self) -> Value {
        self.value
    }
}

impl<T> Clone for Expect<T> {
    fn clone(&self) -> Self {
        Self::new(self.value.clone())
    }
}

impl<T> std::fmt::Debug for Expect<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expect({})", self.value)
    }
}

/// A plain value of type `T`, as [`one_of`] takes them.
#[must_use]
pub struct Literal<T> {
    value: Value,
    ty: PhantomData<fn() -> T>,
}

/// Implements `From<$src>` for both `Literal<$ty>` and `Expect<$ty>`.
macro_rules! plain {
    ($ty:ident: $($src:ty => |$v:ident| $to:expr;)*) => {$(
        impl From<$src> for Literal<$ty> {
            fn from($v: $src) -> Self {
                Self { value: $to, ty: PhantomData }
            }
        }
        impl From<$src> for Expect<$ty> {
            fn from(v: $src) -> Self {
                Self::new(Literal::<$ty>::from(v).value)
            }
        }
    )*};
}

plain! { Bool: bool => |b| Value::Boolean(b); }
plain! { Int:
    i64 => |n| Value::Integer(n);
    i32 => |n| Value::Integer(n.into());
    u32 => |n| Value::Integer(n.into());
    u16 => |n| Value::Integer(n.into());
    u8 => |n| Value::Integer(n.into());
}
plain! { Str:
    &str => |s| Value::String(s.to_string());
    String => |s| Value::String(s);
    &String => |s| Value::String(s.clone());
    i64 => |n| Value::Integer(n);
    i32 => |n| Value::Integer(n.into());
}
plain! { Patterns:
    &str => |s| Value::String(s.to_string());
    String => |s| Value::String(s);
    &String => |s| Value::String(s.clone());
}
// A mode above 0o7777 is rendered as its octal digits; the spec loader refuses it.
plain! { Mode: u32 => |m| Value::String(format!("{m:04o}")); }

fn strings<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Value {
    Value::Array(
        items
            .into_iter()
            .map(|s| Value::String(s.as_ref().to_string()))
            .collect(),
    )
}

macro_rules! string_lists {
    ($($ty:ident),*) => {$(
        impl<S: AsRef<str>, const N: usize> From<[S; N]> for Expect<$ty> {
            fn from(items: [S; N]) -> Self {
                Self::new(strings(items))
            }
        }
        impl<S: AsRef<str>> From<Vec<S>> for Expect<$ty> {
            fn from(items: Vec<S>) -> Self {
                Self::new(strings(items))
            }
        }
        impl<S: AsRef<str>> From<&[S]> for Expect<$ty> {
            fn from(items: &[S]) -> Self {
                Self::new(strings(items))
            }
        }
    )*};
}

string_lists!(List, Words, Patterns);

/// What [`contains`] takes: one item or a list, each a string or a matcher for a
/// string. To mix strings and matchers in one list, convert the strings:
/// `contains([Expect::from("ready"), matches(":80\\b")])`.
#[derive(Clone, Debug)]
pub struct Items(Vec<Value>);

impl From<&str> for Items {
    fn from(s: &str) -> Self {
        Self(vec![Value::String(s.to_string())])
    }
}

impl From<String> for Items {
    fn from(s: String) -> Self {
        Self(vec![Value::String(s)])
    }
}

impl From<Expect<Str>> for Items {
    fn from(e: Expect<Str>) -> Self {
        Self(vec![e.value])
    }
}

impl<E: Into<Expect<Str>>, const N: usize> From<[E; N]> for Items {
    fn from(items: [E; N]) -> Self {
        Self(items.into_iter().map(|e| e.into().value).collect())
    }
}

impl<E: Into<Expect<Str>>> From<Vec<E>> for Items {
    fn from(items: Vec<E>) -> Self {
        Self(items.into_iter().map(|e| e.into().value).collect())
    }
}

fn matcher<T>(name: &str, arg: Value) -> Expect<T> {
    let mut table = toml::Table::new();
    table.insert(name.to_string(), arg);
    Expect::new(Value::Table(table))
}

/// A regex that must find a match (multi-line: `^` and `$` match at line ends). An
/// invalid regex is an error from [`super::build`] naming the property's call site.
pub fn matches<T: Matchable>(regex: impl Into<String>) -> Expect<T> {
    matcher("matches", Value::String(regex.into()))
}

/// Every item must be contained: a substring of a text or an item of a list; a
/// matcher item must hold for the text, or for some item of a list.
pub fn contains<T: Containing>(items: impl Into<Items>) -> Expect<T> {
    let mut items = items.into().0;
    let arg = if items.len() == 1 {
        items.remove(0)
    } else {
        Value::Array(items)
    };
    matcher("contains", arg)
}

/// The inner expectation must not hold. On patterns (a file's `contains`),
/// `not("x")` means "does not contain `x`".
pub fn not<T: PropType>(inner: impl Into<Expect<T>>) -> Expect<T> {
    matcher("not", inner.into().value)
}

/// Less than `n` (a text is read as a number).
pub fn lt<T: Ordered>(n: i64) -> Expect<T> {
    matcher("lt", Value::Integer(n))
}

/// Less than or equal to `n`.
pub fn le<T: Ordered>(n: i64) -> Expect<T> {
    matcher("le", Value::Integer(n))
}

/// Greater than `n`.
pub fn gt<T: Ordered>(n: i64) -> Expect<T> {
    matcher("gt", Value::Integer(n))
}

/// Greater than or equal to `n`.
pub fn ge<T: Ordered>(n: i64) -> Expect<T> {
    matcher("ge", Value::Integer(n))
}

/// Equal to one of `values` (an empty list is an error from [`super::build`]).
pub fn one_of<T: Choice, V: Into<Literal<T>>>(values: impl IntoIterator<Item = V>) -> Expect<T> {
    matcher(
        "one-of",
        Value::Array(values.into_iter().map(|v| v.into().value).collect()),
    )
}

/// A version constraint such as `">= 1.22, < 1.23"`, compared as dpkg compares
/// versions; an invalid one is an error from [`super::build`].
pub fn version<T: Versioned>(constraint: impl Into<String>) -> Expect<T> {
    matcher("version", Value::String(constraint.into()))
}

/// Every one must hold (an empty list is an error from [`super::build`]).
pub fn all<T: Combinable, E: Into<Expect<T>>>(items: impl IntoIterator<Item = E>) -> Expect<T> {
    matcher(
        "all",
        Value::Array(items.into_iter().map(|e| e.into().value).collect()),
    )
}

/// At least one must hold (an empty list is an error from [`super::build`]).
pub fn any<T: Combinable, E: Into<Expect<T>>>(items: impl IntoIterator<Item = E>) -> Expect<T> {
    matcher(
        "any",
        Value::Array(items.into_iter().map(|e| e.into().value).collect()),
    )
}
