//! JUnit XML (through `quick-junit`): one testsuite per spec file and target, one
//! testcase per check, failures and errors with expected and actual values.

use std::fmt::Write as _;
use std::io::{self, Write};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::Reporter;
use crate::run::{CheckResult, Outcome, Summary};

/// JUnit XML output; written whole at the end of the run.
pub struct Junit {
    out: Box<dyn Write + Send>,
    results: Vec<CheckResult>,
    /// The last lines of output of each target that showed them.
    output: Vec<(String, Vec<String>)>,
}

impl Junit {
    /// Writes to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out,
            results: Vec::new(),
            output: Vec::new(),
        }
    }
}

fn case(r: &CheckResult) -> TestCase {
    let detail = || {
        let mut text = format!("expected: {}\n", r.expected);
        if let Some(actual) = &r.actual {
            let _ = writeln!(text, "actual: {actual}");
        }
        if let Some(note) = &r.note {
            let _ = writeln!(text, "note: {note}");
        }
        let _ = write!(
            text,
            "at: {}\ntarget: {}\nattempts: {}\n",
            r.location.short(),
            r.target,
            r.attempts
        );
        text
    };
    let status = match &r.outcome {
        Outcome::Pass => TestCaseStatus::success(),
        Outcome::Skip(why) => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(why.as_str());
            s
        }
        Outcome::Fail => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!(
                "{}: expected {}, got {}",
                r.property,
                r.expected,
                r.got()
            ));
            s.set_type("fail");
            s.set_description(detail());
            s
        }
        Outcome::Error(why) => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            // XML readers turn a newline in an attribute into a space; say so openly and
            // keep the message's lines in the element's text.
            s.set_message(format!("{}: {}", r.property, why.replace('\n', " ")));
            s.set_type("error");
            s.set_description(format!("{}\n\n{}", why.trim_end(), detail()));
            s
        }
    };
    let mut case = TestCase::new(format!("{} › {}", r.resource_name(), r.property), status);
    // Jenkins splits a classname at its last dot into package and class; a kind has
    // no dot, so results group as target (package) › kind (class), whatever the id.
    case.set_classname(format!("{}.{}", r.target, r.kind));
    case.set_time(r.duration);
    case
}

impl Reporter for Junit {
    fn start(&mut self, _total: usize) -> io::Result<()> {
        Ok(())
    }

    fn resource(&mut self, results: &[CheckResult]) -> io::Result<()> {
        self.results.extend_from_slice(results);
        Ok(())
    }

    fn target_output(&mut self, target: &str, lines: &[String]) -> io::Result<()> {
        self.output.push((target.to_string(), lines.to_vec()));
        Ok(())
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        let mut report = Report::new("ispec");
        report.set_time(summary.duration);
        let several_targets = self
            .results
            .iter()
            .any(|r| self.results.first().is_some_and(|f| f.target != r.target));
        let mut suites: Vec<(String, String, TestSuite)> = Vec::new();
        for r in &self.results {
            let file = r.location.file.display().to_string();
            let at = suites
                .iter()
                .position(|(t, f, _)| *t == r.target && *f == file)
                .unwrap_or_else(|| {
                    let name = if several_targets {
                        format!("{} {file}", r.target)
                    } else {
                        file.clone()
                    };
                    let mut suite = TestSuite::new(name);
                    suite.add_property(("target", r.target.as_str()));
                    suites.push((r.target.clone(), file.clone(), suite));
                    suites.len() - 1
                });
            suites[at].2.add_test_case(case(r));
        }
        for (target, _, suite) in &mut suites {
            // What the target printed, on each of its suites: a reader shows it with
            // the failures of any of them.
            if let Some((_, lines)) = self.output.iter().find(|(t, _)| t == target) {
                suite.set_system_out(format!("{}\n", lines.join("\n")));
            }
            // quick-junit counts skips as `disabled`; JUnit readers (junitparser, Jenkins'
            // schema, GitLab) read `skipped`.
            let skipped = suite
                .test_cases
                .iter()
                .filter(|c| matches!(c.status, TestCaseStatus::Skipped { .. }))
                .count();
            suite
                .extra
                .insert("skipped".into(), skipped.to_string().into());
        }
        report.add_test_suites(suites.into_iter().map(|(_, _, s)| s));
        report
            .serialize(&mut self.out)
            .map_err(|e| io::Error::other(e.to_string()))?;
        writeln!(self.out)?;
        self.out.flush()
    }
}
