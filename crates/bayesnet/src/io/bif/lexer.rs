//! Splits BIF text into tokens that remember their line, so every later error can point
//! at the line a user has to fix.
//!
//! A word is any run of characters other than whitespace and the punctuation
//! `{ } ( ) [ ] ; , |`. That is deliberately loose: state labels in the bnlearn files
//! include `Asy/Patch`, `<5`, `5-12`, `12+`, `>=7.5` and `Transp.`. Double-quoted strings
//! (the older JavaBayes dialect, e.g. `"dog-out"`) are words too; inside them `\"` and
//! `\\` escape a quote and a backslash, which lets the writer quote any name. `//` line
//! comments and `/* */` block comments are skipped wherever they start.

use std::borrow::Cow;

use crate::error::{Error, Result};

/// What a token is; words keep their text (borrowed unless unescaped).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok<'a> {
    Word(Cow<'a, str>),
    /// One of `{ } ( ) [ ] ; , |`.
    Punct(char),
}

/// A token and the 1-based line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    pub line: usize,
    /// True for a double-quoted word, so `"table"` is never read as a keyword.
    pub quoted: bool,
}

impl Token<'_> {
    /// The token as the user wrote it, for messages.
    pub fn describe(&self) -> String {
        match &self.tok {
            Tok::Word(w) if self.quoted => format!("\"{w}\""),
            Tok::Word(w) => format!("`{w}`"),
            Tok::Punct(c) => format!("`{c}`"),
        }
    }
}

fn is_punct(c: char) -> bool {
    matches!(c, '{' | '}' | '(' | ')' | '[' | ']' | ';' | ',' | '|')
}

/// Tokenizes `text`; `file` only names the source in errors (unterminated comment or
/// string).
pub(crate) fn tokenize<'a>(text: &'a str, file: &str) -> Result<Vec<Token<'a>>> {
    let err = |line: usize, message: String| Error::Parse {
        file: file.to_string(),
        line,
        message,
    };
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if bytes[i..].starts_with(b"//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if bytes[i..].starts_with(b"/*") {
            let start = line;
            i += 2;
            loop {
                if i >= bytes.len() {
                    return Err(err(start, "comment `/*` is never closed with `*/`".into()));
                }
                if bytes[i..].starts_with(b"*/") {
                    i += 2;
                    break;
                }
                if bytes[i] == b'\n' {
                    line += 1;
                }
                i += 1;
            }
        } else if c == b'"' {
            let start = line;
            i += 1;
            let begin = i;
            let mut owned: Option<String> = None;
            loop {
                let Some(&b) = bytes.get(i) else {
                    return Err(err(start, "string `\"` is never closed".into()));
                };
                match b {
                    b'"' => break,
                    b'\\' if matches!(bytes.get(i + 1), Some(b'"') | Some(b'\\')) => {
                        let s = owned.get_or_insert_with(|| text[begin..i].to_string());
                        s.push(bytes[i + 1] as char);
                        i += 2;
                        continue;
                    }
                    b'\n' => line += 1,
                    _ => {}
                }
                // Copy whole UTF-8 characters once we own the string.
                let ch_len = utf8_len(b);
                if let Some(s) = owned.as_mut() {
                    s.push_str(&text[i..i + ch_len]);
                }
                i += ch_len;
            }
            let word = match owned {
                Some(s) => Cow::Owned(s),
                None => Cow::Borrowed(&text[begin..i]),
            };
            i += 1; // closing quote
            tokens.push(Token {
                tok: Tok::Word(word),
                line: start,
                quoted: true,
            });
        } else if is_punct(c as char) {
            tokens.push(Token {
                tok: Tok::Punct(c as char),
                line,
                quoted: false,
            });
            i += 1;
        } else {
            let begin = i;
            while i < bytes.len() {
                let b = bytes[i];
                if b.is_ascii_whitespace()
                    || is_punct(b as char)
                    || b == b'"'
                    || bytes[i..].starts_with(b"//")
                    || bytes[i..].starts_with(b"/*")
                {
                    break;
                }
                i += utf8_len(b);
            }
            tokens.push(Token {
                tok: Tok::Word(Cow::Borrowed(&text[begin..i])),
                line,
                quoted: false,
            });
        }
    }
    Ok(tokens)
}

/// Length of the UTF-8 character whose first byte is `b` (1 for continuation bytes, which
/// cannot start a character in valid `&str` input anyway).
fn utf8_len(b: u8) -> usize {
    match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<(String, usize)> {
        tokenize(text, "t.bif")
            .unwrap()
            .into_iter()
            .map(|t| match t.tok {
                Tok::Word(w) => (w.into_owned(), t.line),
                Tok::Punct(c) => (c.to_string(), t.line),
            })
            .collect()
    }

    #[test]
    fn odd_state_labels_are_single_words() {
        let w = words("{ Asy/Patch, <5, 5-12, 12+, >=7.5, Transp. };");
        let got: Vec<&str> = w.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            got,
            [
                "{",
                "Asy/Patch",
                ",",
                "<5",
                ",",
                "5-12",
                ",",
                "12+",
                ",",
                ">=7.5",
                ",",
                "Transp.",
                "}",
                ";"
            ]
        );
    }

    #[test]
    fn comments_are_skipped_and_lines_counted() {
        let w = words("a // one\n/* two\nthree */ b\n\"c d\" e//x\nf");
        assert_eq!(
            w,
            [
                ("a".into(), 1),
                ("b".into(), 3),
                ("c d".into(), 4),
                ("e".into(), 4),
                ("f".into(), 5)
            ]
        );
    }

    #[test]
    fn quoted_words_unescape() {
        let w = words(r#""a\"b\\c" "Ünï""#);
        assert_eq!(w[0].0, "a\"b\\c");
        assert_eq!(w[1].0, "Ünï");
    }

    #[test]
    fn unterminated_comment_names_its_line() {
        let e = tokenize("a\n/* b\n", "x.bif").unwrap_err().to_string();
        assert_eq!(e, "x.bif:2: comment `/*` is never closed with `*/`");
        let e = tokenize("a\n\n\"b", "x.bif").unwrap_err().to_string();
        assert!(e.starts_with("x.bif:3:"), "{e}");
    }
}
