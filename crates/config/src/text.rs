//! Small text rules every crate shares, each written once: quoting a word
//! for a POSIX shell, lowercase hex, the end of a text or a file (its last
//! lines, its last bytes), and untrusted text made safe to show on a
//! terminal ([`visible`]), and output of any size held in bounded memory
//! ([`HeadTail`]).
//!
//! ```
//! use kennel_config::text::{hex, last_line, shell_quote, shell_word, visible, BlankLines};
//!
//! assert_eq!(shell_word("/tmp/a"), "/tmp/a");
//! assert_eq!(shell_word("a b"), "'a b'");
//! assert_eq!(shell_quote("it's"), r"'it'\''s'");
//! assert_eq!(hex(&[0, 0xab]), "00ab");
//! assert_eq!(last_line("one\ntwo\n\n", BlankLines::Skip), Some("two"));
//! assert_eq!(last_line("one\ntwo\n\n", BlankLines::Keep), Some(""));
//! assert_eq!(visible("\x1b[2Jok"), r"\x1b[2Jok");
//! ```

pub use crate::kept::{left_out_marker, HeadTail, KEPT_OUTPUT};

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// `text` as one word of a POSIX shell command line, in its shortest form:
/// as it is when no character needs quoting, else quoted the way `shlex`
/// quotes (single quotes, double quotes around a `'`). For lines a person
/// reads or pastes: the gdb command, the `ssh` line of `cmdline`.
///
/// A NUL cannot be part of a shell word (nor of any argument a program
/// receives), so NULs are left out.
pub fn shell_word(text: &str) -> Cow<'_, str> {
    match shlex::try_quote(text) {
        Ok(quoted) => quoted,
        Err(_) => {
            let without_nul = text.replace('\0', "");
            Cow::Owned(
                shlex::try_quote(&without_nul)
                    .map_or_else(|_| String::from("''"), |quoted| quoted.into_owned()),
            )
        }
    }
}

/// `text` as one word of a POSIX shell command line, always in single
/// quotes, each `'` written as `'\''`. For text whose exact bytes matter
/// (a script in the guest's initramfs, a path in a command QEMU or the guest
/// runs): the same form whatever the text holds.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `bytes` as lowercase hexadecimal, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// Whether blank lines (empty, or only whitespace) count when taking the
/// last lines of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlankLines {
    /// Blank lines count like any other: the last line of `"a\n\n"` is `""`.
    Keep,
    /// Blank lines are passed over: the last line of `"a\n\n"` is `"a"`.
    Skip,
}

/// The last `n` lines of `text`, oldest first, as [`str::lines`] splits them
/// (a final newline ends the last line; it does not start an empty one).
pub fn last_lines(text: &str, n: usize, blanks: BlankLines) -> Vec<&str> {
    let mut lines: Vec<&str> = text
        .lines()
        .rev()
        .filter(|line| blanks == BlankLines::Keep || !line.trim().is_empty())
        .take(n)
        .collect();
    lines.reverse();
    lines
}

/// The last line of `text`, or `None` when it has none (or, skipping blank
/// lines, none that is not blank).
pub fn last_line(text: &str, blanks: BlankLines) -> Option<&str> {
    last_lines(text, 1, blanks).pop()
}

/// The last line of the file at `path`, trimmed of surrounding whitespace;
/// `None` when the file cannot be read or has no such line.
pub fn file_last_line(path: &Path, blanks: BlankLines) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    last_line(&text, blanks).map(|line| line.trim().to_owned())
}

/// The last `n` lines of the file at `path`, joined with `\n` (no final
/// newline); empty when the file cannot be read.
pub fn file_last_lines(path: &Path, n: usize, blanks: BlankLines) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    last_lines(&text, n, blanks).join("\n")
}

/// The last `max` bytes of `text` at most, starting at a character boundary
/// (so a few bytes fewer when `max` would cut a character).
pub fn last_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut from = text.len() - max;
    while !text.is_char_boundary(from) {
        from += 1;
    }
    &text[from..]
}

