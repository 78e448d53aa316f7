//! Spec errors: what is wrong, where, and what to write instead.

use std::fmt;

use super::source::Source;

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

/// The error for a file that is not TOML, at the place the parser stopped: its first
/// line as the message, the rest as the label, and `help` (or `duplicate_help` for a
/// key written twice) to say what the file should look like. Spec files and suites
/// both use it, so both explain a TOML mistake alike.
pub(super) fn invalid_toml(
    source: &Source,
    e: &toml::de::Error,
    help: &str,
    duplicate_help: &str,
) -> SpecError {
    let span = e.span().unwrap_or(0..0);
    let mut lines = e.message().lines();
    let message = lines.next().unwrap_or("invalid TOML");
    let label: Vec<&str> = lines.map(str::trim).filter(|l| !l.is_empty()).collect();
    // The mistake may be earlier (an unclosed quote), so say only where reading stopped.
    let label = if label.is_empty() {
        "the TOML parser stopped here".to_string()
    } else {
        label.join("; ")
    };
    SpecError {
        snippet: Some(source.snippet(&span, &label)),
        help: Some(
            if message.contains("duplicate key") {
                duplicate_help
            } else {
                help
            }
            .to_string(),
        ),
        message: format!("invalid TOML: {message}"),
    }
}

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
