//! Small text rules every crate shares, each written once: quoting a word
//! for a POSIX shell, lowercase hex, and the end of a text or a file (its
//! last lines, its last bytes).
//!
//! ```
//! use kennel_config::text::{hex, last_line, shell_quote, shell_word, BlankLines};
//!
//! assert_eq!(shell_word("/tmp/a"), "/tmp/a");
//! assert_eq!(shell_word("a b"), "'a b'");
//! assert_eq!(shell_quote("it's"), r"'it'\''s'");
//! assert_eq!(hex(&[0, 0xab]), "00ab");
//! assert_eq!(last_line("one\ntwo\n\n", BlankLines::Skip), Some("two"));
//! assert_eq!(last_line("one\ntwo\n\n", BlankLines::Keep), Some(""));
//! ```

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
}
