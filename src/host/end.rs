//! The end of a target's session: the output a failing target shows in the report,
//! then closing it (a throwaway container goes). Both count to the teardown.

use std::time::Instant;

use super::{Host, Phase};

impl Host {
    /// The last `lines` lines the target's main program printed, or why they could
    /// not be read; `None` for a target with no such output (a host). Reporting, not
    /// checking: its time counts to the teardown, and it is no round trip.
    pub fn output_tail(&self, lines: usize) -> Option<Result<Vec<String>, String>> {
        let began = Instant::now();
        let tail = self.shared.backend.output_tail(lines)?;
        self.add_phase(Phase::Teardown, began.elapsed());
        Some(
            tail.map(|text| text.lines().map(printable).collect())
                .map_err(|e| e.to_string()),
        )
    }

    /// Ends the session with the target (removes a throwaway container), timed as
    /// teardown.
    pub fn close(&self) {
        let began = Instant::now();
        self.shared.backend.close();
        self.add_phase(Phase::Teardown, began.elapsed());
    }
}

/// A line of a target's output as reports can carry it: without terminal escapes
/// (colors, cursor moves) or other control characters, which become `?`.
fn printable(line: &str) -> String {
    console::strip_ansi_codes(line.trim_end_matches('\r'))
        .chars()
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_lines_lose_escapes_and_control_characters() {
        assert_eq!(
            printable("\u{1b}[31merror\u{1b}[0m: bad\tconfig\u{7}\r"),
            "error: bad\tconfig?"
        );
        assert_eq!(printable("plain"), "plain");
    }
}
