//! The screen of a machine with a display, through QMP `screendump`.

use std::path::Path;
use std::time::Instant;

use kennel_qmp::{QmpError, Value};
use kennel_screen::RgbImage;

use crate::error::MachineError;
use crate::machine::Machine;

/// The file of the dump [`Machine::screen`] reads, in the private folder.
const SCREEN_DUMP: &str = "screen.ppm";

impl Machine {
    /// Save the screen to `path` as PNG: QEMU writes it (`screendump` with
    /// `format: "png"`), or, where QEMU cannot (older than 7.1 or built
    /// without libpng), writes PPM that kennel turns into PNG. A screendump
    /// QEMU refuses (no display device) is [`MachineError::Qmp`] with QEMU's
    /// message.
    pub fn screendump(&mut self, path: &Path, deadline: Instant) -> Result<(), MachineError> {
        let file = path.to_string_lossy();
        let args = serde_json::json!({ "filename": file, "format": "png" });
        match self.qmp()?.execute("screendump", Some(&args), deadline) {
            Ok(_) => Ok(()),
            Err(QmpError::Command(e)) if no_png(&e.desc) => {
                let pixels = self.screen(deadline)?;
                kennel_screen::write_png(&pixels, path).map_err(MachineError::Screen)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The screen's pixels now (a PPM `screendump` into the machine's
    /// private folder, read back).
    pub fn screen(&mut self, deadline: Instant) -> Result<RgbImage, MachineError> {
        let dump = self.sockdir.path().join(SCREEN_DUMP);
        let args = serde_json::json!({ "filename": dump.to_string_lossy() });
        self.qmp()?
            .execute("screendump", Some(&args), deadline)
            .map(|_: Value| ())?;
        let pixels = kennel_screen::read_image(&dump).map_err(MachineError::Screen);
        let _ = std::fs::remove_file(&dump);
        pixels
    }
}

/// Whether QEMU's refusal says it cannot write PNG (rather than that it has
/// no screen): `Parameter 'format' is unexpected`, `... without libpng`.
fn no_png(desc: &str) -> bool {
    let desc = desc.to_ascii_lowercase();
    desc.contains("'format'") || desc.contains("png")
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_refused_format_falls_back_to_ppm() {
        assert!(super::no_png("Parameter 'format' is unexpected"));
        assert!(super::no_png("PNG format is not supported without libpng"));
        assert!(!super::no_png("no surface"));
    }
}
