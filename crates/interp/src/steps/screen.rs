//! The screen's steps: `screendump` and `screen` (matching references, the
//! matching itself being kennel-screen's, shared with the Rust front end).

use std::path::Path;
use std::time::{Duration, Instant};

use kennel_layout::{TestDir, SCREEN_PARTS};
use kennel_screen::{MatchSpec, Outcome, Polling, Rect, RgbImage};
use kennel_spec::{ScreenCheck, Value};

use super::StepError;
use crate::context::StepTime;
use crate::slots::On;

/// How long QEMU may take for one screendump.
const SCREENDUMP_TIME: Duration = Duration::from_secs(5);

/// `screendump = "<name>"`: the screen saved as `<name>.png` in the test's
/// folder. A screendump QEMU refuses (no display) is an ERROR with QEMU's
/// message.
pub(super) fn screendump(
    mut on: On<'_, '_>,
    name: &str,
    logdir: &Path,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let path = TestDir::new(logdir).screendump(name);
    let deadline = time.ending_by(Instant::now() + SCREENDUMP_TIME).deadline;
    on.machine()?.screendump(&path, deadline).map_err(|e| {
        StepError::Error(format!("screendump: {}", kennel_machine::error_chain(&e)))
    })?;
    Ok(None)
}

/// `screen = "ref.png"`: wait until the screen matches one of the
/// references; the value (for `save`) says which. When none does, the test's
/// folder keeps the last screen, the closest reference's region and their
/// diff image (`screen-<label>-last.png`, ...), and the reason gives the
/// best score and where.
pub(super) fn screen(
    mut on: On<'_, '_>,
    check: &ScreenCheck,
    label: &str,
    logdir: &Path,
    time: &StepTime,
) -> Result<Option<Value>, StepError> {
    let references = check
        .references
        .iter()
        .map(|path| kennel_screen::read_image(path))
        .collect::<Result<Vec<RgbImage>, _>>()
        .map_err(|e| StepError::Error(kennel_machine::error_chain(&e)))?;
    let spec = match_spec(check);
    let m = on.machine()?;
    // Each look has its own bound (within the test's time): the last one may
    // start as the step's time runs out.
    let look = || time.ending_by(Instant::now() + SCREENDUMP_TIME).deadline;
    let outcome = kennel_screen::wait_for_match(
        || m.screen(look()),
        &references,
        &spec,
        time.deadline,
        &Polling::default(),
    );
    match outcome {
        Ok(Outcome::Matched { index, score, .. }) => Ok(Some(serde_json::json!({
            "reference": check.references[index].display().to_string(),
            "index": index,
            "score": score.value,
            "at": [score.at.0, score.at.1],
        }))),
        Ok(Outcome::NoMatch {
            index,
            score,
            screen,
        }) => {
            let kept = keep_mismatch(logdir, label, &screen, &references[index], &spec, score.at);
            let region = spec.region_in(references[index].width(), references[index].height());
            Err(time.timed_out(format!(
                "the screen to match {} (best score {:.3} < {} with region {region} found at [{}, {}] of the {}x{} screen; {kept})",
                check.references[index].display(),
                score.value,
                spec.threshold,
                score.at.0,
                score.at.1,
                screen.width(),
                screen.height(),
            )))
        }
        Err(e) => Err(StepError::Error(format!(
            "screendump: {}",
            kennel_machine::error_chain(&e)
        ))),
    }
}

/// The step's options as kennel-screen's.
fn match_spec(check: &ScreenCheck) -> MatchSpec {
    let rect = |[x, y, w, h]: [u32; 4]| Rect::new(x, y, w, h);
    MatchSpec {
        region: check.region.map(rect),
        exclude: check.exclude.iter().copied().map(rect).collect(),
        margin: check.margin,
        threshold: check.threshold,
    }
}

/// Write the last screen, the reference's region and the diff image in the
/// test's folder; says what it wrote (or why not), for the reason.
fn keep_mismatch(
    logdir: &Path,
    label: &str,
    screen: &RgbImage,
    reference: &RgbImage,
    spec: &MatchSpec,
    at: (u32, u32),
) -> String {
    let dir = TestDir::new(logdir);
    let [last, closest, diff] = SCREEN_PARTS.map(|part| dir.screen_image(label, part));
    let written =
        kennel_screen::save_mismatch(screen, reference, spec, at, [&last, &closest, &diff]);
    let name = |p: &Path| {
        p.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    match written {
        Ok(()) => format!(
            "kept {}, {} and {}",
            name(&last),
            name(&closest),
            name(&diff)
        ),
        Err(e) => format!(
            "the images could not be kept: {}",
            kennel_machine::error_chain(&e)
        ),
    }
}
