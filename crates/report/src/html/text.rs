//! Text and paths made safe for the page: HTML escaping, relative links, log
//! folders that stay inside the job, and the tail of a log.

use std::fmt::Write as _;
use std::path::{Component, Path};

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

/// Escape text for HTML content and quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
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
    fn hrefs_are_percent_encoded() {
        assert_eq!(href("tests/001-a b/x\"y"), "tests/001-a%20b/x%22y");
    }
}
