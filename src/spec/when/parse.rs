//! The `when` language's text: tokens, then a recursive-descent parser with errors
//! that point into the condition.

use std::ops::Range;

use super::{Expr, FIELDS, FLAGS, Field};
use crate::expect::version::Op;

/// A condition that could not be parsed: where in its text, and what to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The bytes of the condition at fault.
    pub range: Range<usize>,
    /// What is wrong, a lowercase fragment.
    pub message: String,
    /// What the carets say.
    pub label: String,
    /// What to write instead.
    pub help: String,
}

/// Parses a whole condition.
pub(super) fn parse(text: &str) -> Result<Expr, ParseError> {
    let tokens = lex(text)?;
    let mut p = Parser {
        tokens: &tokens,
        at: 0,
        end: text.len(),
    };
    let expr = p.or()?;
    if let Some(t) = p.peek() {
        return Err(error(
            t.range.clone(),
            format!("unexpected {} in `when`", t.tok.describe()),
            "expected `&&`, `||` or the end",
            "join conditions with `&&` or `||`",
        ));
    }
    Ok(expr)
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Not,
    And,
    Or,
    Open,
    Close,
    Op(Op),
    Word(String),
    Str(String),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Self::Not => "`!`".into(),
            Self::And => "`&&`".into(),
            Self::Or => "`||`".into(),
            Self::Open => "`(`".into(),
            Self::Close => "`)`".into(),
            Self::Op(op) => format!("`{}`", op_text(*op)),
            Self::Word(w) => format!("`{w}`"),
            Self::Str(s) => format!("the string \"{s}\""),
        }
    }
}

/// An operator as `when` spells it (`==`, where version constraints allow `=`).
fn op_text(op: Op) -> &'static str {
    match op {
        Op::Eq => "==",
        other => other.symbol(),
    }
}

struct Token {
    tok: Tok,
    range: Range<usize>,
}

fn error(range: Range<usize>, message: String, label: &str, help: &str) -> ParseError {
    ParseError {
        range,
        message,
        label: label.to_string(),
        help: help.to_string(),
    }
}

const ATOMS_HELP: &str = "a condition is `container`, `docker`, `local`, `ssh`, `root`, \
    `os == \"debian\"`, `os-version >= \"12\"`, `arch == \"x86_64\"` or `target == \"web\"`, \
    joined with `!`, `&&`, `||` and parentheses";

fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        let two = text.get(i..i + 2).unwrap_or("");
        let (tok, len) = match c {
            _ if c.is_whitespace() => {
                i += c.len_utf8();
                continue;
            }
            '&' if two == "&&" => (Tok::And, 2),
            '|' if two == "||" => (Tok::Or, 2),
            '=' if two == "==" => (Tok::Op(Op::Eq), 2),
            '!' if two == "!=" => (Tok::Op(Op::Ne), 2),
            '<' if two == "<=" => (Tok::Op(Op::Le), 2),
            '>' if two == ">=" => (Tok::Op(Op::Ge), 2),
            '<' => (Tok::Op(Op::Lt), 1),
            '>' => (Tok::Op(Op::Gt), 1),
            '!' => (Tok::Not, 1),
            '(' => (Tok::Open, 1),
            ')' => (Tok::Close, 1),
            '"' | '\'' => {
                let Some(len) = text[i + 1..].find(c) else {
                    return Err(error(
                        i..text.len(),
                        "unclosed string in `when`".into(),
                        "no closing quote",
                        &format!("end the string with `{c}`"),
                    ));
                };
                (Tok::Str(text[i + 1..i + 1 + len].to_string()), len + 2)
            }
            // A bare number (`os-version >= 12`) is one token, so the parser can say
            // to quote it rather than stumble on its first digit.
            _ if c.is_ascii_digit() => {
                let len = bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(**b, b'.' | b'-' | b'_'))
                    .count();
                (Tok::Word(text[i..i + len].to_string()), len)
            }
            _ if c.is_ascii_alphabetic() => {
                let len = bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b'_')
                    .count();
                (Tok::Word(text[i..i + len].to_string()), len)
            }
            '&' | '|' | '=' => {
                return Err(error(
                    i..i + 1,
                    format!("`{c}` in `when` must be doubled"),
                    &format!("write `{c}{c}`"),
                    ATOMS_HELP,
                ));
            }
            _ => {
                return Err(error(
                    i..i + c.len_utf8(),
                    format!("unexpected `{c}` in `when`"),
                    "not part of a condition",
                    ATOMS_HELP,
                ));
            }
        };
        tokens.push(Token {
            tok,
            range: i..i + len,
        });
        i += len;
    }
    Ok(tokens)
}

