//! The terminal view: one line per resource with ✓/✗, and under a resource that did
//! not pass, each failing check with expected and actual values and its spec line.

use std::io::{self, Write};

use console::Style;

use super::Reporter;
use crate::run::{CheckResult, Outcome, Summary};

/// Human-readable output.
pub struct Human {
    out: Box<dyn Write + Send>,
    color: bool,
    quiet: bool,
    target: Option<String>,
}

impl Human {
    /// Writes to `out`, with colors only if `color`.
    pub fn new(out: Box<dyn Write + Send>, color: bool) -> Self {
        Self {
            out,
            color,
            quiet: false,
            target: None,
        }
    }

    /// Shows only resources that failed or errored (and the summary): for long specs
    /// where the passing lines would bury the news.
    #[must_use]
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    fn style(&self, style: Style) -> Style {
        style.force_styling(self.color)
    }
}

/// A message's later lines indented under its first, so a multi-line error (a
/// command's stderr, say) stays inside its resource's block.
fn continued(text: &str) -> String {
    text.trim_end_matches('\n').replace('\n', "\n        ")
}

impl Reporter for Human {
    fn start(&mut self, _total: usize) -> io::Result<()> {
        Ok(())
    }

    fn resource(&mut self, results: &[CheckResult]) -> io::Result<()> {
        let Some(first) = results.first() else {
            return Ok(());
        };
        let news = results
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Fail | Outcome::Error(_)));
        if self.quiet && !news {
            return Ok(());
        }
        if self.target.as_deref() != Some(first.target.as_str()) {
            let header = self.style(Style::new().bold());
            writeln!(
                self.out,
                "{}",
                header.apply_to(format!("Target {}", first.target))
            )?;
            self.target = Some(first.target.clone());
        }
        let (mark, style) = if results.iter().any(|r| r.outcome == Outcome::Fail) {
            ("✗", Style::new().red())
        } else if results
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Error(_)))
        {
            ("!", Style::new().red())
        } else if results
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Skip(_)))
        {
            ("-", Style::new().yellow())
        } else {
            ("✓", Style::new().green())
        };
        let style = self.style(style);
        let dim = self.style(Style::new().dim());
        write!(
            self.out,
            "  {} {}",
            style.apply_to(mark),
            first.resource_name()
        )?;
        if first.attempts > 1 {
            // A failure after retries says how long it was given: the values below
            // are the last attempt's.
            let note = if mark == "✓" || mark == "-" {
                format!(" (after {} attempts)", first.attempts)
            } else {
                format!(
                    " (still failing after {} attempts in {:.1}s; last values shown)",
                    first.attempts,
                    first.duration.as_secs_f64()
                )
            };
            write!(self.out, "{}", dim.apply_to(note))?;
        }
        writeln!(self.out)?;
        for r in results {
            let at = dim.apply_to(format!("({})", r.location.short()));
            match &r.outcome {
                Outcome::Pass => {}
                Outcome::Fail => {
                    let red = self.style(Style::new().red());
                    writeln!(
                        self.out,
                        "      {}: expected {}, got {}  {at}",
                        red.apply_to(r.property),
                        r.expected,
                        r.got()
                    )?;
                }
                Outcome::Error(why) => {
                    let red = self.style(Style::new().red());
                    writeln!(
                        self.out,
                        "      {}: error: {}  {at}",
                        red.apply_to(r.property),
                        continued(why)
                    )?;
                }
                Outcome::Skip(why) => {
                    writeln!(
                        self.out,
                        "      {}",
                        dim.apply_to(format!("{}: skipped: {}", r.property, continued(why)))
                    )?;
                }
            }
        }
        Ok(())
    }

    fn target_output(&mut self, target: &str, lines: &[String]) -> io::Result<()> {
        let header = self.style(Style::new().bold());
        writeln!(self.out)?;
        writeln!(
            self.out,
            "{}",
            header.apply_to(format!(
                "Output of {target} (last {} line{}):",
                lines.len(),
                if lines.len() == 1 { "" } else { "s" }
            ))
        )?;
        for line in lines {
            writeln!(self.out, "    {line}")?;
        }
        self.out.flush()
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        let style = self.style(if s.ok() {
            Style::new().green().bold()
        } else {
            Style::new().red().bold()
        });
        let verdict = if s.ok() { "PASS" } else { "FAIL" };
        // A blank line parts the summary from the resources, when there were any.
        if self.target.is_some() {
            writeln!(self.out)?;
        }
        writeln!(
            self.out,
            "{} {} check{}: {} passed, {} failed, {} errored, {} skipped in {:.2}s",
            style.apply_to(verdict),
            s.total(),
            if s.total() == 1 { "" } else { "s" },
            s.passed,
            s.failed,
            s.errored,
            s.skipped,
            s.duration.as_secs_f64()
        )?;
        self.out.flush()
    }
}
