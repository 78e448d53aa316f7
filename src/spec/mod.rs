//! Specs: what the user declared, loaded and type-checked without touching a target.

mod decl;
mod declare;
mod error;
mod load;
mod matcher;
mod source;
mod suite;
mod vars;
pub mod when;

pub use decl::{Check, Declared, Spec};
pub use declare::{MAX_DURATION, parse_duration};
pub use error::{SpecError, SpecErrors, did_you_mean};
pub use load::{load, load_str, load_with};
pub use source::{Location, Source};
pub use suite::{Suite, SuiteTarget, load_suite, load_suite_with};
pub use vars::{Vars, parse_var};
pub use when::When;
