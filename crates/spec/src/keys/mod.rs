//! The keyboard and mouse vocabulary of screen tests, shared by both front
//! ends (the `keys`, `type` and `mouse` steps, and the Rust API's
//! `send_keys`, `type_text`, `mouse_move`, `mouse_click`): QEMU's key names,
//! key combinations, text to key presses on a US keyboard, mouse buttons.

mod layout;
mod mouse;
mod names;

pub use layout::text_keys;
pub use mouse::{MouseAction, MouseButton, UnknownButton};
pub use names::{valid_names, Key, KeyCombo, KeyError};
