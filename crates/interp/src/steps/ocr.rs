//! `screen_text = "Welcome"`: the text tesseract reads on the settled screen
//! (or a region of it), read again until it holds the text or the step's
//! time is up (`kennel_screen::wait_for_text`). Without tesseract the step
//! SKIPs naming its package; a failure always says what was read.

use std::time::{Duration, Instant};

use kennel_screen::{OcrError, Rect, ScreenError};
use kennel_spec::{Template, Value, Vars};

use super::StepError;
use crate::context::StepTime;
use crate::slots::On;

/// The longest one screendump may take.
const LOOK_TIME: Duration = Duration::from_secs(5);

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
    let region = region.map(|[x, y, w, h]| Rect::new(x, y, w, h));
    let grab = || {
        m.screen(look())
            .map_err(|e| StepError::Error(kennel_machine::error_chain(&e)))
    };
    let text = kennel_screen::wait_for_text(grab, &wanted, region, time.deadline)?;
    if text.found {
        Ok(Some(Value::String(text.read)))
    } else {
        Err(time.timed_out(format!(
            "the screen to show {wanted:?}; tesseract read:\n{}",
            text.read.trim_end()
        )))
    }
}

/// No tesseract: SKIP naming its package; else the step cannot run.
impl From<OcrError> for StepError {
    fn from(e: OcrError) -> StepError {
        match e {
            OcrError::Missing => StepError::Skip(format!("`screen_text` needs OCR: {e}")),
            other => StepError::Error(kennel_machine::error_chain(&other)),
        }
    }
}

/// A region the screen does not hold.
impl From<ScreenError> for StepError {
    fn from(e: ScreenError) -> StepError {
        StepError::Error(kennel_machine::error_chain(&e))
    }
}
