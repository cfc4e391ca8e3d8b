//! Text and paths made safe for the page: HTML escaping (with the characters
//! a page would obey or hide written out), relative links, log folders that
//! stay inside the job, and the tail of a log.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::{Component, Path};

use kennel_config::text::visible;
use minijinja::{AutoEscape, Output, State, Value};

/// minijinja's HTML escaping, minus `/` → `&#x2f;` (which bloats logs full of paths):
/// strings escape `&`, `<`, `>`, `"` and `'`; everything else as minijinja does it.
pub(super) fn html_formatter(
    out: &mut Output,
    state: &State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(text) if state.auto_escape() == AutoEscape::Html && !value.is_safe() => {
            out.write_str(&escape(text)).map_err(minijinja::Error::from)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// Escape text for HTML content and quoted attributes, its untrusted
/// characters written out as [`shown`] writes them.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => push_shown(&mut out, c),
        }
    }
    out
}

/// `text`, which came from outside kennel, as the page shows it: control
/// characters (but tab, newline and carriage return, which a `<pre>` shows as
/// layout), DEL, C1 controls and the bidirectional overrides and isolates
/// ("Trojan Source") written out the way [`kennel_config::text::visible`]
/// writes them (`\x1b`, `\u{202e}`). Unlike `visible`, long lines are kept
/// whole: the page has its own size budget. For text the page's script
/// inserts (`textContent`) from its JSON data.
pub(crate) fn shown(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_shown_as_is) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        push_shown(&mut out, c);
    }
    Cow::Owned(out)
}

/// Whether `c` is shown as it is, without asking `visible`: printable ASCII,
/// and the layout characters a page shows as such.
fn is_shown_as_is(c: char) -> bool {
    matches!(c, ' '..='~' | '\t' | '\n' | '\r') || !needs_visible_form(c)
}

/// Whether `visible` writes `c` out (one character alone never makes a line
/// too long to show).
fn needs_visible_form(c: char) -> bool {
    let mut buf = [0; 4];
    matches!(visible(c.encode_utf8(&mut buf)), Cow::Owned(_))
}

/// Push `c` onto `out` as the page shows it (see [`shown`]).
fn push_shown(out: &mut String, c: char) {
    if matches!(c, ' '..='~' | '\t' | '\n' | '\r') {
        out.push(c);
    } else {
        // Not the layout characters: `visible` keeps `\r` only before `\n`.
        let mut buf = [0; 4];
        out.push_str(&visible(c.encode_utf8(&mut buf)));
    }
}

/// The last `cap` bytes of a file of `len` bytes, starting at a line.
pub(crate) fn tail(path: &Path, len: u64, cap: u64) -> std::io::Result<String> {
    let text = kennel_config::text::read_tail(path, cap)?;
    Ok(match text.split_once('\n') {
        Some((_, rest)) if len > cap => rest.to_owned(),
        _ => text,
    })
}

/// A log folder from results.json is read only when it stays inside the job folder.
pub(crate) fn is_relative_inside(p: &Path) -> bool {
    !p.as_os_str().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// A relative URL for a relative path: every byte outside the unreserved set
/// (and `/`) percent-encoded.
pub(super) fn href(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logdirs_outside_the_job_are_not_read() {
        assert!(is_relative_inside(Path::new("tests/001-a")));
        assert!(!is_relative_inside(Path::new("../elsewhere")));
        assert!(!is_relative_inside(Path::new("/etc")));
    }

    #[test]
    fn controls_and_bidi_characters_are_written_out_and_lines_kept_whole() {
        assert_eq!(
            escape("<a>\x1b]0;PWNED\x07 \u{202e}x\u{2069}\u{9b}\x7f\t\r\n'&\""),
            r"&lt;a&gt;\x1b]0;PWNED\x07 \u{202e}x\u{2069}\u{9b}\x7f".to_owned()
                + "\t\r\n&#x27;&amp;&quot;"
        );
        let long = format!("{}\x1b", "é".repeat(5000));
        assert_eq!(escape(&long), format!("{}\\x1b", "é".repeat(5000)));
        assert!(matches!(shown("plain é\r\n\tü"), Cow::Borrowed(_)));
        assert_eq!(shown("a\u{202e}b\x00<"), r"a\u{202e}b\x00<");
    }

    #[test]
    fn hrefs_are_percent_encoded() {
        assert_eq!(href("tests/001-a b/x\"y"), "tests/001-a%20b/x%22y");
    }
}