struct Parser<'t> {
    tokens: &'t [Token],
    at: usize,
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek().is_some_and(|t| t.tok == *tok) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while self.eat(&Tok::Or) {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        while self.eat(&Tok::And) {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat(&Tok::Not) {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let Some(token) = self.tokens.get(self.at) else {
            let what = if self.tokens.is_empty() {
                "empty `when`"
            } else {
                "`when` ends too soon"
            };
            return Err(error(
                self.end..self.end,
                what.into(),
                "expected a condition",
                ATOMS_HELP,
            ));
        };
        self.at += 1;
        match &token.tok {
            Tok::Open => {
                let inner = self.or()?;
                if self.eat(&Tok::Close) {
                    Ok(inner)
                } else {
                    Err(error(
                        token.range.clone(),
                        "unclosed `(` in `when`".into(),
                        "no matching `)`",
                        "close it with `)`",
                    ))
                }
            }
            Tok::Word(word) => {
                if let Some((_, flag)) = FLAGS.iter().find(|(n, _)| n == word) {
                    if let Some(Token {
                        tok: Tok::Op(op),
                        range,
                    }) = self.peek()
                    {
                        return Err(error(
                            range.clone(),
                            format!(
                                "`{word}` is a flag and takes no comparison: `{}` in `when`",
                                op_text(*op)
                            ),
                            "not a comparison",
                            &format!("write `{word}` or `!{word}`"),
                        ));
                    }
                    return Ok(Expr::Flag(*flag));
                }
                if let Some((_, field)) = FIELDS.iter().find(|(n, _)| n == word) {
                    return self.comparison(word, *field, token);
                }
                let names = FLAGS
                    .iter()
                    .map(|(n, _)| *n)
                    .chain(FIELDS.iter().map(|(n, _)| *n));
                let label = crate::spec::error::did_you_mean(word, names).map_or_else(
                    || "not a condition".to_string(),
                    |m| format!("did you mean `{m}`?"),
                );
                Err(error(
                    token.range.clone(),
                    format!("unknown condition `{word}` in `when`"),
                    &label,
                    ATOMS_HELP,
                ))
            }
            other => Err(error(
                token.range.clone(),
                format!("unexpected {} in `when`", other.describe()),
                "expected a condition",
                ATOMS_HELP,
            )),
        }
    }

    fn comparison(&mut self, word: &str, field: Field, at: &Token) -> Result<Expr, ParseError> {
        let example = match field {
            Field::Os => "os == \"debian\"",
            Field::OsVersion => "os-version >= \"12\"",
            Field::Arch => "arch == \"x86_64\"",
            Field::Target => "target == \"web\"",
        };
        let Some(Tok::Op(op)) = self.peek().map(|t| &t.tok) else {
            let range = self
                .peek()
                .map_or(at.range.end..at.range.end, |t| t.range.clone());
            return Err(error(
                range,
                format!("`{word}` needs a comparison in `when`"),
                "expected `==` or `!=`",
                &format!("write e.g. `{example}`"),
            ));
        };
        let op = *op;
        let op_range = self.tokens[self.at].range.clone();
        self.at += 1;
        if field != Field::OsVersion && !matches!(op, Op::Eq | Op::Ne) {
            return Err(error(
                op_range,
                format!("`{word}` can only be compared with `==` or `!=`"),
                "not an equality",
                "only `os-version` is ordered: `os-version >= \"12\"`",
            ));
        }
        match self.peek() {
            Some(Token {
                tok: Tok::Str(s),
                range,
            }) => {
                if field == Field::OsVersion && s.trim().is_empty() {
                    return Err(error(
                        range.clone(),
                        "empty version in `when`".into(),
                        "expected a version",
                        &format!("write e.g. `{example}`"),
                    ));
                }
                let s = s.clone();
                self.at += 1;
                Ok(Expr::Cmp(field, op, s))
            }
            next => {
                // A bare word or number: show it quoted.
                let quoted = match next.map(|t| &t.tok) {
                    Some(Tok::Word(w)) => format!("{word} {} \"{w}\"", op_text(op)),
                    _ => example.to_string(),
                };
                Err(error(
                    next.map_or(op_range.end..op_range.end, |t| t.range.clone()),
                    format!("`{word}` is compared with a quoted string in `when`"),
                    "expected a string",
                    &format!("quote the value: `{quoted}` (or with single quotes)"),
                ))
            }
        }
    }
}
