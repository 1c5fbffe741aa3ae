//! CloudWatch Logs filter patterns, the subset FilterLogEvents needs:
//!
//! - terms: `ERROR timeout` matches lines containing every term
//!   (case-sensitive substrings); `"Task timed out"` is one quoted phrase;
//!   `-DEBUG` excludes lines containing a term; `?ERROR ?WARN` matches lines
//!   containing any of the `?` terms;
//! - JSON: `{ $.level = "ERROR" }`, `{ $.latency > 100 }`, `{ $.user.id = "a*" }`
//!   (`*` is a wildcard), `{ $.x IS NULL }`, `{ $.x IS TRUE }`, `{ $.x NOT EXISTS }`,
//!   combined with `&&`, `||` and parentheses. They match lines that are a JSON
//!   object, or that end in one after a prefix (`2024-... reqid {"level": ...}`).
//!
//! Space-delimited patterns (`[ip, user, ...]`) and regular expressions
//! (`%...%`) are refused with a clear message rather than matched wrongly.

use serde_json::Value;

/// A parsed filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// The empty pattern: every line.
    All,
    Terms(Terms),
    Json(Expr),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Terms {
    /// Every one must appear.
    pub all: Vec<String>,
    /// At least one must appear (when there are any).
    pub any: Vec<String>,
    /// None may appear.
    pub none: Vec<String>,
}

/// One step of a JSON selector: `.name` or `[index]` / `[*]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
    AnyIndex,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Is {
    Null,
    True,
    False,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Compare { path: Vec<Step>, op: Op, value: Literal },
    Is { path: Vec<Step>, what: Is },
    NotExists { path: Vec<Step> },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Invalid filter pattern: {0}")]
pub struct PatternError(String);

fn err<T>(message: impl Into<String>) -> Result<T, PatternError> {
    Err(PatternError(message.into()))
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed == "\"\"" {
            return Ok(Pattern::All);
        }
        if trimmed.starts_with('{') {
            return parse_json(trimmed).map(Pattern::Json);
        }
        if trimmed.starts_with('[') {
            return err("space-delimited patterns ([field, ...]) are not supported");
        }
        if trimmed.starts_with('%') && trimmed.len() > 1 && trimmed.ends_with('%') {
            return err("regular expression patterns (%...%) are not supported");
        }
        parse_terms(trimmed).map(Pattern::Terms)
    }

    pub fn matches(&self, message: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Terms(t) => {
                t.all.iter().all(|term| message.contains(term.as_str()))
                    && !t.none.iter().any(|term| message.contains(term.as_str()))
                    && (t.any.is_empty() || t.any.iter().any(|term| message.contains(term.as_str())))
            }
            Pattern::Json(expr) => match json_of(message) {
                Some(doc) => expr.eval(&doc),
                None => false,
            },
        }
    }
}

/// The JSON object a line holds: the whole line, or its tail from the first `{`.
fn json_of(message: &str) -> Option<Value> {
    let trimmed = message.trim();
    let candidate = if trimmed.starts_with('{') { trimmed } else { &trimmed[trimmed.find('{')?..] };
    match serde_json::from_str::<Value>(candidate) {
        Ok(v @ Value::Object(_)) => Some(v),
        _ => None,
    }
}

fn parse_terms(text: &str) -> Result<Terms, PatternError> {
    let mut terms = Terms::default();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let bucket = match first {
            '-' => {
                chars.next();
                &mut terms.none
            }
            '?' => {
                chars.next();
                &mut terms.any
            }
            _ => &mut terms.all,
        };
        let term = if chars.peek() == Some(&'"') {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return err("unterminated quoted term"),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => s.push(c),
                        None => return err("unterminated quoted term"),
                    },
                    Some(c) => s.push(c),
                }
            }
            s
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                s.push(c);
                chars.next();
            }
            s
        };
        if term.is_empty() {
            return err(format!("empty term after '{first}'"));
        }
        bucket.push(term);
    }
    Ok(terms)
}

