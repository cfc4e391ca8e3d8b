//! Keyboard and mouse input into a machine's display, for both front ends:
//! key combinations through QMP `send-key`, text as key presses on a US
//! keyboard, and the pointer through QMP `input-send-event` (absolute, on
//! the USB tablet a machine gets with `tablet`). The names and the layout
//! are [`kennel_spec::keys`]'.

use std::time::{Duration, Instant};

use kennel_machine::{CommandError, MachineError, QmpError, Value};
use kennel_spec::keys::{text_keys, KeyCombo, KeyError, MouseAction};
use serde_json::json;

use crate::vm::Vm;

/// How long QEMU holds each key of a combination down, and then waits after
/// each release (QMP `send-key`'s `hold-time`).
pub const KEY_HOLD: Duration = Duration::from_millis(20);

/// Why input could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The machine has no QMP monitor (or QEMU has exited).
    #[error("no monitor to send {what} through")]
    NoMonitor {
        /// What was to be sent.
        what: String,
        /// Why there is none.
        #[source]
        source: MachineError,
    },
    /// The QMP exchange failed: a timeout, QEMU went away or spoke garbage.
    #[error("sending {what}")]
    Exchange {
        /// What was being sent.
        what: String,
        /// The failure.
        #[source]
        source: QmpError,
    },
    /// QEMU refused the command.
    #[error("QEMU refused {what}")]
    Refused {
        /// What was sent.
        what: String,
        /// QEMU's error.
        #[source]
        source: CommandError,
    },
    /// A key this machine's QEMU does not have yet.
    #[error(
        "key `{key}` needs QEMU {}.{} or later; this machine runs QEMU {}.{}.{}",
        since.0, since.1, version.0, version.1, version.2
    )]
    KeyTooNew {
        /// The key.
        key: &'static str,
        /// The QEMU version that added it.
        since: (u32, u32),
        /// The machine's QEMU.
        version: (u64, u64, u64),
    },
    /// A text no US keyboard types, or a key name QEMU does not know.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The screen could not be read for its size (a move is in its pixels).
    #[error("reading the screen's size for a mouse move")]
    Screen(#[source] MachineError),
    /// A move to a pixel the screen does not have.
    #[error("pixel {x},{y} is off the screen ({width}x{height})")]
    OffScreen {
        /// The pixel asked for.
        x: u32,
        /// The pixel asked for.
        y: u32,
        /// The screen's width.
        width: u32,
        /// The screen's height.
        height: u32,
    },
    /// The deadline came before every key was pressed.
    #[error("timed out after {done} of {total} key presses")]
    Timeout {
        /// The combinations pressed.
        done: usize,
        /// The combinations to press.
        total: usize,
    },
}

impl InputError {
    /// Whether the deadline ran out (the step's or the test's time), rather
    /// than the machine or QEMU failing.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            InputError::Timeout { .. }
                | InputError::Exchange {
                    source: QmpError::Timeout { .. },
                    ..
                }
        )
    }
}

impl Vm {
    /// Press each combination of `combos` in turn (`ctrl-alt-f2`: ctrl, alt
    /// and f2 down in order, released in reverse), each key held
    /// [`KEY_HOLD`]; kennel waits for QEMU to play one combination before it
    /// sends the next, so a long text never overflows QEMU's key queue. Every
    /// wait ends by `deadline`.
    pub fn send_keys(&mut self, combos: &[KeyCombo], deadline: Instant) -> Result<(), InputError> {
        let version = self.machine().qmp().ok().and_then(|q| q.version());
        if let Some(version) = version {
            check_keys_exist(combos, version)?;
        }
        for (done, combo) in combos.iter().enumerate() {
            let presses = u32::try_from(combo.keys().len() * 2).unwrap_or(u32::MAX);
            let plays_for = KEY_HOLD * presses;
            if Instant::now() + plays_for > deadline {
                return Err(InputError::Timeout {
                    done,
                    total: combos.len(),
                });
            }
            self.qmp_input(
                "send-key",
                &send_key_args(combo),
                &format!("key {combo}"),
                deadline,
            )?;
            std::thread::sleep(plays_for);
        }
        Ok(())
    }

    /// Type `text` on a US keyboard: [`text_keys`] then [`Vm::send_keys`].
    pub fn type_text(&mut self, text: &str, deadline: Instant) -> Result<(), InputError> {
        let combos = text_keys(text)?;
        self.send_keys(&combos, deadline)
    }

