//! `screen_text = "Welcome"`: the text tesseract reads on the settled screen
//! (or a region of it), read again until it holds the text or the step's
//! time is up. Without tesseract the step SKIPs naming its package; a
//! failure always says what was read.

use std::time::{Duration, Instant};

use kennel_screen::{OcrError, Polling, Rect};
use kennel_spec::{Template, Value, Vars};

use super::StepError;
use crate::context::StepTime;
use crate::slots::On;

/// The longest one screendump may take.
const LOOK_TIME: Duration = Duration::from_secs(5);

/// Between two readings that did not find the text.
const READ_AGAIN: Duration = Duration::from_millis(500);

/// `screen_text`: the value is the text read.
pub(super) fn screen_text(
    mut on: On<'_, '_>,
    text: &Template,
    region: Option<[u32; 4]>,
    vars: &dyn Vars,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let wanted = text.render(vars)?;
    let m = on.machine()?;
    let look = || time.ending_by(Instant::now() + LOOK_TIME).deadline;
    loop {
        let screen = kennel_screen::settle(|| m.screen(look()), time.deadline, &Polling::default())
            .map_err(|e| StepError::Error(kennel_machine::error_chain(&e)))?;
        let part = match region {
            Some([x, y, w, h]) => kennel_screen::crop(&screen, Rect::new(x, y, w, h))
                .map_err(|e| StepError::Error(kennel_machine::error_chain(&e)))?,
            None => screen,
        };
        let read = kennel_screen::read_text(&part).map_err(|e| match e {
            OcrError::Missing => StepError::Skip(format!("`screen_text` needs OCR: {e}")),
            other => StepError::Error(kennel_machine::error_chain(&other)),
        })?;
        if read.contains(&wanted) {
            return Ok(Some(Value::String(read)));
        }
        if Instant::now() + READ_AGAIN >= time.deadline {
            return Err(time.timed_out(format!(
                "the screen to show {wanted:?}; tesseract read:\n{}",
                read.trim_end()
            )));
        }
        std::thread::sleep(READ_AGAIN);
    }
}