/// The last `max` bytes of the file at `path` at most, read without reading
/// the rest, as text (bytes that are not UTF-8 become U+FFFD).
pub fn read_tail(path: &Path, max: u64) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(max)))?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// How many bytes of one line [`visible`] shows; the rest of a longer line
/// is left out and counted in a marker, `… [N more bytes]`.
pub const VISIBLE_LINE_LIMIT: usize = 4096;

/// `text`, which came from outside kennel (a guest, QEMU, a test process, a
/// TAP producer), made safe to print on a terminal: every character that a
/// terminal would obey rather than show is written out instead, so an escape
/// sequence cannot retitle the window, clear the screen, write the clipboard
/// or hide a failure.
///
/// - Control characters (C0 but tab and newline, and DEL) are written
///   `\xHH`: ESC is `\x1b`, BEL `\x07`. A carriage return is one of them
///   (a flood of `\r` would overwrite the line), except right before a
///   newline, where it is harmless and kept.
/// - C1 controls (U+0080 to U+009F) and the bidirectional overrides and
///   isolates (U+202A to U+202E, U+2066 to U+2069, which reorder what is
///   shown: "Trojan Source") are written `\u{HHHH}` (lowercase hex, no
///   leading zeros): CSI is `\u{9b}`, RLO `\u{202e}`.
/// - A line longer than [`VISIBLE_LINE_LIMIT`] bytes is cut at a character
///   boundary within the limit, followed by `… [N more bytes]` (`N` counts
///   the bytes of the original line left out).
///
/// Tabs, newlines and every other character (U+FFFD included) stay as they
/// are, and a text that needs none of this is returned as it is, without a
/// copy. The written form is for people to read: it is not reversed, and
/// text that already holds `\x1b` looks the same. The results files keep the
/// exact text; only what kennel prints for people goes through here. For
/// text that is still bytes, [`visible_bytes`] also shows invalid UTF-8.
pub fn visible(text: &str) -> Cow<'_, str> {
    let fits = text
        .split('\n')
        .all(|line| line.len() <= VISIBLE_LINE_LIMIT);
    let mut chars = text.chars().peekable();
    let shown_as_is = std::iter::from_fn(|| {
        let c = chars.next()?;
        Some(escape_needed(c, chars.peek().copied()).is_none())
    })
    .all(|as_is| as_is);
    if fits && shown_as_is {
        return Cow::Borrowed(text);
    }
    let mut shown = Shown::with_capacity(text.len());
    shown.push_str(text);
    Cow::Owned(shown.finish())
}

/// [`visible`] for text that is still bytes: each byte that is not part of
/// valid UTF-8 is written `\xHH` too (always `\x80` or above, so it cannot
/// be mistaken for a control character, nor, in this form, for a C1 control
/// written `\u{HH}`).
pub fn visible_bytes(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return visible(text);
    }
    let mut shown = Shown::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        shown.push_str(chunk.valid());
        for byte in chunk.invalid() {
            shown.push_invalid(*byte);
        }
    }
    Cow::Owned(shown.finish())
}

/// How [`visible`] writes `c`, followed by `next`: `None` when as it is.
fn escape_needed(c: char, next: Option<char>) -> Option<String> {
    match c {
        '\t' | '\n' => None,
        '\r' if next == Some('\n') => None,
        '\u{0}'..='\u{1f}' | '\u{7f}' => Some(format!("\\x{:02x}", u32::from(c))),
        '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
            Some(format!("\\u{{{:x}}}", u32::from(c)))
        }
        _ => None,
    }
}

/// The text [`visible`] and [`visible_bytes`] build: escapes, and the cut of
/// each line past [`VISIBLE_LINE_LIMIT`].
struct Shown {
    out: String,
    /// Bytes of the original line so far.
    line_len: usize,
    /// Bytes of the original line left out.
    left_out: usize,
}

impl Shown {
    fn with_capacity(len: usize) -> Shown {
        Shown {
            out: String::with_capacity(len + 16),
            line_len: 0,
            left_out: 0,
        }
    }

