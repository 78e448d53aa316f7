//! Commands as argv vectors, their output, and the one place that quotes for a shell.
//!
//! Resources never build command lines by string formatting: a resource id such as
//! `$(touch /tmp/pwned)` must reach the target as data. Transports that can pass an
//! argv (the local backend, Docker exec) pass it as is; transports that need one line
//! (SSH) call [`Cmd::to_shell_line`], the only quoting code in the crate.

use std::fmt;

/// A program and its arguments, never a shell string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cmd {
    program: String,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
}

impl Cmd {
    /// Starts a command that runs `program` (looked up on the target's `PATH`).
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            stdin: None,
        }
    }

    /// Runs `script` with `/bin/sh -c`; for fixed scripts and for `command` checks,
    /// whose text is a shell command by intent. Data goes in through `args`, which the
    /// script reads as `"$1"`, `"$2"`, ... and never by splicing.
    pub fn shell(script: impl Into<String>) -> Self {
        Self::new("/bin/sh").arg("-c").arg(script).arg("ispec")
    }

    /// Appends one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Feeds `input` to the command's standard input.
    #[must_use]
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// The program to run.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The arguments after the program.
    pub fn argv_tail(&self) -> &[String] {
        &self.args
    }

    /// The bytes for standard input, if any.
    pub fn input(&self) -> Option<&[u8]> {
        self.stdin.as_deref()
    }

    /// The whole argv, program first.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }

    /// One POSIX shell line that runs exactly this argv: every word single-quoted.
    pub fn to_shell_line(&self) -> String {
        self.argv()
            .iter()
            .map(|w| quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_shell_line())
    }
}

/// Quotes one word for a POSIX shell: inside single quotes nothing is special, and a
/// single quote itself is closed, escaped and reopened.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        return word.to_string();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for c in word.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// What a finished command left behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// The exit status; `None` when the command was killed by a signal.
    pub status: Option<i32>,
    /// Everything written to standard output.
    pub stdout: Vec<u8>,
    /// Everything written to standard error.
    pub stderr: Vec<u8>,
}

impl Output {
    /// Returns true if and only if the command exited with status 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (invalid UTF-8 replaced), trimmed.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_are_left_alone() {
        assert_eq!(
            Cmd::new("ls").arg("-l").arg("/etc").to_shell_line(),
            "ls -l /etc"
        );
    }

    #[test]
    fn metacharacters_are_quoted() {
        let cmd = Cmd::new("stat")
            .arg("$(touch /tmp/pwned)")
            .arg("a'b")
            .arg("x;y`z`");
        assert_eq!(
            cmd.to_shell_line(),
            r"stat '$(touch /tmp/pwned)' 'a'\''b' 'x;y`z`'"
        );
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a\nb"), "'a\nb'");
    }

    #[test]
    fn quoted_words_reach_a_real_shell_as_data() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("pwned");
        let nasty = [
            format!("$(touch {})", marker.display()),
            format!("`touch {}`", marker.display()),
            format!("; touch {}", marker.display()),
            format!("'\"\n touch {}", marker.display()),
        ];
        let cmd = Cmd::new("printf").arg("%s\\0").args(nasty.iter().cloned());
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd.to_shell_line())
            .output()
            .unwrap();
        assert!(out.status.success());
        let words: Vec<&[u8]> = out
            .stdout
            .split(|b| *b == 0)
            .filter(|w| !w.is_empty())
            .collect();
        let expected: Vec<&[u8]> = nasty.iter().map(String::as_bytes).collect();
        assert_eq!(words, expected);
        assert!(!marker.exists(), "a quoted word was run as code");
    }
}
