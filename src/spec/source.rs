//! Spec sources and positions in them: byte span → `file:line:col`, and the snippet
//! with a caret that every spec error shows.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// Where something was declared: a spec file position, or a Rust call site.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    /// The spec file, as the user named it.
    pub file: Arc<Path>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

impl Location {
    /// `file:line`, the short form reports print next to a failure.
    pub fn short(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// A spec file's name and text.
#[derive(Clone, Debug)]
pub struct Source {
    /// The file, as the user named it.
    pub path: Arc<Path>,
    /// Its whole text.
    pub text: Arc<str>,
}

impl Source {
    /// The location of byte `offset`.
    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = self.text[line_start..offset].chars().count() + 1;
        Location {
            file: Arc::clone(&self.path),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }

    /// Renders the line holding `span` with carets under it and `label` after them.
    pub fn snippet(&self, span: &Range<usize>, label: &str) -> String {
        let start = span.start.min(self.text.len());
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let line_text = expand_tabs(self.text[line_start..line_end].trim_end_matches('\r'));
        let loc = self.location(start);
        let number = loc.line.to_string();
        let pad = " ".repeat(number.len());
        // Tabs are shown as spaces so the carets stay under the text they point at.
        let indent = " ".repeat(expand_tabs(&self.text[line_start..start]).chars().count());
        let end = span.end.clamp(start, line_end);
        let width = expand_tabs(&self.text[start..end]).chars().count().max(1);
        let label = if label.is_empty() {
            String::new()
        } else {
            format!(" {label}")
        };
        format!(
            "{pad}--> {loc}\n{pad} |\n{number} | {line_text}\n{pad} | {indent}{carets}{label}\n",
            carets = "^".repeat(width)
        )
    }

    /// The span in this source of bytes `inner` of a string value whose TOML text is
    /// at `value` and whose decoded content is `decoded`: quotes and escapes are
    /// walked so a position inside the string (a `${VAR}`, a token of a `when`) points
    /// into the file. Where the file's text does not decode to `decoded` (the value
    /// went through variable substitution, say), the whole value.
    pub fn inside(
        &self,
        value: &Range<usize>,
        decoded: &str,
        inner: &Range<usize>,
    ) -> Range<usize> {
        let raw = self.text.get(value.clone()).unwrap_or_default();
        raw_offsets(raw, decoded)
            .and_then(|map| {
                let start = *map.get(inner.start)?;
                let end = *map.get(inner.end)?;
                Some(value.start + start..value.start + end.max(start))
            })
            .unwrap_or_else(|| value.clone())
    }
}

/// For each byte offset of `decoded` (and its end), the byte offset in `raw`, the TOML
/// text of a string (quotes included), or `None` if `raw` is not that string.
fn raw_offsets(raw: &str, decoded: &str) -> Option<Vec<usize>> {
    let (quote, basic) = if raw.starts_with(r#"""""#) {
        (3, true)
    } else if raw.starts_with("'''") {
        (3, false)
    } else if raw.starts_with('"') {
        (1, true)
    } else if raw.starts_with('\'') {
        (1, false)
    } else {
        return None;
    };
    let mut map = Vec::with_capacity(decoded.len() + 1);
    let mut at = quote;
    for ch in decoded.chars() {
        let rest = raw.get(at..)?;
        let width = if basic && rest.starts_with('\\') {
            let escaped = rest[1..].chars().next()?;
            let len = match escaped {
                'u' => 6,
                'U' => 10,
                'x' => 4,
                _ => 1 + escaped.len_utf8(),
            };
            rest.get(..len)?;
            len
        } else if rest.starts_with(ch) {
            ch.len_utf8()
        } else {
            return None;
        };
        map.extend(std::iter::repeat_n(at, ch.len_utf8()));
        at += width;
    }
    map.push(at);
    Some(map)
}

/// A tab is as wide as the terminal likes; four spaces are as wide as the caret line thinks.
fn expand_tabs(s: &str) -> String {
    s.replace('\t', "    ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_snippets() {
        let src = Source {
            path: Arc::from(Path::new("web.toml")),
            text: Arc::from("[port.\"tcp:80\"]\nlisening = true\n"),
        };
        let loc = src.location(16);
        assert_eq!(loc.to_string(), "web.toml:2:1");
        assert_eq!(
            src.snippet(&(16..24), "did you mean `listening`?"),
            " --> web.toml:2:1\n  |\n2 | lisening = true\n  | ^^^^^^^^ did you mean `listening`?\n"
        );
    }

    #[test]
    fn carets_line_up_under_tabs() {
        let src = Source {
            path: Arc::from(Path::new("web.toml")),
            text: Arc::from("[port.\"tcp:80\"]\n\tlisening = true\n"),
        };
        assert_eq!(
            src.snippet(&(17..25), "here"),
            " --> web.toml:2:2\n  |\n2 |     lisening = true\n  |     ^^^^^^^^ here\n"
        );
    }

    #[test]
    fn positions_inside_strings_walk_escapes() {
        let text = "when = \"os == \\\"x\\\" && y\"\nother = 'a${B}'\n";
        let src = Source {
            path: Arc::from(Path::new("s.toml")),
            text: Arc::from(text),
        };
        let value = 7..text.find('\n').unwrap();
        let decoded = "os == \"x\" && y";
        // `y` is byte 13 of the decoded text.
        assert_eq!(&text[src.inside(&value, decoded, &(13..14))], "y");
        assert_eq!(&text[src.inside(&value, decoded, &(6..9))], "\\\"x\\\"");
        let second = text.find('\'').unwrap()..text.len() - 1;
        assert_eq!(&text[src.inside(&second, "a${B}", &(1..5))], "${B}");
        // Text that is not what the file says: the whole value.
        assert_eq!(src.inside(&value, "other", &(0..1)), value);
    }
}
