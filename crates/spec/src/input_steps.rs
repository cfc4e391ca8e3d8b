//! Loading the input steps: `keys`, `type` and `mouse`, checked against the
//! key names and the US layout of [`crate::keys`] at load.

use crate::convert::list;
use crate::keys::{text_keys, KeyCombo, MouseAction, MouseButton};
use crate::load::{Loader, Result};
use crate::model::{MachineSpec, StepKind, DISPLAYS};
use crate::raw::{RawMouse, RawStep, S};

impl Loader<'_> {
    /// `keys = ["ctrl-alt-f2", "ret"]`: every combination parsed now; an
    /// unknown name is an error at its item.
    pub(crate) fn keys_step(&self, keys: &S<Vec<S<String>>>) -> Result<StepKind> {
        if keys.get_ref().is_empty() {
            return self.err(
                keys.span().start,
                "`keys` is empty: expected key combinations like [\"ctrl-alt-f2\", \"ret\"]",
            );
        }
        let mut combos = Vec::new();
        for item in keys.get_ref() {
            match KeyCombo::parse(item.get_ref()) {
                Ok(combo) => combos.push(combo),
                Err(e) => return self.err(item.span().start, e.to_string()),
            }
        }
        Ok(StepKind::Keys(combos))
    }

    /// `type = "text"`: a text without `${...}` is checked now, character by
    /// character; one with `${...}` when the step renders it.
    pub(crate) fn type_step(&self, text: &S<String>) -> Result<StepKind> {
        let at = text.span().start;
        if text.get_ref().is_empty() {
            return self.err(at, "`type` is empty: expected the text to type");
        }
        let template = self.tmpl(text)?;
        if let Some(literal) = template.literal() {
            if let Err(e) = text_keys(literal) {
                return self.err(at, e.to_string());
            }
        }
        Ok(StepKind::Type(template))
    }

    /// `mouse = { move = [x, y], click = "left" }`: at least one of the two.
    pub(crate) fn mouse_step(&self, mouse: &S<RawMouse>) -> Result<StepKind> {
        let raw = mouse.get_ref();
        let mut action = MouseAction::default();
        if let Some(to) = &raw.r#move {
            action.to = Some(self.pixel(to)?);
        }
        if let Some(click) = &raw.click {
            match MouseButton::parse(click.get_ref()) {
                Ok(button) => action.click = Some(button),
                Err(e) => return self.err(click.span().start, e.to_string()),
            }
        }
        if action == MouseAction::default() {
            return self.err(
                mouse.span().start,
                "`mouse` needs `move = [x, y]`, `click = \"left\"` or both",
            );
        }
        Ok(StepKind::Mouse(action))
    }

    /// `screen_text = "Welcome"`, optional `region = [x, y, width, height]`.
    pub(crate) fn screen_text_step(&self, step: &RawStep, text: &S<String>) -> Result<StepKind> {
        if text.get_ref().trim().is_empty() {
            return self.err(
                text.span().start,
                "`screen_text` is empty: expected the text to read",
            );
        }
        Ok(StepKind::ScreenText {
            text: self.tmpl(text)?,
            region: match &step.region {
                Some(r) => Some(self.rect(r, "region")?),
                None => None,
            },
        })
    }

    /// `[x, y]`: a pixel, two non-negative integers.
    fn pixel(&self, to: &S<Vec<S<toml::Value>>>) -> Result<(u32, u32)> {
        let [x, y] = to.get_ref().as_slice() else {
            return self.err(
                to.span().start,
                format!(
                    "`move` takes [x, y], a pixel of the screen; got {} numbers",
                    to.get_ref().len()
                ),
            );
        };
        let coordinate = |c: &S<toml::Value>| match c.get_ref() {
            toml::Value::Integer(n) => u32::try_from(*n).or_else(|_| {
                self.err(
                    c.span().start,
                    format!("`move` coordinate {n} is not a pixel: expected 0 or more"),
                )
            }),
            other => self.err(
                c.span().start,
                format!("`move` coordinate {other} is not a pixel: expected an integer, 0 or more"),
            ),
        };
        Ok((coordinate(x)?, coordinate(y)?))
    }

    /// An input step's machine takes input: `keys`, `type` and `mouse` need
    /// a `display` on it, and `mouse` also `tablet = true`.
    pub(crate) fn check_input_target(
        &self,
        header: usize,
        kind: &StepKind,
        machines: &[MachineSpec],
        on: &str,
    ) -> Result<()> {
        let Some(machine) = machines.iter().find(|m| m.name == on) else {
            return Ok(());
        };
        let name = match kind {
            StepKind::Keys(_)
            | StepKind::Type(_)
            | StepKind::Mouse(_)
            | StepKind::ScreenText { .. } => kind.name(),
            _ => return Ok(()),
        };
        if machine.display.is_none() {
            return self.err(
                header,
                format!(
                    "a `{name}` step needs a screen: add `display = \"std\"` (or another of {}) to machine `{on}`",
                    list(&DISPLAYS)
                ),
            );
        }
        if matches!(kind, StepKind::Mouse(_)) && !machine.tablet {
            return self.err(
                header,
                format!(
                    "a `mouse` step needs a pointing device: add `tablet = true` to machine `{on}` (a USB tablet kennel adds)"
                ),
            );
        }
        Ok(())
    }
}
