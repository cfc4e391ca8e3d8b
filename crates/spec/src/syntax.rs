//! Where a TOML syntax mistake is, when the parser gives up later than it.
//!
//! A string left open or an array left without its `]` is read on as if it
//! went on, and the parser reports where that stops making sense (a "missing
//! comma" lines further down). These checks find the mistake itself; the
//! loader uses them when they point at or before where the parser gave up.

/// The byte offset of a likely mistake and what it is, scanning `text` up to
/// `limit` (where the parser gave up); `None` when none of the common ones is
/// found there.
pub(crate) fn likely_mistake(text: &str, limit: usize) -> Option<(usize, String)> {
    let bytes = text.as_bytes();
    // Open `[` (arrays) and `{` (inline tables), with their offsets.
    let mut open: Vec<(u8, usize)> = Vec::new();
    let mut line_start = true;
    let mut i = 0;
    while i < bytes.len() && i <= limit {
        let b = bytes[i];
        if line_start && !b.is_ascii_whitespace() {
            line_start = false;
            if let Some(&(b'[', at)) = open.last() {
                if starts_new_entry(&text[i..]) {
                    return Some((
                        at,
                        "this `[` is never closed: expected `]` before the next key or table"
                            .to_owned(),
                    ));
                }
            }
            if open.is_empty() && b == b'[' {
                // A table header: the parser's own message is exact.
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                continue;
            }
        }
        match b {
            b'\n' => line_start = true,
            b'#' => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                continue;
            }
            b'"' | b'\'' => {
                let quote = b as char;
                let triple: String = [quote; 3].iter().collect();
                if text[i..].starts_with(&triple) {
                    match find_close(&text[i + 3..], &triple, quote == '"') {
                        Some(n) => i += 3 + n + 3,
                        None => {
                            return Some((
                                i,
                                format!(
                                    "unterminated multi-line string: `{triple}` is never closed"
                                ),
                            ))
                        }
                    }
                    continue;
                }
                let line_end = text[i + 1..].find('\n').map_or(bytes.len(), |n| i + 1 + n);
                let quote_str = quote.to_string();
                match find_close(&text[i + 1..line_end], &quote_str, quote == '"') {
                    Some(n) => i += 1 + n + 1,
                    None => {
                        return Some((
                            i,
                            format!(
                                "unterminated string: this `{quote}` is not closed on its line"
                            ),
                        ))
                    }
                }
                continue;
            }
            b'[' | b'{' => open.push((b, i)),
            b']' | b'}' => {
                open.pop();
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset of `close` in `text`, skipping backslash escapes in basic strings.
fn find_close(text: &str, close: &str, escapes: bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if escapes && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i..].starts_with(close.as_bytes()) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Whether a line starts a new entry: `key =` or a `[table]` / `[[table]]`
/// header (neither can be inside an array).
fn starts_new_entry(line: &str) -> bool {
    let line = line.lines().next().unwrap_or_default().trim();
    let bare = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '))
    };
    if let Some((key, _)) = line.split_once('=') {
        if bare(key.trim()) && !line.starts_with('[') {
            return true;
        }
    }
    let header = line
        .strip_prefix("[[")
        .and_then(|l| l.strip_suffix("]]"))
        .or_else(|| line.strip_prefix('[').and_then(|l| l.strip_suffix(']')));
    header.is_some_and(|name| bare(name) && name.chars().any(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_strings_and_arrays_are_no_mistake() {
        let text = "a = [\"x\", 'y', \"\"\"m\nl\"\"\"]\n# \"open in a comment\nb = \"q\\\"\"\n";

        assert_eq!(likely_mistake(text, text.len()), None);
    }

    #[test]
    fn a_string_open_at_the_end_of_its_line_is_found_at_its_quote() {
        let text = "a = [\"x\",\n  \"y,\n  \"z\"]\n";

        assert_eq!(
            likely_mistake(text, text.len()).map(|(at, _)| at),
            Some(text.find("\"y").expect("quote"))
        );
    }

    #[test]
    fn an_array_open_at_the_next_header_is_found_at_its_bracket() {
        let text = "a = [1,\n  2\n\n[[step]]\n";

        assert_eq!(likely_mistake(text, text.len()).map(|(at, _)| at), Some(4));
    }

    #[test]
    fn nested_arrays_over_lines_are_no_mistake() {
        let text = "a = [\n  [1, 2],\n  [3],\n]\n";

        assert_eq!(likely_mistake(text, text.len()), None);
    }
}
