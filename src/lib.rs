//! ispec: behavioral provisioning tests for machine images, containers and hosts.
//!
//! As a library, three ways in:
//!
//! - [`Run`] and [`Target`]: give specs and targets, [`Run::execute`], and read the
//!   results as values ([`Report`]); nothing is printed.
//! - [`harness::Harness`]: every check a `cargo test` trial (libtest-mimic), for a
//!   `[[test]] harness = false` target.
//! - [`spec::load`] / [`spec::load_str`] for TOML specs.
//!
//! ```
//! use ispec::{Run, Target};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let spec = dir.path().join("root.toml");
//! std::fs::write(&spec, "[user.root]\nuid = 0\n").unwrap();
//! let report = Run::new().target(Target::local()).spec_file(&spec).execute().unwrap();
//! assert!(report.ok(), "{:?}", report.failures().collect::<Vec<_>>());
//! ```
//!
//! Inside, data flows one way: spec files are loaded and type-checked ([`spec`]),
//! planned ([`plan`]), observed on a target through a [`backend`] wrapped in a
//! memoizing [`host::Host`] that gathers facts in bulk ([`gather`]), judged locally
//! ([`run`]) and reported ([`report`]); [`fleet`] checks several targets at once.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
pub mod backend;
#[doc(hidden)]
pub mod cli;
pub mod cmd;
pub mod dsl;
pub mod exit;
pub mod expect;
pub mod fleet;
pub mod gather;
pub mod harness;
pub mod host;
pub mod os;
pub mod plan;
pub mod report;
pub mod resource;
pub mod run;
pub mod spec;

pub use api::{Report, Run, RunError, Target};
