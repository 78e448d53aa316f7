//! ispec: behavioral provisioning tests for machine images, containers and hosts.
//!
//! Data flows one way: spec files are loaded and type-checked ([`spec`]), planned
//! ([`plan`]), observed on a target through a [`backend`] wrapped in a memoizing
//! [`host::Host`], judged locally ([`run`]) and reported ([`report`]);
//! [`fleet`] checks several targets at once.
//!
//! ```no_run
//! use ispec::{host::Host, plan::{Filter, Plan}, report, run};
//!
//! let spec = ispec::spec::load(&["specs/examples/localhost.toml".into()]).expect("valid spec");
//! let plan = Plan::build(spec, &Filter::default());
//! let host = Host::local();
//! let mut out = report::reporter(report::Format::Tap, Box::new(std::io::stdout()), false);
//! out.start(plan.check_count()).unwrap();
//! let summary = run::execute(&plan, &host, &run::RunOptions::default(), out.as_mut()).unwrap();
//! out.finish(&summary).unwrap();
//! assert!(summary.ok());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backend;
pub mod cli;
pub mod cmd;
pub mod dsl;
pub mod exit;
pub mod expect;
pub mod fleet;
pub mod gather;
pub mod host;
pub mod os;
pub mod plan;
pub mod report;
pub mod resource;
pub mod run;
pub mod spec;
