//! Builds a syntax tree from tokens: Go expression syntax (which Teleport's predicate
//! parser reuses), restricted to what conditions can contain. Depth is bounded so that
//! hostile input cannot exhaust the stack here or in the passes that follow.

use crate::error::ParseError;
use crate::lexer::{Token, TokenKind};

/// Deepest nesting accepted (brackets, calls, `!`, and chains of `&&`/`||`/`==`).
pub(crate) const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ast {
    Ident(String),
    Str(String),
    Int(i64),
    Not(Box<Ast>),
    Binary(BinaryOp, Box<Ast>, Box<Ast>),
    /// `x.name`
    Select(Box<Ast>, String),
    /// `x[key]`
    Index(Box<Ast>, Box<Ast>),
    Call(Box<Ast>, Vec<Ast>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    And,
    Or,
    Eq,
    NotEq,
}

impl Ast {
    /// `a.b.c` as a dotted name, when the node is only identifiers and selectors.
    pub(crate) fn path(&self) -> Option<Vec<String>> {
        match self {
            Ast::Ident(name) => Some(vec![name.clone()]),
            Ast::Select(base, name) => {
                let mut path = base.path()?;
                path.push(name.clone());
                Some(path)
            }
            _ => None,
        }
    }
}

pub(crate) fn parse(tokens: &[Token]) -> Result<Ast, ParseError> {
    let mut parser = Parser { tokens, pos: 0 };
    let (ast, _) = parser.or(0)?;
    match parser.peek() {
        TokenKind::End => Ok(ast),
        _ => Err(parser.unexpected("end of expression")),
    }
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
}

/// A subtree and its depth.
type Parsed = (Ast, usize);

impl Parser<'_> {
    fn peek(&self) -> &TokenKind {
        // The token list always ends with End, and `pos` never passes it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)].kind
    }

    fn at(&self) -> usize {
        self.tokens[self.pos.min(self.tokens.len() - 1)].at
    }

    fn bump(&mut self) -> TokenKind {
        let kind = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        kind
    }

    fn unexpected(&self, wanted: &str) -> ParseError {
        ParseError::Syntax {
            at: self.at(),
            message: format!("expected {wanted}, found {}", describe(self.peek())),
        }
    }

    fn expect(&mut self, kind: TokenKind, wanted: &str) -> Result<(), ParseError> {
        if *self.peek() == kind {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(wanted))
        }
    }

    fn or(&mut self, depth: usize) -> Result<Parsed, ParseError> {
        self.chain(depth, &[(TokenKind::OrOr, BinaryOp::Or)], Self::and)
    }

    fn and(&mut self, depth: usize) -> Result<Parsed, ParseError> {
        self.chain(depth, &[(TokenKind::AndAnd, BinaryOp::And)], Self::equality)
    }

    fn equality(&mut self, depth: usize) -> Result<Parsed, ParseError> {
        self.chain(
            depth,
            &[
                (TokenKind::EqEq, BinaryOp::Eq),
                (TokenKind::NotEq, BinaryOp::NotEq),
            ],
            Self::unary,
        )
    }

    /// A left-associative chain of one precedence level: `a op b op c`.
    fn chain(
        &mut self,
        depth: usize,
        ops: &[(TokenKind, BinaryOp)],
        operand: fn(&mut Self, usize) -> Result<Parsed, ParseError>,
    ) -> Result<Parsed, ParseError> {
        let (mut lhs, mut lhs_depth) = operand(self, depth)?;
        while let Some(op) = ops
            .iter()
            .find(|(k, _)| k == self.peek())
            .map(|(_, op)| *op)
        {
            self.bump();
            let (rhs, rhs_depth) = operand(self, depth)?;
            let node_depth = lhs_depth.max(rhs_depth) + 1;
            check_depth(depth + node_depth)?;
            lhs = Ast::Binary(op, Box::new(lhs), Box::new(rhs));
            lhs_depth = node_depth;
        }
        Ok((lhs, lhs_depth))
    }

    fn unary(&mut self, depth: usize) -> Result<Parsed, ParseError> {
        if *self.peek() == TokenKind::Not {
            self.bump();
            check_depth(depth + 1)?;
            let (inner, inner_depth) = self.unary(depth + 1)?;
            return Ok((Ast::Not(Box::new(inner)), inner_depth + 1));
        }
        self.postfix(depth)
    }

    fn postfix(&mut self, depth: usize) -> Result<Parsed, ParseError> {
        let (mut node, mut node_depth) = self.primary(depth)?;
        loop {
            match self.peek() {
                TokenKind::Dot => {
                    self.bump();
                    let TokenKind::Ident(name) = self.bump() else {
                        return Err(self.unexpected("a name after '.'"));
                    };
                    node_depth += 1;
                    node = Ast::Select(Box::new(node), name);
                }
                TokenKind::LBracket => {
                    self.bump();
                    check_depth(depth + node_depth + 1)?;
                    let (key, key_depth) = self.or(depth + node_depth + 1)?;
                    self.expect(TokenKind::RBracket, "']'")?;
                    node_depth = node_depth.max(key_depth) + 1;
                    node = Ast::Index(Box::new(node), Box::new(key));
                }
                TokenKind::LParen => {
                    self.bump();
                    check_depth(depth + node_depth + 1)?;
                    let mut args = Vec::new();
                    let mut deepest = node_depth;
                    if *self.peek() != TokenKind::RParen {
                        loop {
                            let (arg, arg_depth) = self.or(depth + node_depth + 1)?;
                            deepest = deepest.max(arg_depth);
                            args.push(arg);
                            if *self.peek() == TokenKind::Comma {
                                self.bump();
                                continue;
                            }
                            break;
                        }
                    }
                    self.expect(TokenKind::RParen, "')' or ','")?;
                    node_depth = deepest + 1;
                    node = Ast::Call(Box::new(node), args);
                }
                _ => return Ok((node, node_depth)),
            }
            check_depth(depth + node_depth)?;
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Parsed, ParseError> {
        match self.peek().clone() {
            TokenKind::Ident(name) => {
                self.bump();
                Ok((Ast::Ident(name), 1))
            }
            TokenKind::Str(text) => {
                self.bump();
                Ok((Ast::Str(text), 1))
            }
            TokenKind::Int(value) => {
                self.bump();
                Ok((Ast::Int(value), 1))
            }
            TokenKind::LParen => {
                self.bump();
                check_depth(depth + 1)?;
                let (inner, inner_depth) = self.or(depth + 1)?;
                self.expect(TokenKind::RParen, "')'")?;
                Ok((inner, inner_depth))
            }
            _ => Err(self.unexpected("an operand")),
        }
    }
}

fn check_depth(depth: usize) -> Result<(), ParseError> {
    if depth > MAX_DEPTH {
        Err(ParseError::TooDeep { limit: MAX_DEPTH })
    } else {
        Ok(())
    }
}

fn describe(kind: &TokenKind) -> String {
    match kind {
        TokenKind::Ident(name) => format!("identifier {name:?}"),
        TokenKind::Str(_) => "a string".into(),
        TokenKind::Int(_) => "a number".into(),
        TokenKind::AndAnd => "'&&'".into(),
        TokenKind::OrOr => "'||'".into(),
        TokenKind::Not => "'!'".into(),
        TokenKind::EqEq => "'=='".into(),
        TokenKind::NotEq => "'!='".into(),
        TokenKind::LParen => "'('".into(),
        TokenKind::RParen => "')'".into(),
        TokenKind::LBracket => "'['".into(),
        TokenKind::RBracket => "']'".into(),
        TokenKind::Comma => "','".into(),
        TokenKind::Dot => "'.'".into(),
        TokenKind::End => "end of expression".into(),
    }
}
