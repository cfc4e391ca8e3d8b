//! QEMU's key names (the QAPI enum `QKeyCode`, which QMP `send-key` takes)
//! and key combinations such as `ctrl-alt-f2`.

use std::fmt;

/// Every `QKeyCode` name of QEMU 7.2, in QEMU's order, separated by spaces;
/// QEMU 10.0 has the same names and [`NEWER_KEYS`] besides.
const KEYS_7_2: &str = "\
    unmapped shift shift_r alt alt_r ctrl ctrl_r menu esc 1 2 3 4 5 6 7 8 9 0 minus equal \
    backspace tab q w e r t y u i o p bracket_left bracket_right ret a s d f g h j k l \
    semicolon apostrophe grave_accent backslash z x c v b n m comma dot slash asterisk spc \
    caps_lock f1 f2 f3 f4 f5 f6 f7 f8 f9 f10 num_lock scroll_lock kp_divide kp_multiply \
    kp_subtract kp_add kp_enter kp_decimal sysrq kp_0 kp_1 kp_2 kp_3 kp_4 kp_5 kp_6 kp_7 \
    kp_8 kp_9 less f11 f12 print home pgup pgdn end left up down right insert delete stop \
    again props undo front copy open paste find cut lf help meta_l meta_r compose pause ro \
    hiragana henkan yen muhenkan katakanahiragana kp_comma kp_equals power sleep wake \
    audionext audioprev audiostop audioplay audiomute volumeup volumedown mediaselect mail \
    calculator computer ac_home ac_back ac_forward ac_refresh ac_bookmarks lang1 lang2";

/// The names QEMU 8.0 added (`f13` to `f24`), and that version.
const NEWER_KEYS: (&str, (u32, u32)) = ("f13 f14 f15 f16 f17 f18 f19 f20 f21 f22 f23 f24", (8, 0));

/// Every name with the QEMU version that added it, when later than 7.2.
fn all_keys() -> impl Iterator<Item = (&'static str, Option<(u32, u32)>)> {
    let (newer, since) = NEWER_KEYS;
    KEYS_7_2
        .split_whitespace()
        .map(|k| (k, None))
        .chain(newer.split_whitespace().map(move |k| (k, Some(since))))
}

/// Names people reach for that QEMU spells otherwise: the suggestion for an
/// unknown name.
const ALIASES: [(&str, &str); 24] = [
    ("enter", "ret"),
    ("return", "ret"),
    ("space", "spc"),
    ("escape", "esc"),
    ("del", "delete"),
    ("ins", "insert"),
    ("bksp", "backspace"),
    ("pageup", "pgup"),
    ("page_up", "pgup"),
    ("pagedown", "pgdn"),
    ("page_down", "pgdn"),
    ("control", "ctrl"),
    ("lctrl", "ctrl"),
    ("rctrl", "ctrl_r"),
    ("lshift", "shift"),
    ("rshift", "shift_r"),
    ("altgr", "alt_r"),
    ("super", "meta_l"),
    ("win", "meta_l"),
    ("meta", "meta_l"),
    ("period", "dot"),
    ("grave", "grave_accent"),
    ("backtick", "grave_accent"),
    ("capslock", "caps_lock"),
];

/// One of QEMU's key names.
///
/// # Examples
///
/// ```
/// use kennel_spec::keys::Key;
///
/// let key = Key::parse("f2").unwrap();
/// assert_eq!(key.name(), "f2");
/// assert_eq!(key.since(), None);
/// assert_eq!(Key::parse("f13").unwrap().since(), Some((8, 0)));
/// assert!(Key::parse("enter").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    name: &'static str,
    since: Option<(u32, u32)>,
}

impl Key {
    /// The key called `name` (QEMU's spelling, e.g. `ret`, `ctrl`, `f2`, `a`).
    pub fn parse(name: &str) -> Result<Key, KeyError> {
        match all_keys().find(|(k, _)| *k == name) {
            Some((known, since)) => Ok(Key { name: known, since }),
            None => Err(KeyError::Unknown {
                name: name.to_owned(),
                suggestion: suggest(name),
                combo: None,
            }),
        }
    }

    /// QEMU's name of the key.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The QEMU version (major, minor) that added the key, when later than
    /// 7.2 (the oldest QEMU kennel supports).
    pub fn since(&self) -> Option<(u32, u32)> {
        self.since
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Keys pressed together, written with `-` between QEMU's names:
/// `ctrl-alt-f2`, `shift-a`, `ret`. They are pressed in order and released
/// in the reverse order, as QMP `send-key` does.
///
/// # Examples
///
/// ```
/// use kennel_spec::keys::KeyCombo;
///
/// let combo = KeyCombo::parse("ctrl-alt-f2").unwrap();
/// let names: Vec<&str> = combo.keys().iter().map(|k| k.name()).collect();
/// assert_eq!(names, ["ctrl", "alt", "f2"]);
/// assert_eq!(combo.to_string(), "ctrl-alt-f2");
///
/// let refused = KeyCombo::parse("ctrl-enter").unwrap_err().to_string();
/// assert!(refused.starts_with("unknown key `enter` in `ctrl-enter`: did you mean `ret`?"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyCombo {
    keys: Vec<Key>,
}

impl KeyCombo {
    /// Parse `ctrl-alt-f2`: key names joined by `-` (QEMU's names have none).
    pub fn parse(text: &str) -> Result<KeyCombo, KeyError> {
        if text.is_empty() {
            return Err(KeyError::Empty {
                combo: text.to_owned(),
            });
        }
        let mut keys = Vec::new();
        for name in text.split('-') {
            if name.is_empty() {
                return Err(KeyError::Empty {
                    combo: text.to_owned(),
                });
            }
            keys.push(Key::parse(name).map_err(|e| e.in_combo(text))?);
        }
        Ok(KeyCombo { keys })
    }

