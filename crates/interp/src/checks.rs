//! Turning the spec's text checks into patterns and verdicts.

use kennel_machine::Pattern;
use kennel_spec::{TextCheck, Value, Vars};
use regex::RegexBuilder;

/// Render a text check into a console/output pattern (regexes in multi-line mode).
pub(crate) fn pattern(check: &TextCheck, vars: &dyn Vars) -> Result<Pattern, String> {
    match check {
        TextCheck::Contains(t) => Ok(Pattern::Text(t.render(vars).map_err(|e| e.to_string())?)),
        TextCheck::Regex(t) => {
            regex(&t.render(vars).map_err(|e| e.to_string())?).map(Pattern::Regex)
        }
    }
}

/// Compile a regex the way the contract says: Rust syntax, multi-line mode.
pub(crate) fn regex(src: &str) -> Result<regex::Regex, String> {
    RegexBuilder::new(src)
        .multi_line(true)
        .build()
        .map_err(|e| format!("invalid regex /{src}/: {e}"))
}

/// Whether `text` contains the pattern.
pub(crate) fn found(p: &Pattern, text: &str) -> bool {
    match p {
        Pattern::Text(t) => text.contains(t.as_str()),
        Pattern::Regex(r) => r.is_match(text),
    }
}

/// `\r\n` to `\n`, for console and HMP text.
pub(crate) fn fold_crlf(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// Equality for `returns_exact`: like `==`, but integers and floats compare by value.
pub(crate) fn exact_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| exact_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| exact_eq(v, w)))
        }
        _ => a == b,
    }
}

/// A value for messages: compact JSON, cut to a readable length.
pub(crate) fn show(v: &Value) -> String {
    let s = v.to_string();
    cut(&s, 300)
}

/// Cut text to at most `n` characters, marking the cut.
pub(crate) fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exact_equality_compares_numbers_by_value() {
        assert!(exact_eq(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
        assert!(!exact_eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
    }

    #[test]
    fn regexes_are_multi_line() {
        let r = regex("^b$").expect("regex");
        assert!(found(&Pattern::Regex(r), "a\nb\nc"));
    }
}
