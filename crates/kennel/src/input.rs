//! Keyboard and mouse input on a [`Vm`]'s display: the same names, layout
//! and checks as the `keys`, `type` and `mouse` steps of a TOML test, one
//! implementation in the machine core (`kennel_vm::Vm::send_keys`).

use kennel_vm::keys::{KeyCombo, KeyError, MouseAction, MouseButton};
use kennel_vm::InputError;

use crate::error::{ErrorKind, Result};
use crate::vm::Vm;

impl Vm {
    /// Press each key combination in turn: QEMU's key names joined by `-`
    /// (`"ctrl-alt-f2"`, `"ret"`, `"shift-a"`), as the `keys` step takes
    /// them. An unknown name is an error listing the valid ones.
    ///
    /// ```no_run
    /// # fn f(vm: &mut kennel::Vm) -> kennel::Result {
    /// vm.send_keys(&["alt-f2"])?;
    /// # Ok(()) }
    /// ```
    pub fn send_keys(&mut self, combos: &[&str]) -> Result<()> {
        let what = format!("keys {}", combos.join(" "));
        let parsed: std::result::Result<Vec<KeyCombo>, KeyError> =
            combos.iter().map(|c| KeyCombo::parse(c)).collect();
        let r = match parsed {
            Ok(parsed) => self.input(what, |vm, deadline| vm.send_keys(&parsed, deadline)),
            Err(e) => Err(self.input_error(what, InputError::Keys(e))),
        };
        self.noted(r)
    }

    /// Type `text` on a US keyboard (shift for capitals and symbols, `\n` is
    /// Enter), as the `type` step does; a character no key types is an error
    /// naming it.
    ///
    /// ```no_run
    /// # fn f(vm: &mut kennel::Vm) -> kennel::Result {
    /// vm.type_text("echo hello > /tmp/typed\n")?;
    /// # Ok(()) }
    /// ```
    pub fn type_text(&mut self, text: &str) -> Result<()> {
        let what = format!("typing {text:?}");
        let r = self.input(what, |vm, deadline| vm.type_text(text, deadline));
        self.noted(r)
    }

    /// Move the pointer to pixel `(x, y)` of the screen (absolute, through
    /// the USB tablet of a machine built with
    /// [`MachineBuilder::tablet`](crate::MachineBuilder::tablet)), as a
    /// `mouse = { move = [x, y] }` step does.
    pub fn mouse_move(&mut self, x: u32, y: u32) -> Result<()> {
        let action = MouseAction {
            to: Some((x, y)),
            click: None,
        };
        let what = format!("mouse {action}");
        let r = self.input(what, |vm, deadline| vm.mouse(&action, deadline));
        self.noted(r)
    }

    /// Press and release mouse button `button` (QEMU's names: `left`,
    /// `middle`, `right`, `wheel-up`, ...) where the pointer is.
    pub fn mouse_click(&mut self, button: &str) -> Result<()> {
        let what = format!("mouse click {button}");
        let r = match MouseButton::parse(button) {
            Ok(button) => {
                let action = MouseAction {
                    to: None,
                    click: Some(button),
                };
                self.input(what, |vm, deadline| vm.mouse(&action, deadline))
            }
            Err(e) => Err(crate::Error::msg(format!(
                "{what} on `{}`: {e}",
                self.name()
            ))),
        };
        self.noted(r)
    }

    /// Send input through the machine core by the test's deadline, logged.
    fn input(
        &mut self,
        what: String,
        send: impl FnOnce(&mut kennel_vm::Vm, std::time::Instant) -> std::result::Result<(), InputError>,
    ) -> Result<()> {
        self.log_line(&what);
        let deadline = self.deadline();
        send(self.core(), deadline).map_err(|source| self.input_error(what, source))
    }

    fn input_error(&self, what: String, source: InputError) -> crate::Error {
        ErrorKind::Input {
            machine: self.name().to_owned(),
            what,
            source,
        }
        .into()
    }
}
