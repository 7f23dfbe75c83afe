//! Splits a condition into tokens the way Go's scanner does for the subset Teleport's
//! predicate parser accepts: identifiers, string and integer literals, `&&`, `||`, `!`,
//! `==`, `!=`, brackets, commas and dots.

use crate::error::ParseError;

/// One token and where it starts (byte offset), for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) at: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Ident(String),
    Str(String),
    Int(i64),
    AndAnd,
    OrOr,
    Not,
    EqEq,
    NotEq,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    End,
}

/// Upper bound on tokens: a real condition is a few dozen; this keeps hostile input cheap.
pub(crate) const MAX_TOKENS: usize = 4096;

pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        if tokens.len() >= MAX_TOKENS {
            return Err(ParseError::TooLong { limit: MAX_TOKENS });
        }
        let kind = match c {
            c if c.is_whitespace() => {
                chars.next();
                continue;
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut name = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_alphanumeric() || c == '_' {
                        name.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                TokenKind::Ident(name)
            }
            c if c.is_ascii_digit() => {
                let mut digits = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                        digits.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                let value = digits.parse::<i64>().map_err(|_| ParseError::Syntax {
                    at,
                    message: format!("unsupported number literal {digits:?}"),
                })?;
                TokenKind::Int(value)
            }
            '"' => {
                chars.next();
                TokenKind::Str(quoted(at, &mut chars)?)
            }
            '`' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some((_, '`')) => break,
                        // Go drops carriage returns inside raw strings.
                        Some((_, '\r')) => {}
                        Some((_, c)) => text.push(c),
                        None => return Err(unterminated(at)),
                    }
                }
                TokenKind::Str(text)
            }
            _ => {
                chars.next();
                let next = chars.peek().map(|&(_, c)| c);
                let two = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, kind| {
                    chars.next();
                    kind
                };
                match (c, next) {
                    ('&', Some('&')) => two(&mut chars, TokenKind::AndAnd),
                    ('|', Some('|')) => two(&mut chars, TokenKind::OrOr),
                    ('=', Some('=')) => two(&mut chars, TokenKind::EqEq),
                    ('!', Some('=')) => two(&mut chars, TokenKind::NotEq),
                    ('!', _) => TokenKind::Not,
                    ('(', _) => TokenKind::LParen,
                    (')', _) => TokenKind::RParen,
                    ('[', _) => TokenKind::LBracket,
                    (']', _) => TokenKind::RBracket,
                    (',', _) => TokenKind::Comma,
                    ('.', _) => TokenKind::Dot,
                    _ => {
                        return Err(ParseError::Syntax {
                            at,
                            message: format!("unsupported character or operator {c:?}"),
                        });
                    }
                }
            }
        };
        tokens.push(Token { kind, at });
    }
    tokens.push(Token {
        kind: TokenKind::End,
        at: input.len(),
    });
    Ok(tokens)
}

fn unterminated(at: usize) -> ParseError {
    ParseError::Syntax {
        at,
        message: "string literal not terminated".into(),
    }
}

/// A double-quoted literal with Go's escapes; the opening quote is consumed.
fn quoted(
    at: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, ParseError> {
    let bad = |message: &str| ParseError::Syntax {
        at,
        message: message.to_owned(),
    };
    let mut text = String::new();
    loop {
        let Some((_, c)) = chars.next() else {
            return Err(unterminated(at));
        };
        match c {
            '"' => return Ok(text),
            '\n' => return Err(unterminated(at)),
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    return Err(unterminated(at));
                };
                let simple = match e {
                    'a' => Some('\u{7}'),
                    'b' => Some('\u{8}'),
                    'f' => Some('\u{c}'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    'v' => Some('\u{b}'),
                    '\\' => Some('\\'),
                    '"' => Some('"'),
                    _ => None,
                };
                if let Some(c) = simple {
                    text.push(c);
                    continue;
                }
                let (digits, radix) = match e {
                    'x' => (2, 16),
                    'u' => (4, 16),
                    'U' => (8, 16),
                    '0'..='7' => (2, 8),
                    _ => return Err(bad("unknown escape sequence")),
                };
                let mut code = if radix == 8 {
                    e.to_digit(8).unwrap_or(0)
                } else {
                    0
                };
                for _ in 0..digits {
                    let digit = chars
                        .next()
                        .and_then(|(_, d)| d.to_digit(radix))
                        .ok_or_else(|| bad("malformed escape sequence"))?;
                    code = code
                        .checked_mul(radix)
                        .and_then(|c| c.checked_add(digit))
                        .ok_or_else(|| bad("escape sequence out of range"))?;
                }
                let c =
                    char::from_u32(code).ok_or_else(|| bad("escape is not a valid character"))?;
                text.push(c);
            }
            c => text.push(c),
        }
    }
}
