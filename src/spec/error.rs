//! Spec errors: what is wrong, where, and what to write instead.

use std::fmt;

/// One problem in a spec, rendered with its file, line, column and the offending line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// What is wrong, a lowercase fragment.
    pub message: String,
    /// The `--> file:line:col` block with the line and a caret, if the problem has a place.
    pub snippet: Option<String>,
    /// A hint on its own line.
    pub help: Option<String>,
}

impl SpecError {
    /// A problem with no position (a missing file, say).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            snippet: None,
            help: None,
        }
    }

    /// Adds a hint.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        if let Some(snippet) = &self.snippet {
            f.write_str(snippet)?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "  = help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

/// Every problem found in a set of specs; loading goes on past the first so a user
/// can fix them all in one pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        if self.0.len() > 1 {
            writeln!(
                f,
                "\nerror: {} problems in the specs; nothing was run",
                self.0.len()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

/// The closest of `candidates` to `word`, if one is close enough to suggest.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_only_when_close() {
        assert_eq!(
            did_you_mean("lisening", ["listening", "ip"]),
            Some("listening")
        );
        assert_eq!(did_you_mean("zzz", ["listening", "ip"]), None);
    }
}