// ---- JSON patterns ----

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    LParen,
    RParen,
    And,
    Or,
    Op(Op),
    Selector(Vec<Step>),
    Quoted(String),
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, PatternError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
            '{' => {
                out.push(Token::Open);
                i += 1;
            }
            '}' => {
                out.push(Token::Close);
                i += 1;
            }
            '(' => {
                out.push(Token::LParen);
                i += 1;
            }
            ')' => {
                out.push(Token::RParen);
                i += 1;
            }
            '&' if next == Some('&') => {
                out.push(Token::And);
                i += 2;
            }
            '|' if next == Some('|') => {
                out.push(Token::Or);
                i += 2;
            }
            '=' => {
                out.push(Token::Op(Op::Eq));
                i += if next == Some('=') { 2 } else { 1 };
            }
            '!' if next == Some('=') => {
                out.push(Token::Op(Op::Ne));
                i += 2;
            }
            '<' | '>' => {
                let op = match (c, next == Some('=')) {
                    ('<', true) => Op::Le,
                    ('<', false) => Op::Lt,
                    (_, true) => Op::Ge,
                    (_, false) => Op::Gt,
                };
                out.push(Token::Op(op));
                i += if next == Some('=') { 2 } else { 1 };
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return err("unterminated string"),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            if let Some(&e) = chars.get(i + 1) {
                                s.push(e);
                            }
                            i += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Token::Quoted(s));
            }
            '$' => {
                let start = i;
                i += 1;
                let mut path = Vec::new();
                loop {
                    match chars.get(i) {
                        Some('.') => {
                            i += 1;
                            let from = i;
                            while chars.get(i).is_some_and(|&ch| is_key_char(ch)) {
                                i += 1;
                            }
                            if from == i {
                                return err(format!("selector needs a field name at position {i}"));
                            }
                            path.push(Step::Key(chars[from..i].iter().collect()));
                        }
                        Some('[') => {
                            let from = i + 1;
                            let Some(len) = chars[from..].iter().position(|&ch| ch == ']') else {
                                return err("unterminated [ in selector");
                            };
                            let inner: String = chars[from..from + len].iter().collect();
                            let inner = inner.trim();
                            if inner == "*" {
                                path.push(Step::AnyIndex);
                            } else if let Ok(n) = inner.parse::<usize>() {
                                path.push(Step::Index(n));
                            } else if let Some(key) = inner.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')) {
                                path.push(Step::Key(key.to_string()));
                            } else {
                                return err(format!("bad selector index [{inner}]"));
                            }
                            i = from + len + 1;
                        }
                        _ => break,
                    }
                }
                if path.is_empty() {
                    return err(format!("selector at position {start} selects nothing"));
                }
                out.push(Token::Selector(path));
            }
            _ => {
                let from = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"{}()=!<>&|\"".contains(chars[i]) {
                    i += 1;
                }
                if from == i {
                    return err(format!("unexpected '{c}' at position {i}"));
                }
                out.push(Token::Word(chars[from..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '@' | ':')
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, PatternError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::Or(parts) })
    }

    fn and(&mut self) -> Result<Expr, PatternError> {
        let mut parts = vec![self.primary()?];
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            parts.push(self.primary()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::And(parts) })
    }

    fn primary(&mut self) -> Result<Expr, PatternError> {
        match self.next() {
            Some(Token::LParen) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token::RParen) => Ok(inner),
                    _ => err("missing )"),
                }
            }
            Some(Token::Selector(path)) => self.condition(path),
            other => err(format!("expected a selector like $.field, found {}", describe(other.as_ref()))),
        }
    }

    fn condition(&mut self, path: Vec<Step>) -> Result<Expr, PatternError> {
        match self.next() {
            Some(Token::Op(op)) => {
                let value = match self.next() {
                    Some(Token::Quoted(s)) => Literal::Text(s),
                    Some(Token::Word(w)) => match w.parse::<f64>() {
                        Ok(n) if n.is_finite() => Literal::Number(n),
                        _ => Literal::Text(w),
                    },
                    other => return err(format!("expected a value, found {}", describe(other.as_ref()))),
                };
                if matches!(value, Literal::Text(_)) && !matches!(op, Op::Eq | Op::Ne) {
                    return err("only = and != compare strings");
                }
                Ok(Expr::Compare { path, op, value })
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("IS") => match self.next() {
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("NULL") => Ok(Expr::Is { path, what: Is::Null }),
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("TRUE") => Ok(Expr::Is { path, what: Is::True }),
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("FALSE") => Ok(Expr::Is { path, what: Is::False }),
                other => err(format!("expected NULL, TRUE or FALSE after IS, found {}", describe(other.as_ref()))),
            },
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("NOT") => match self.next() {
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("EXISTS") => Ok(Expr::NotExists { path }),
                other => err(format!("expected EXISTS after NOT, found {}", describe(other.as_ref()))),
            },
            other => err(format!("expected an operator, found {}", describe(other.as_ref()))),
        }
    }
}

