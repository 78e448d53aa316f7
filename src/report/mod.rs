//! Reporters turn results into text: `human`, `tap`, `junit`, `json`. They never
//! touch a target and never choose the exit code.

mod file;
#[cfg(test)]
mod golden;
mod human;
mod json;
mod junit;
mod tap;

use std::io::{self, Write};
use std::str::FromStr;

use crate::host::Stats;
use crate::run::{CheckResult, Summary};

pub use file::ReportFile;
pub use human::Human;
pub use json::Json;
pub use junit::Junit;
pub use tap::Tap;

/// Receives a run's results.
pub trait Reporter: Send {
    /// Called once before any result, with the number of checks planned.
    fn start(&mut self, total: usize) -> io::Result<()>;
    /// Called once per resource, in plan order, with all of its checks' results.
    fn resource(&mut self, results: &[CheckResult]) -> io::Result<()>;
    /// Called as soon as a resource's checks are judged, in whatever order resources
    /// (and targets) finish, before [`Reporter::resource`] hands the same results on in
    /// order. For progress displays; reports ignore it.
    fn progress(&mut self, _results: &[CheckResult]) {}
    /// Called after every target's last resource, before any [`Reporter::target_done`],
    /// for each target whose checks did not all hold and that has output to show (a
    /// container): the last `lines` it printed, oldest first.
    fn target_output(&mut self, _target: &str, _lines: &[String]) -> io::Result<()> {
        Ok(())
    }
    /// Called once per target after every target's last resource (and its teardown),
    /// in target order, with what the target's run cost.
    fn target_done(&mut self, _target: &str, _stats: &Stats) -> io::Result<()> {
        Ok(())
    }
    /// Called once at the end.
    fn finish(&mut self, summary: &Summary) -> io::Result<()>;
}

/// A report format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For people at a terminal.
    Human,
    /// TAP version 13.
    Tap,
    /// JUnit XML.
    Junit,
    /// JSON, one document.
    Json,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "human" => Ok(Self::Human),
            "tap" => Ok(Self::Tap),
            "junit" => Ok(Self::Junit),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown format `{other}`: use `human`, `tap`, `junit` or `json`"
            )),
        }
    }
}

/// Builds the reporter for `format`, writing to `out`. `color` is for `human` only.
pub fn reporter(format: Format, out: Box<dyn Write + Send>, color: bool) -> Box<dyn Reporter> {
    match format {
        Format::Human => Box::new(Human::new(out, color)),
        Format::Tap => Box::new(Tap::new(out)),
        Format::Junit => Box::new(Junit::new(out)),
        Format::Json => Box::new(Json::new(out)),
    }
}

/// Several reporters fed at once, e.g. a terminal view and a JUnit file.
pub struct Tee {
    reporters: Vec<Box<dyn Reporter>>,
    progress: Option<indicatif::ProgressBar>,
}

impl Tee {
    /// Feeds every reporter; shows `progress` (a bar on a terminal) between writes.
    pub fn new(
        reporters: Vec<Box<dyn Reporter>>,
        progress: Option<indicatif::ProgressBar>,
    ) -> Self {
        Self {
            reporters,
            progress,
        }
    }

    fn each(&mut self, mut f: impl FnMut(&mut dyn Reporter) -> io::Result<()>) -> io::Result<()> {
        let reporters = &mut self.reporters;
        let mut run = || reporters.iter_mut().try_for_each(|r| f(r.as_mut()));
        match &self.progress {
            Some(bar) => bar.suspend(run),
            None => run(),
        }
    }
}

impl Reporter for Tee {
    fn start(&mut self, total: usize) -> io::Result<()> {
        if let Some(bar) = &self.progress {
            bar.set_length(total as u64);
        }
        self.each(|r| r.start(total))
    }

    fn resource(&mut self, results: &[CheckResult]) -> io::Result<()> {
        self.each(|r| r.resource(results))
    }

    fn progress(&mut self, results: &[CheckResult]) {
        for r in &mut self.reporters {
            r.progress(results);
        }
        if let Some(bar) = &self.progress {
            bar.inc(results.len() as u64);
            if let Some(first) = results.first() {
                bar.set_message(first.resource_name());
            }
        }
    }

    fn target_output(&mut self, target: &str, lines: &[String]) -> io::Result<()> {
        self.each(|r| r.target_output(target, lines))
    }

    fn target_done(&mut self, target: &str, stats: &Stats) -> io::Result<()> {
        self.each(|r| r.target_done(target, stats))
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        self.each(|r| r.finish(summary))
    }
}

/// Seconds with millisecond precision, as machine reports print durations.
pub(crate) fn duration_secs(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
