//! `--stats` on standard error.

use std::fmt::Write as _;
use std::io;
use std::time::Duration;

use crate::host::Stats;
use crate::report::Reporter;
use crate::run::Summary;

/// `--stats`: what each target's run cost, on standard error when the run ends.
/// Without `--stats`, only why a target could not be gathered the fast way.
pub(super) struct StatsPrinter {
    /// Everything, or only why a target was gathered the slower way.
    pub(super) all: bool,
}

impl Reporter for StatsPrinter {
    fn start(&mut self, _total: usize) -> io::Result<()> {
        Ok(())
    }

    fn resource(&mut self, _results: &[crate::run::CheckResult]) -> io::Result<()> {
        Ok(())
    }

    fn target_done(&mut self, target: &str, stats: &Stats) -> io::Result<()> {
        if self.all {
            eprintln!("{}", stats_text(target, stats));
        } else if let Some(why) = &stats.fallback {
            eprintln!("note: {target} was gathered by {}: {why}", stats.mode);
        }
        Ok(())
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        Ok(())
    }
}

/// The `--stats` lines for one target.
fn stats_text(target: &str, stats: &Stats) -> String {
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    let [connect, setup, gather, judge, teardown] = stats.phases;
    let mut text = format!(
        "stats {target}: gathered by {}, {} round trip{}, {} sent, {} received\n  \
         connect {}, setup {}, gather {}, judge {}, teardown {}",
        stats.mode,
        stats.round_trips,
        if stats.round_trips == 1 { "" } else { "s" },
        bytes(stats.bytes_sent),
        bytes(stats.bytes_received),
        ms(connect),
        ms(setup),
        ms(gather),
        ms(judge),
        ms(teardown),
    );
    if !stats.alone.is_empty() {
        let _ = write!(
            text,
            "\n  fetched alone ({} shown): {}",
            stats.alone.len(),
            stats.alone.join(", ")
        );
    }
    if let Some(why) = &stats.fallback {
        let _ = write!(text, "\n  fallback: {why}");
    }
    text
}

fn bytes(n: u64) -> String {
    // Tenths of a unit are all a person reads here.
    let tenths = |unit: u64| (n * 10).div_ceil(unit);
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{}.{} KiB", tenths(1024) / 10, tenths(1024) % 10),
        _ => format!("{}.{} MiB", tenths(1 << 20) / 10, tenths(1 << 20) % 10),
    }
}
