//! JSON: one document with every result and the summary. The field names are a
//! contract (documented in the book's report chapter); `version` changes if they do.

use std::io::{self, Write};

use serde::Serialize;

use super::{Reporter, duration_secs};
use crate::host::Stats;
use crate::run::{CheckResult, Summary};

/// JSON output; written whole at the end of the run.
pub struct Json {
    out: Box<dyn Write + Send>,
    results: Vec<ResultDoc>,
    targets: Vec<TargetDoc>,
    /// The last lines of output of each target that showed them.
    output: Vec<(String, Vec<String>)>,
}

/// What one target's run cost (`--stats`).
#[derive(Serialize)]
struct TargetDoc {
    target: String,
    gather: String,
    fallback: Option<String>,
    round_trips: u64,
    bytes_sent: u64,
    bytes_received: u64,
    phases_s: PhasesDoc,
    /// The last lines it printed, when its checks did not all hold and it has output
    /// (a container); `null` otherwise.
    output: Option<Vec<String>>,
}

#[derive(Serialize)]
struct PhasesDoc {
    connect: f64,
    setup: f64,
    gather: f64,
    judge: f64,
    teardown: f64,
}

#[derive(Serialize)]
struct ResultDoc {
    target: String,
    kind: &'static str,
    id: String,
    title: Option<String>,
    property: &'static str,
    outcome: &'static str,
    expected: String,
    actual: Option<String>,
    /// Why the value is what it is, when the target said; left out otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    message: Option<String>,
    file: String,
    line: u32,
    column: u32,
    duration_s: f64,
    attempts: u32,
}

#[derive(Serialize)]
struct SummaryDoc {
    passed: usize,
    failed: usize,
    errored: usize,
    skipped: usize,
    total: usize,
    ok: bool,
    duration_s: f64,
}

#[derive(Serialize)]
struct Doc<'a> {
    version: u32,
    summary: SummaryDoc,
    results: &'a [ResultDoc],
    targets: &'a [TargetDoc],
}

impl Json {
    /// Writes to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out,
            results: Vec::new(),
            targets: Vec::new(),
            output: Vec::new(),
        }
    }
}

impl Reporter for Json {
    fn start(&mut self, _total: usize) -> io::Result<()> {
        Ok(())
    }

    fn resource(&mut self, results: &[CheckResult]) -> io::Result<()> {
        self.results.extend(results.iter().map(|r| ResultDoc {
            target: r.target.clone(),
            kind: r.kind,
            id: r.id.clone(),
            title: r.title.clone(),
            property: r.property,
            outcome: r.outcome.word(),
            expected: r.expected.clone(),
            actual: r.actual.clone(),
            note: r.note.clone(),
            message: match &r.outcome {
                crate::run::Outcome::Skip(m) | crate::run::Outcome::Error(m) => Some(m.clone()),
                _ => None,
            },
            file: r.location.file.display().to_string(),
            line: r.location.line,
            column: r.location.column,
            duration_s: duration_secs(r.duration),
            attempts: r.attempts,
        }));
        Ok(())
    }

    fn target_output(&mut self, target: &str, lines: &[String]) -> io::Result<()> {
        self.output.push((target.to_string(), lines.to_vec()));
        Ok(())
    }

    fn target_done(&mut self, target: &str, stats: &Stats) -> io::Result<()> {
        let [connect, setup, gather, judge, teardown] = stats.phases.map(duration_secs);
        self.targets.push(TargetDoc {
            target: target.to_string(),
            gather: stats.mode.clone(),
            fallback: stats.fallback.clone(),
            round_trips: stats.round_trips,
            bytes_sent: stats.bytes_sent,
            bytes_received: stats.bytes_received,
            phases_s: PhasesDoc {
                connect,
                setup,
                gather,
                judge,
                teardown,
            },
            output: self
                .output
                .iter()
                .find(|(t, _)| t == target)
                .map(|(_, lines)| lines.clone()),
        });
        Ok(())
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        let doc = Doc {
            version: 1,
            summary: SummaryDoc {
                passed: s.passed,
                failed: s.failed,
                errored: s.errored,
                skipped: s.skipped,
                total: s.total(),
                ok: s.ok(),
                duration_s: duration_secs(s.duration),
            },
            results: &self.results,
            targets: &self.targets,
        };
        serde_json::to_writer_pretty(&mut self.out, &doc)?;
        writeln!(self.out)?;
        self.out.flush()
    }
}
