//! Text to key presses on a US keyboard (`type = "root\n"`).

use super::names::{Key, KeyCombo, KeyError};

/// The unshifted key of each symbol, and the symbol shift gives it.
const SYMBOL_KEYS: [(char, char, &str); 21] = [
    ('1', '!', "1"),
    ('2', '@', "2"),
    ('3', '#', "3"),
    ('4', '$', "4"),
    ('5', '%', "5"),
    ('6', '^', "6"),
    ('7', '&', "7"),
    ('8', '*', "8"),
    ('9', '(', "9"),
    ('0', ')', "0"),
    ('-', '_', "minus"),
    ('=', '+', "equal"),
    ('[', '{', "bracket_left"),
    (']', '}', "bracket_right"),
    ('\\', '|', "backslash"),
    (';', ':', "semicolon"),
    ('\'', '"', "apostrophe"),
    ('`', '~', "grave_accent"),
    (',', '<', "comma"),
    ('.', '>', "dot"),
    ('/', '?', "slash"),
];

/// Control characters that have a key of their own.
const CONTROL_KEYS: [(char, &str); 5] = [
    (' ', "spc"),
    ('\n', "ret"),
    ('\t', "tab"),
    ('\u{8}', "backspace"),
    ('\u{1b}', "esc"),
];

/// The key presses that type `text` on a US keyboard: one combination per
/// character, with shift for capitals and shifted symbols. A character no key
/// types (`é`, `\r`, a control character other than `\n`, `\t`, backspace
/// and escape) is an error naming it.
///
/// # Examples
///
/// ```
/// use kennel_spec::keys::text_keys;
///
/// let typed: Vec<String> = text_keys("Hi!\n").unwrap().iter().map(|c| c.to_string()).collect();
/// assert_eq!(typed, ["shift-h", "i", "shift-1", "ret"]);
/// assert!(text_keys("café").unwrap_err().to_string().contains("'é' (character 4 of the text)"));
/// ```
pub fn text_keys(text: &str) -> Result<Vec<KeyCombo>, KeyError> {
    text.chars()
        .enumerate()
        .map(|(i, ch)| {
            char_keys(ch).ok_or(KeyError::NoKey {
                ch,
                position: i + 1,
            })
        })
        .collect()
}

/// The combination typing `ch`, if a key types it.
fn char_keys(ch: char) -> Option<KeyCombo> {
    let key = |name: &str| Key::parse(name).ok();
    if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
        return key(ch.encode_utf8(&mut [0; 4])).map(KeyCombo::single);
    }
    if ch.is_ascii_uppercase() {
        let lower = ch.to_ascii_lowercase();
        return key(lower.encode_utf8(&mut [0; 4])).map(KeyCombo::shifted);
    }
    if let Some((_, name)) = CONTROL_KEYS.iter().find(|(c, _)| *c == ch) {
        return key(name).map(KeyCombo::single);
    }
    let (plain, _, name) = SYMBOL_KEYS
        .iter()
        .find(|(plain, shifted, _)| *plain == ch || *shifted == ch)?;
    let k = key(name)?;
    Some(if *plain == ch {
        KeyCombo::single(k)
    } else {
        KeyCombo::shifted(k)
    })
}
