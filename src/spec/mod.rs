//! Specs: what the user declared, loaded and type-checked without touching a target.

mod decl;
mod declare;
mod error;
mod load;
mod matcher;
mod source;
mod suite;

pub use decl::{Check, Declared, Spec};
pub use error::{SpecError, SpecErrors, did_you_mean};
pub use load::{load, load_str};
pub use source::{Location, Source};
pub use suite::{Suite, SuiteTarget, load_suite};