    /// One key alone.
    pub fn single(key: Key) -> KeyCombo {
        KeyCombo { keys: vec![key] }
    }

    /// `key` with shift held.
    pub(crate) fn shifted(key: Key) -> KeyCombo {
        KeyCombo {
            keys: vec![Key::named("shift"), key],
        }
    }

    /// The keys, in the order they are pressed.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }
}

impl Key {
    /// A key of the table, by a name known to be there.
    pub(crate) fn named(name: &'static str) -> Key {
        Key { name, since: None }
    }
}

impl fmt::Display for KeyCombo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, key) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            f.write_str(key.name)?;
        }
        Ok(())
    }
}

/// Why a key, key combination or text cannot be typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A name that is not one of QEMU's key names.
    #[error("unknown key `{name}`{}: {}{}", in_combo(.combo), did_you_mean(.suggestion), valid_names())]
    Unknown {
        /// The name as written.
        name: String,
        /// A known name the writer probably meant.
        suggestion: Option<&'static str>,
        /// The combination it was part of, when it was not alone.
        combo: Option<String>,
    },
    /// An empty combination, or an empty name in one (`ctrl--x`).
    #[error(
        "empty key name in {combo:?}: expected QEMU key names joined by `-`, like `ctrl-alt-f2`"
    )]
    Empty {
        /// The combination as written.
        combo: String,
    },
    /// A character of a text no key of a US keyboard types.
    #[error("no key of a US keyboard types {ch:?} (character {position} of the text): `type` takes printable ASCII, `\\n` (ret), `\\t` (tab), `\\u{{8}}` (backspace) and `\\u{{1b}}` (esc); send other keys with `keys`")]
    NoKey {
        /// The character.
        ch: char,
        /// Its 1-based position in the text, in characters.
        position: usize,
    },
}

impl KeyError {
    fn in_combo(self, text: &str) -> KeyError {
        match self {
            KeyError::Unknown {
                name, suggestion, ..
            } if name != text => KeyError::Unknown {
                name,
                suggestion,
                combo: Some(text.to_owned()),
            },
            other => other,
        }
    }
}

fn in_combo(combo: &Option<String>) -> String {
    match combo {
        Some(combo) => format!(" in `{combo}`"),
        None => String::new(),
    }
}

fn did_you_mean(suggestion: &Option<&'static str>) -> String {
    match suggestion {
        Some(name) => format!("did you mean `{name}`? "),
        None => String::new(),
    }
}

/// The valid names, compactly: the runs (`a` to `z`, `f1` to `f24`, ...)
/// and then every other name.
pub fn valid_names() -> String {
    let others: Vec<&str> = all_keys().map(|(k, _)| k).filter(|k| !in_run(k)).collect();
    format!(
        "QEMU's key names are `a` to `z`, `0` to `9`, `f1` to `f24` (`f13` and up since QEMU 8.0), `kp_0` to `kp_9`, and {}",
        others
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Whether `name` is one of the runs [`valid_names`] writes as a range:
/// `a` to `z`, `0` to `9`, `f1` to `f24`, `kp_0` to `kp_9`.
fn in_run(name: &str) -> bool {
    let numbered = |prefix: &str, range: std::ops::RangeInclusive<u32>| {
        name.strip_prefix(prefix)
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| range.contains(&n))
    };
    (name.len() == 1 && name.chars().all(|c| c.is_ascii_alphanumeric()))
        || numbered("f", 1..=24)
        || numbered("kp_", 0..=9)
}

/// A known name for an unknown `name`: an alias, the name in lower case, or
/// with `_` for `-`-less spellings.
fn suggest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if let Some((_, known)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
        return Some(known);
    }
    all_keys()
        .map(|(k, _)| k)
        .find(|k| *k == lower || k.replace('_', "") == lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_qemu_7_2s_150_names_and_10_0s_12_more_once_each() {
        let names: Vec<&str> = all_keys().map(|(k, _)| k).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();

        assert_eq!(KEYS_7_2.split_whitespace().count(), 150);
        assert_eq!((names.len(), unique.len()), (162, 162));
    }

    #[test]
    fn no_name_holds_the_combination_separator() {
        assert!(all_keys().all(|(k, _)| !k.contains('-')));
    }
}
