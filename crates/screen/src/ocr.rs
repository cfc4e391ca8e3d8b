//! Text on a screen, read by tesseract (a host tool kennel does not need
//! otherwise): the `screen_text` step. Reference matching stays the
//! recommended way to check a screen; OCR misreads fonts it does not know.

use std::io::{Cursor, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use image::{imageops::FilterType, ImageFormat, RgbImage};

use crate::{crop, settle, Polling, Rect, ScreenError};

/// Between two readings that did not find the text.
const READ_AGAIN: Duration = Duration::from_millis(500);

/// How a wait for a text ended: what tesseract read last, and whether it
/// held the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRead {
    /// The text was read.
    pub found: bool,
    /// What tesseract read last.
    pub read: String,
}

/// Read the settled screen (`grab`), or its `region`, until the text holds
/// `wanted` or `deadline` passes (read at least once): the `screen_text`
/// step and the Rust API's `wait_screen_text`.
pub fn wait_for_text<E: From<ScreenError> + From<OcrError>>(
    mut grab: impl FnMut() -> Result<RgbImage, E>,
    wanted: &str,
    region: Option<Rect>,
    deadline: Instant,
) -> Result<TextRead, E> {
    loop {
        let screen = settle(&mut grab, deadline, &Polling::default())?;
        let part = match region {
            Some(rect) => crop(&screen, rect)?,
            None => screen,
        };
        let read = read_text(&part)?;
        let found = read.contains(wanted);
        if found || Instant::now() + READ_AGAIN >= deadline {
            return Ok(TextRead { found, read });
        }
        std::thread::sleep(READ_AGAIN);
    }
}

/// The Debian package that provides tesseract.
pub const TESSERACT_PACKAGE: &str = "tesseract-ocr";

/// Why the text of a screen could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// tesseract is not installed: the step SKIPs naming the package.
    #[error("tesseract is not installed (Debian package {TESSERACT_PACKAGE})")]
    Missing,
    /// The image could not be encoded for tesseract.
    #[error("encoding the screen for tesseract")]
    Encode(#[source] image::ImageError),
    /// tesseract could not be run or fed.
    #[error("running tesseract")]
    Run(#[source] std::io::Error),
    /// tesseract ran and failed.
    #[error("tesseract failed ({status}): {stderr}")]
    Failed {
        /// How it ended.
        status: String,
        /// What it said.
        stderr: String,
    },
}

/// The text tesseract reads on `screen` (scaled up twice first: a console's
/// 8x16 font is small for it), lines as it gives them.
pub fn read_text(screen: &RgbImage) -> Result<String, OcrError> {
    let (width, height) = screen.dimensions();
    let larger = image::imageops::resize(screen, width * 2, height * 2, FilterType::Nearest);
    let mut png = Cursor::new(Vec::new());
    larger
        .write_to(&mut png, ImageFormat::Png)
        .map_err(OcrError::Encode)?;
    let mut child = match Command::new("tesseract")
        .args(["stdin", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(OcrError::Missing),
        Err(e) => return Err(OcrError::Run(e)),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(png.get_ref()).map_err(OcrError::Run)?;
    }
    let out = child.wait_with_output().map_err(OcrError::Run)?;
    if !out.status.success() {
        return Err(OcrError::Failed {
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