    fn push_str(&mut self, text: &str) {
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\n' {
                self.end_line();
                self.out.push('\n');
            } else if self.fits(c.len_utf8()) {
                match escape_needed(c, chars.peek().copied()) {
                    Some(escaped) => self.out.push_str(&escaped),
                    None => self.out.push(c),
                }
            }
        }
    }

    fn push_invalid(&mut self, byte: u8) {
        if self.fits(1) {
            let _ = write!(self.out, "\\x{byte:02x}");
        }
    }

    /// Counts `len` more bytes of the line: whether they are shown.
    fn fits(&mut self, len: usize) -> bool {
        self.line_len += len;
        if self.line_len > VISIBLE_LINE_LIMIT {
            self.left_out += len;
            false
        } else {
            true
        }
    }

    fn end_line(&mut self) {
        if self.left_out > 0 {
            let _ = write!(self.out, "… [{} more bytes]", self.left_out);
        }
        self.line_len = 0;
        self.left_out = 0;
    }

    fn finish(mut self) -> String {
        self.end_line();
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_needing_no_quotes_stays_bare() {
        assert_eq!(
            shell_word("/boot/vmlinuz-6.1_x.y:z@h+1"),
            "/boot/vmlinuz-6.1_x.y:z@h+1"
        );
    }

    #[test]
    fn shell_word_quotes_like_shlex() {
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "\"it's\"");
        assert_eq!(shell_word("$(x)"), "'$(x)'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn shell_word_leaves_out_nul() {
        assert_eq!(shell_word("a\0b c"), "'ab c'");
        assert_eq!(shell_word("\0"), "''");
    }

    #[test]
    fn shell_quote_always_single_quotes() {
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(x)`y`"), "'$(x)`y`'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn hex_is_two_lowercase_digits_a_byte() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(
            hex(&0xdead_beef_u32.to_be_bytes()),
            format!("{:08x}", 0xdead_beef_u32)
        );
    }

    #[test]
    fn last_lines_keeping_blanks() {
        let text = "a\n\nb\n  \n";
        assert_eq!(last_lines(text, 2, BlankLines::Keep), ["b", "  "]);
        assert_eq!(last_lines(text, 9, BlankLines::Keep), ["a", "", "b", "  "]);
        assert_eq!(last_line(text, BlankLines::Keep), Some("  "));
    }

    #[test]
    fn last_lines_skipping_blanks() {
        let text = "a\n\nb\n  \n";
        assert_eq!(last_lines(text, 2, BlankLines::Skip), ["a", "b"]);
        assert_eq!(last_line(text, BlankLines::Skip), Some("b"));
        assert_eq!(last_line(" \n\n", BlankLines::Skip), None);
    }

    #[test]
    fn no_lines_in_empty_text() {
        assert_eq!(last_line("", BlankLines::Keep), None);
        assert!(last_lines("", 3, BlankLines::Keep).is_empty());
        assert!(last_lines("a\nb", 0, BlankLines::Keep).is_empty());
    }

    #[test]
    fn file_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        std::fs::write(&path, "one\n  two  \n\n").expect("write");
        assert_eq!(
            file_last_line(&path, BlankLines::Skip).as_deref(),
            Some("two")
        );
        assert_eq!(file_last_line(&path, BlankLines::Keep).as_deref(), Some(""));
        assert_eq!(file_last_lines(&path, 2, BlankLines::Keep), "  two  \n");
        let missing = dir.path().join("missing");
        assert_eq!(file_last_line(&missing, BlankLines::Keep), None);
        assert_eq!(file_last_lines(&missing, 2, BlankLines::Keep), "");
    }

    #[test]
    fn last_bytes_cut_at_a_character() {
        assert_eq!(last_bytes("short", 10), "short");
        assert_eq!(last_bytes("abcdef", 3), "def");
        // "é" is two bytes: cutting inside it starts after it.
        assert_eq!(last_bytes("aéb", 2), "b");
    }

    #[test]
    fn read_tail_reads_the_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        std::fs::write(&path, "0123456789").expect("write");
        assert_eq!(read_tail(&path, 4).expect("read"), "6789");
        assert_eq!(read_tail(&path, 100).expect("read"), "0123456789");
        assert!(read_tail(&dir.path().join("missing"), 4).is_err());
    }

    #[test]
    fn plain_text_is_shown_as_it_is_without_a_copy() {
        let text = "FAIL: expected \"ok\" in stdout\n\tgot: 'nö' � done\r\n";
        assert!(matches!(visible(text), Cow::Borrowed(t) if t == text));
        assert!(matches!(visible_bytes(text.as_bytes()), Cow::Borrowed(t) if t == text));
        assert!(matches!(visible(""), Cow::Borrowed("")));
    }

    #[test]
    fn c0_controls_and_del_are_written_as_hex_escapes() {
        assert_eq!(
            visible("\x1b]0;PWNED-TITLE\x07\x1b[2J\x1b[31mred"),
            r"\x1b]0;PWNED-TITLE\x07\x1b[2J\x1b[31mred"
        );
        assert_eq!(visible("a\0b\x08c\x7fd\x1f"), r"a\x00b\x08c\x7fd\x1f");
    }

    #[test]
    fn tabs_and_newlines_are_kept() {
        assert_eq!(visible("a\tb\nc\x1b\n"), "a\tb\nc\\x1b\n");
    }

    #[test]
    fn a_carriage_return_is_shown_unless_it_ends_a_line() {
        assert_eq!(visible("ok\rFAIL"), r"ok\x0dFAIL");
        assert_eq!(visible("\r\r\r"), r"\x0d\x0d\x0d");
        assert_eq!(visible("line\r\nnext\r"), "line\r\nnext\\x0d");
    }

    #[test]
    fn c1_controls_are_written_as_unicode_escapes() {
        assert_eq!(visible("\u{9b}2J\u{80}\u{9f}"), r"\u{9b}2J\u{80}\u{9f}");
        // Just past the C1 range: a printable character.
        assert_eq!(visible("\u{a0}é"), "\u{a0}é");
    }

    #[test]
    fn bidi_overrides_and_isolates_are_written_as_unicode_escapes() {
        assert_eq!(
            visible("pass\u{202e}liaf\u{202c} \u{2066}x\u{2069}"),
            r"pass\u{202e}liaf\u{202c} \u{2066}x\u{2069}"
        );
        assert_eq!(
            visible("\u{202a}\u{202b}\u{202d}\u{2067}\u{2068}")
                .matches("\\u{")
                .count(),
            5
        );
    }

    #[test]
    fn invalid_utf8_bytes_are_written_as_hex_escapes() {
        assert_eq!(visible_bytes(b"a\xffb\xc3"), r"a\xffb\xc3");
        assert_eq!(visible_bytes(b"\x1b[1m\xfe\r"), r"\x1b[1m\xfe\x0d");
        // U+FFFD from an earlier lossy conversion stays.
        assert_eq!(visible("a\u{fffd}b"), "a\u{fffd}b");
    }

    #[test]
    fn a_long_line_is_cut_with_a_marker_and_the_next_line_shown() {
        let long = "x".repeat(VISIBLE_LINE_LIMIT + 10);
        let text = format!("{long}\nshort\n");
        let expected = format!(
            "{}… [10 more bytes]\nshort\n",
            "x".repeat(VISIBLE_LINE_LIMIT)
        );
        assert_eq!(visible(&text), expected);
        let exact = "x".repeat(VISIBLE_LINE_LIMIT);
        assert!(matches!(visible(&exact), Cow::Borrowed(_)));
    }

    #[test]
    fn a_long_line_is_cut_at_a_character_and_counts_original_bytes() {
        // 'é' is two bytes: the one that would cross the limit is left out.
        let text = format!("{}é\x1b\x1b", "x".repeat(VISIBLE_LINE_LIMIT - 1));
        assert_eq!(
            visible(&text),
            format!("{}… [4 more bytes]", "x".repeat(VISIBLE_LINE_LIMIT - 1))
        );
        let bytes = [vec![b'x'; VISIBLE_LINE_LIMIT], vec![0xff; 3]].concat();
        assert_eq!(
            visible_bytes(&bytes),
            format!("{}… [3 more bytes]", "x".repeat(VISIBLE_LINE_LIMIT))
        );
    }
}