fn describe(t: Option<&Token>) -> String {
    match t {
        None => "the end of the pattern".into(),
        Some(t) => format!("{t:?}"),
    }
}

fn parse_json(text: &str) -> Result<Expr, PatternError> {
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, pos: 0 };
    if p.next() != Some(Token::Open) {
        return err("a JSON pattern starts with {");
    }
    let expr = p.or()?;
    if p.next() != Some(Token::Close) {
        return err("a JSON pattern ends with }");
    }
    if p.pos < p.tokens.len() {
        return err("unexpected text after }");
    }
    Ok(expr)
}

/// Every value a selector reaches (several through `[*]`).
fn select<'a>(doc: &'a Value, path: &[Step]) -> Vec<&'a Value> {
    let mut current = vec![doc];
    for step in path {
        let mut next = Vec::new();
        for v in current {
            match (step, v) {
                (Step::Key(k), Value::Object(map)) => next.extend(map.get(k)),
                (Step::Index(n), Value::Array(items)) => next.extend(items.get(*n)),
                (Step::AnyIndex, Value::Array(items)) => next.extend(items.iter()),
                _ => {}
            }
        }
        current = next;
    }
    current
}

impl Expr {
    pub fn eval(&self, doc: &Value) -> bool {
        match self {
            Expr::Or(parts) => parts.iter().any(|e| e.eval(doc)),
            Expr::And(parts) => parts.iter().all(|e| e.eval(doc)),
            Expr::NotExists { path } => select(doc, path).is_empty(),
            Expr::Is { path, what } => select(doc, path).into_iter().any(|v| match what {
                Is::Null => v.is_null(),
                Is::True => v == &Value::Bool(true),
                Is::False => v == &Value::Bool(false),
            }),
            Expr::Compare { path, op, value } => select(doc, path).into_iter().any(|v| compare(v, *op, value)),
        }
    }
}

