//! Regexes as test files use them.

use regex::{Regex, RegexBuilder};

/// Compile a `*_regex` pattern the way test files mean it: Rust `regex`
/// syntax, multi-line mode (`^` and `$` match at line boundaries).
///
/// # Examples
///
/// ```
/// let re = kennel_spec::compile_regex("^login:").unwrap();
/// assert!(re.is_match("Welcome\nlogin: "));
/// ```
pub fn compile_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).multi_line(true).build()
}
