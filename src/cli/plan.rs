//! What a run checks, before anything is touched: SPEC arguments × targets, or a
//! suite's targets and the specs each must pass, loaded and type-checked.

use std::path::PathBuf;
use std::time::Duration;

use super::SpecArgs;
use crate::backend::TargetSpec;
use crate::exit::Exit;
use crate::plan::{Filter, Plan, SuitePlan};
use crate::spec;

/// One target and the plan it must pass, before anything is touched.
pub(super) struct Planned {
    pub(super) target: TargetSpec,
    /// Its name in the suite, for `when` conditions (`target == "web"`).
    pub(super) name: Option<String>,
    /// The suite roles that gave it its specs.
    pub(super) roles: Vec<String>,
    pub(super) plan: Plan,
    /// A suite's targets that must be up before this one starts (indexes).
    pub(super) after: Vec<usize>,
    /// Started only because a chosen target starts after it (`--only`): not checked.
    pub(super) checked: bool,
}

impl Planned {
    /// The target as reports name it: its suite name, else as the user wrote it.
    pub(super) fn shown(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.target.name())
    }
}

/// Every target of a run and what it must pass.
pub(super) struct Plans {
    /// The targets, in order.
    pub(super) targets: Vec<Planned>,
    /// A suite's `[defaults] within`, for resources without their own.
    pub(super) within: Option<Duration>,
}

/// What to check: every SPEC on each target (`--target` URIs and `--image` images;
/// `local` when none), or, with no SPEC, the suite's targets and the specs each must
/// pass. Everything is loaded and type-checked before anything runs; errors are
/// printed and become the exit code.
pub(super) fn planned(args: &SpecArgs, targets: &[TargetSpec]) -> Result<Plans, u8> {
    let vars = args.variables();
    if !args.specs.is_empty() {
        let targets = if targets.is_empty() {
            vec![TargetSpec::Uri("local".to_string())]
        } else {
            targets.to_vec()
        };
        let plan = load_plan(&args.specs, &args.filter, &vars)?;
        return Ok(Plans {
            targets: targets
                .into_iter()
                .map(|target| Planned {
                    target,
                    name: None,
                    roles: Vec::new(),
                    plan: plan.clone(),
                    after: Vec::new(),
                    checked: true,
                })
                .collect(),
            within: None,
        });
    }
    if !targets.is_empty() {
        eprintln!(
            "error: `--target` and `--image` need SPEC arguments; a suite (`{}`) names its own targets",
            args.suite.display()
        );
        return Err(Exit::INVALID);
    }
    if !args.suite.exists() {
        eprintln!(
            "error: no SPEC given and no suite `{}` here\n  = help: name specs (`ispec run specs/`) or write an `ispec.toml` (see the book's Commands chapter)",
            args.suite.display()
        );
        return Err(Exit::INVALID);
    }
    let mut suite = spec::load_suite_with(&args.suite, &vars).map_err(|errors| {
        eprint!("{errors}");
        Exit::INVALID
    })?;
    if !args.only.is_empty() {
        suite = suite.only(&args.only).map_err(|e| {
            eprintln!("error: {e}");
            Exit::INVALID
        })?;
    }
    let filter = Filter {
        patterns: args.filter.clone(),
    };
    let planned = Plan::for_suite(&suite, &filter, &vars)
        .map_err(|errors| {
            eprint!("{errors}");
            Exit::INVALID
        })?
        .into_iter()
        .map(
            |SuitePlan {
                 target,
                 plan,
                 after,
             }| Planned {
                name: Some(target.name),
                target: target.target,
                roles: target.roles,
                plan,
                after,
                checked: target.checked,
            },
        )
        .collect();
    Ok(Plans {
        targets: planned,
        within: suite.defaults.within,
    })
}

/// Loads and plans specs, printing spec errors; the error is the exit code.
fn load_plan(specs: &[PathBuf], filter: &[String], vars: &spec::Vars) -> Result<Plan, u8> {
    match spec::load_with(specs, vars) {
        Ok(spec) => Ok(Plan::build(
            spec,
            &Filter {
                patterns: filter.to_vec(),
            },
        )),
        Err(errors) => {
            eprint!("{errors}");
            Err(Exit::INVALID)
        }
    }
}