fn compare(field: &Value, op: Op, value: &Literal) -> bool {
    match value {
        Literal::Number(want) => {
            let Some(have) = field.as_f64() else {
                return false;
            };
            match op {
                Op::Eq => have == *want,
                Op::Ne => have != *want,
                Op::Lt => have < *want,
                Op::Le => have <= *want,
                Op::Gt => have > *want,
                Op::Ge => have >= *want,
            }
        }
        Literal::Text(want) => {
            let have = match field {
                Value::String(s) => s.clone(),
                Value::Bool(_) | Value::Number(_) | Value::Null => field.to_string(),
                Value::Array(_) | Value::Object(_) => return false,
            };
            let equal = glob(want, &have);
            if op == Op::Ne {
                !equal
            } else {
                equal
            }
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == text;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn m(pattern: &str, line: &str) -> bool {
        Pattern::parse(pattern).unwrap().matches(line)
    }

    #[test]
    fn empty_pattern_matches_everything() {
        assert!(m("", "anything"));
        assert!(m("   ", "anything"));
    }

    #[test]
    fn terms_must_all_appear() {
        assert!(m("ERROR", "[ERROR] boom"));
        assert!(!m("ERROR", "error boom"), "terms are case-sensitive");
        assert!(m("ERROR boom", "[ERROR] big boom"));
        assert!(!m("ERROR boom", "[ERROR] big bang"));
    }

    #[test]
    fn quoted_phrases_are_one_term() {
        assert!(m("\"Task timed out\"", "2024 abc Task timed out after 3.00 seconds"));
        assert!(!m("\"Task timed out\"", "Task was timed out"));
        assert!(m("\"say \\\"hi\\\"\"", "they say \"hi\" there"));
    }

    #[test]
    fn exclusions_and_alternatives() {
        assert!(m("ERROR -Retrying", "ERROR fatal"));
        assert!(!m("ERROR -Retrying", "ERROR Retrying soon"));
        assert!(m("?ERROR ?WARN", "WARN disk"));
        assert!(m("?ERROR ?WARN", "ERROR disk"));
        assert!(!m("?ERROR ?WARN", "INFO disk"));
        assert!(m("disk ?ERROR ?WARN -ignore", "WARN disk"));
        assert!(!m("disk ?ERROR ?WARN -ignore", "WARN disk ignore"));
        assert!(!m("-\"two words\"", "two words here"));
    }

    #[test]
    fn json_equality_and_wildcards() {
        let line = r#"{"level": "ERROR", "latency": 250, "user": {"id": "alice"}, "tags": ["a", "b"], "ok": true, "gone": null}"#;
        assert!(m(r#"{ $.level = "ERROR" }"#, line));
        assert!(m("{ $.level = ERROR }", line));
        assert!(!m(r#"{ $.level = "INFO" }"#, line));
        assert!(m(r#"{ $.level != "INFO" }"#, line));
        assert!(m(r#"{ $.user.id = "ali*" }"#, line));
        assert!(m(r#"{ $.user.id = "*ic*" }"#, line));
        assert!(!m(r#"{ $.user.id = "bob*" }"#, line));
        assert!(m(r#"{ $.tags[1] = "b" }"#, line));
        assert!(m(r#"{ $.tags[*] = "a" }"#, line));
        assert!(m("{ $.ok IS TRUE }", line));
        assert!(m("{ $.gone IS NULL }", line));
        assert!(m("{ $.missing NOT EXISTS }", line));
        assert!(!m("{ $.level NOT EXISTS }", line));
    }

    #[test]
    fn json_numbers() {
        let line = r#"{"latency": 250, "level": "INFO"}"#;
        assert!(m("{ $.latency > 100 }", line));
        assert!(m("{ $.latency >= 250 }", line));
        assert!(!m("{ $.latency < 100 }", line));
        assert!(m("{ $.latency = 250 }", line));
        assert!(m("{ $.latency != 7 }", line));
        assert!(!m("{ $.level > 1 }", line), "a string is not a number");
    }

    #[test]
    fn json_logic() {
        let line = r#"{"level": "ERROR", "latency": 50}"#;
        assert!(m(r#"{ $.level = "ERROR" && $.latency < 100 }"#, line));
        assert!(!m(r#"{ $.level = "ERROR" && $.latency > 100 }"#, line));
        assert!(m(r#"{ $.level = "WARN" || $.latency < 100 }"#, line));
        assert!(m(r#"{ ($.level = "WARN" || $.level = "ERROR") && $.latency = 50 }"#, line));
        assert!(!m(r#"{ ($.level = "WARN" || $.level = "INFO") && $.latency = 50 }"#, line));
    }

    #[test]
    fn json_patterns_only_match_json_lines() {
        assert!(!m(r#"{ $.level = "ERROR" }"#, "level = ERROR"));
        assert!(!m(r#"{ $.level = "ERROR" }"#, "START RequestId: x Version: $LATEST"));
        assert!(m(r#"{ $.level = "ERROR" }"#, "2024-01-01T00:00:00Z\tabc\t{\"level\": \"ERROR\"}"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "{ $.level = }",
            "{ $.level \"x\" }",
            "{ $.level = \"x\" ",
            "{ level = \"x\" }",
            "{ $.a = 1 && }",
            "{ $.a > \"x\" }",
            "\"unterminated",
            "[ip, user]",
            "%ab+c%",
            "- ERROR",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn glob_edges() {
        assert!(glob("*", ""));
        assert!(glob("a*", "a"));
        assert!(glob("*a", "ba"));
        assert!(!glob("a*a", "a"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXcYb"));
    }
}
