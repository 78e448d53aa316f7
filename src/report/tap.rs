//! TAP version 13: the plan line first (every check is known before the run), one
//! line per check streamed as it finishes, a YAML block under each failure.

use std::io::{self, Write};

use super::{Reporter, duration_secs};
use crate::run::{CheckResult, Outcome, Summary};

/// TAP 13 output, as `prove` and Jenkins' TAP plugin read it.
pub struct Tap {
    out: Box<dyn Write + Send>,
    n: usize,
}

impl Tap {
    /// Writes to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self { out, n: 0 }
    }
}

/// TAP descriptions end at `#` (a directive follows) and at a newline.
fn description(r: &CheckResult) -> String {
    format!("{} › {}", r.resource_name(), r.property)
        .replace('\\', "\\\\")
        .replace('#', "\\#")
        .replace(['\n', '\r'], " ")
}

/// A YAML double-quoted scalar.
fn yaml(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl Reporter for Tap {
    fn start(&mut self, total: usize) -> io::Result<()> {
        writeln!(self.out, "TAP version 13\n1..{total}")
    }

    fn resource(&mut self, results: &[CheckResult]) -> io::Result<()> {
        for r in results {
            self.n += 1;
            let (ok, directive) = match &r.outcome {
                Outcome::Pass => ("ok", String::new()),
                Outcome::Skip(why) => ("ok", format!(" # SKIP {}", why.replace('\n', " "))),
                Outcome::Fail | Outcome::Error(_) => ("not ok", String::new()),
            };
            writeln!(self.out, "{ok} {} - {}{directive}", self.n, description(r))?;
            if matches!(r.outcome, Outcome::Fail | Outcome::Error(_)) {
                let (severity, message) = match &r.outcome {
                    Outcome::Error(why) => ("error", why.clone()),
                    _ => ("fail", format!("{} does not hold", r.property)),
                };
                writeln!(self.out, "  ---")?;
                writeln!(self.out, "  message: {}", yaml(&message))?;
                writeln!(self.out, "  severity: {severity}")?;
                writeln!(self.out, "  target: {}", yaml(&r.target))?;
                writeln!(self.out, "  expected: {}", yaml(&r.expected))?;
                if let Some(actual) = &r.actual {
                    writeln!(self.out, "  actual: {}", yaml(actual))?;
                }
                if let Some(note) = &r.note {
                    writeln!(self.out, "  note: {}", yaml(note))?;
                }
                writeln!(self.out, "  at: {}", yaml(&r.location.short()))?;
                writeln!(self.out, "  attempts: {}", r.attempts)?;
                writeln!(self.out, "  duration_s: {}", duration_secs(r.duration))?;
                writeln!(self.out, "  ...")?;
            }
        }
        self.out.flush()
    }

    fn target_output(&mut self, target: &str, lines: &[String]) -> io::Result<()> {
        writeln!(
            self.out,
            "# output of {target} (last {} lines):",
            lines.len()
        )?;
        for line in lines {
            writeln!(self.out, "#   {line}")?;
        }
        self.out.flush()
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        writeln!(
            self.out,
            "# {} passed, {} failed, {} errored, {} skipped",
            s.passed, s.failed, s.errored, s.skipped
        )?;
        self.out.flush()
    }
}
