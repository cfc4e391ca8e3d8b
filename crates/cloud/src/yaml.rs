//! Quoting strings as YAML double-quoted scalars.

use std::fmt::Write as _;

/// Quote `s` as a YAML double-quoted scalar that reads back as exactly `s`.
///
/// Backslash and double quote are escaped, and so is every character YAML
/// does not allow unescaped (C0 and C1 controls, DEL, the Unicode line and
/// paragraph separators, the byte-order mark, U+FFFE/U+FFFF). Everything else,
/// including non-ASCII text, is kept as is since YAML files are UTF-8.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if needs_escape(c) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn needs_escape(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn plain_and_special() {
        assert_eq!(quote("kennel"), "\"kennel\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a \"b\" \\c"), r#""a \"b\" \\c""#);
        assert_eq!(quote("x: y # z"), "\"x: y # z\"");
        assert_eq!(quote("l1\nl2\t\r"), r#""l1\nl2\t\r""#);
        assert_eq!(quote("\u{1b}[0m\u{7f}"), r#""\u001B[0m\u007F""#);
        assert_eq!(quote("é\u{2028}\u{feff}"), "\"é\\L\\uFEFF\"");
    }
}
