//! Mouse buttons and actions (`mouse = { move = [x, y], click = "left" }`).

use std::fmt;

/// QEMU's button names (the QAPI enum `InputButton` of QEMU 7.2).
const BUTTONS: [&str; 9] = [
    "left",
    "middle",
    "right",
    "wheel-up",
    "wheel-down",
    "wheel-left",
    "wheel-right",
    "side",
    "extra",
];

/// A mouse button, by QEMU's name.
///
/// # Examples
///
/// ```
/// use kennel_spec::keys::MouseButton;
///
/// assert_eq!(MouseButton::parse("left").unwrap().name(), "left");
/// assert!(MouseButton::parse("both").unwrap_err().to_string().contains("`middle`"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MouseButton(&'static str);

impl MouseButton {
    /// The button called `name`.
    pub fn parse(name: &str) -> Result<MouseButton, UnknownButton> {
        BUTTONS
            .iter()
            .find(|b| **b == name)
            .map(|b| MouseButton(b))
            .ok_or_else(|| UnknownButton {
                name: name.to_owned(),
            })
    }

    /// QEMU's name of the button.
    pub fn name(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for MouseButton {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A name that is not one of QEMU's mouse buttons.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mouse button `{name}`: expected one of {}", button_list())]
pub struct UnknownButton {
    /// The name as written.
    pub name: String,
}

fn button_list() -> String {
    BUTTONS
        .iter()
        .map(|b| format!("`{b}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a `mouse` step does: move the pointer to a pixel of the screen
/// (absolute, through a tablet), then click a button there; either or both.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MouseAction {
    /// The pixel `(x, y)` to move to, from the screen's top left corner.
    pub to: Option<(u32, u32)>,
    /// The button pressed and released (after the move).
    pub click: Option<MouseButton>,
}

impl fmt::Display for MouseAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some((x, y)) = self.to {
            parts.push(format!("move to {x},{y}"));
        }
        if let Some(button) = self.click {
            parts.push(format!("click {button}"));
        }
        f.write_str(&parts.join(", "))
    }
}
