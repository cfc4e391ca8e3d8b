//! [`Vm::wait_screen_text`]: the `screen_text` step of a TOML test, in Rust,
//! through the same wait (`kennel_screen::wait_for_text`).

use std::time::{Duration, Instant};

use kennel_machine::MachineError;
use kennel_screen::{OcrError, Rect, ScreenError};

use crate::error::{ErrorKind, Result};
use crate::vm::Vm;

/// Why a look at the screen's text failed, before it is the test's error.
enum ReadError {
    Machine(MachineError),
    Screen(ScreenError),
    Ocr(OcrError),
}

impl From<ScreenError> for ReadError {
    fn from(e: ScreenError) -> ReadError {
        ReadError::Screen(e)
    }
}

impl From<OcrError> for ReadError {
    fn from(e: OcrError) -> ReadError {
        ReadError::Ocr(e)
    }
}

/// The longest one screendump may take.
const LOOK_TIME: Duration = Duration::from_secs(5);

impl Vm {
    /// Wait until tesseract reads `text` on the settled screen (or `region`
    /// of it) within `timeout`, and return what it read. Without tesseract
    /// the test SKIPs naming its package (`tesseract-ocr`); a miss is an
    /// error saying what was read.
    pub fn wait_screen_text(
        &mut self,
        text: &str,
        region: Option<Rect>,
        timeout: Duration,
    ) -> Result<String> {
        self.log_line(&format!("wait for the screen to show {text:?}"));
        let test_deadline = self.deadline();
        let until = (Instant::now() + timeout).min(test_deadline);
        let look = || (Instant::now() + LOOK_TIME).min(test_deadline);
        let core = self.core();
        let grab = || core.machine().screen(look()).map_err(ReadError::Machine);
        let r = match kennel_screen::wait_for_text(grab, text, region, until) {
            Ok(read) if read.found => Ok(read.read),
            Ok(read) => Err(ErrorKind::Message(format!(
                "the screen of `{}` did not show {text:?} within {timeout:?}; tesseract read:\n{}",
                self.name(),
                read.read.trim_end()
            ))
            .into()),
            Err(ReadError::Machine(source)) => Err(ErrorKind::Machine {
                machine: self.name().to_owned(),
                what: "screendump".into(),
                source,
            }
            .into()),
            Err(ReadError::Screen(source)) => Err(ErrorKind::Screen {
                what: "reading a region of the screen".into(),
                source,
            }
            .into()),
            Err(ReadError::Ocr(e @ OcrError::Missing)) => {
                Err(ErrorKind::Skip(e.to_string()).into())
            }
            Err(ReadError::Ocr(e)) => Err(crate::Error::msg(kennel_machine::error_chain(&e))),
        };
        self.noted(r)
    }
}