    /// Move the pointer to a pixel of the screen, then click, as `action`
    /// says: QMP `input-send-event` with absolute coordinates (scaled to
    /// QEMU's 0 to 32767 by the screen's size, read from a screendump), for
    /// the USB tablet of a machine with `tablet`.
    pub fn mouse(&mut self, action: &MouseAction, deadline: Instant) -> Result<(), InputError> {
        if let Some((x, y)) = action.to {
            let screen = self
                .machine()
                .screen(deadline)
                .map_err(InputError::Screen)?;
            let events = move_events((x, y), screen.dimensions())?;
            let what = format!("mouse move to {x},{y}");
            self.qmp_input(
                "input-send-event",
                &json!({ "events": events }),
                &what,
                deadline,
            )?;
        }
        if let Some(button) = action.click {
            let what = format!("mouse click {button}");
            for down in [true, false] {
                let event = json!({"type": "btn", "data": {"down": down, "button": button.name()}});
                self.qmp_input(
                    "input-send-event",
                    &json!({ "events": [event] }),
                    &what,
                    deadline,
                )?;
                std::thread::sleep(KEY_HOLD);
            }
        }
        Ok(())
    }

    /// Run the QMP input command `command`; `what` names the input for errors.
    pub(crate) fn qmp_input(
        &mut self,
        command: &str,
        args: &Value,
        what: &str,
        deadline: Instant,
    ) -> Result<(), InputError> {
        let qmp = self
            .machine()
            .qmp()
            .map_err(|source| InputError::NoMonitor {
                what: what.to_owned(),
                source,
            })?;
        match qmp.execute_raw(command, Some(args), deadline) {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(source)) => Err(InputError::Refused {
                what: what.to_owned(),
                source,
            }),
            Err(source) => Err(InputError::Exchange {
                what: what.to_owned(),
                source,
            }),
        }
    }
}

/// Every key of `combos` exists in QEMU `version`.
fn check_keys_exist(combos: &[KeyCombo], version: (u64, u64, u64)) -> Result<(), InputError> {
    for key in combos.iter().flat_map(|c| c.keys()) {
        if let Some(since) = key.since() {
            if (version.0, version.1) < (u64::from(since.0), u64::from(since.1)) {
                return Err(InputError::KeyTooNew {
                    key: key.name(),
                    since,
                    version,
                });
            }
        }
    }
    Ok(())
}

/// The largest absolute coordinate QEMU's input layer takes
/// (`INPUT_EVENT_ABS_MAX`); 0 is the screen's left or top edge.
const ABS_MAX: u64 = 0x7fff;

/// The absolute `input-send-event` events of a move to pixel `to` of a
/// screen of `size`, scaled as QEMU's own display front ends scale theirs.
fn move_events(to: (u32, u32), size: (u32, u32)) -> Result<Vec<Value>, InputError> {
    let ((x, y), (width, height)) = (to, size);
    if x >= width || y >= height {
        return Err(InputError::OffScreen {
            x,
            y,
            width,
            height,
        });
    }
    let scale = |v: u32, size: u32| u64::from(v) * ABS_MAX / u64::from(size);
    Ok(vec![
        json!({"type": "abs", "data": {"axis": "x", "value": scale(x, width)}}),
        json!({"type": "abs", "data": {"axis": "y", "value": scale(y, height)}}),
    ])
}

/// QMP `send-key`'s arguments for `combo`.
fn send_key_args(combo: &KeyCombo) -> Value {
    let keys: Vec<Value> = combo
        .keys()
        .iter()
        .map(|k| json!({"type": "qcode", "data": k.name()}))
        .collect();
    json!({"keys": keys, "hold-time": KEY_HOLD.as_millis() as u64})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_combination_becomes_send_key_with_qcodes_in_order() {
        let combo = KeyCombo::parse("ctrl-alt-f2").expect("combo");

        assert_eq!(
            send_key_args(&combo),
            json!({"keys": [
                {"type": "qcode", "data": "ctrl"},
                {"type": "qcode", "data": "alt"},
                {"type": "qcode", "data": "f2"},
            ], "hold-time": 20})
        );
    }

    #[test]
    fn a_move_is_scaled_to_qemus_absolute_range_by_the_screen_size() {
        let events = move_events((512, 767), (1024, 768)).expect("on the screen");

        assert_eq!(events[0]["data"], json!({"axis": "x", "value": 16383}));
        assert_eq!(events[1]["data"], json!({"axis": "y", "value": 32724}));
    }

    #[test]
    fn a_move_off_the_screen_is_refused_with_its_size() {
        let err = move_events((1024, 0), (1024, 768)).expect_err("off");

        assert_eq!(err.to_string(), "pixel 1024,0 is off the screen (1024x768)");
    }

    #[test]
    fn a_key_newer_than_the_machines_qemu_is_refused_naming_both_versions() {
        let combos = [KeyCombo::parse("ctrl-f13").expect("combo")];

        let err = check_keys_exist(&combos, (7, 2, 11)).expect_err("too new");

        assert_eq!(
            err.to_string(),
            "key `f13` needs QEMU 8.0 or later; this machine runs QEMU 7.2.11"
        );
        assert!(check_keys_exist(&combos, (10, 0, 2)).is_ok());
    }
}
