//! Turning the spec's text checks into patterns and verdicts.

use kennel_machine::Pattern;
use kennel_spec::{RenderError, TextCheck, Value, Vars};
use regex::RegexBuilder;

/// Why a text check cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CheckError {
    /// A `${...}` in it does not render.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The regex does not compile.
    #[error("invalid regex /{src}/")]
    Regex {
        /// The regex as written (rendered).
        src: String,
        /// Why it does not compile.
        #[source]
        source: regex::Error,
    },
}

/// Render a text check into a console/output pattern (regexes in multi-line mode).
pub(crate) fn pattern(check: &TextCheck, vars: &dyn Vars) -> Result<Pattern, CheckError> {
    match check {
        TextCheck::Contains(t) => Ok(Pattern::Text(t.render(vars)?)),
        TextCheck::Regex(t) => regex(&t.render(vars)?).map(Pattern::Regex),
    }
}

/// Compile a regex the way the contract says: Rust syntax, multi-line mode.
pub(crate) fn regex(src: &str) -> Result<regex::Regex, CheckError> {
    RegexBuilder::new(src)
        .multi_line(true)
        .build()
        .map_err(|source| CheckError::Regex {
            src: src.to_owned(),
            source,
        })
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
    fn an_invalid_regex_names_itself_and_why() {
        let e = regex("a(").expect_err("invalid");
        let text = kennel_machine::error_chain(&e);
        assert!(
            text.starts_with("invalid regex /a(/: regex parse error"),
            "{text}"
        );
    }

    #[test]
    fn regexes_are_multi_line() {
        let r = regex("^b$").expect("regex");
        assert!(found(&Pattern::Regex(r), "a\nb\nc"));
    }
}
