//! `kennel screen accept|crop`: making and updating the references of
//! `screen` steps.

use std::path::{Path, PathBuf};

use kennel_layout::{JobDir, ResultsRoot, TestDir};
use kennel_screen::{read_image, write_png, Rect, RgbImage};
use kennel_spec::{ScreenCheck, StepKind};

use crate::args::{ScreenAcceptArgs, ScreenCommand, ScreenCropArgs};
use crate::exit::{CliError, Ending};

/// `kennel screen accept|crop`.
pub fn screen(cmd: ScreenCommand) -> Result<Ending, CliError> {
    match cmd {
        ScreenCommand::Accept(a) => accept(a),
        ScreenCommand::Crop(a) => crop(a),
    }
}

/// `kennel screen crop IMAGE x,y,w,h -o FILE`.
fn crop(a: ScreenCropArgs) -> Result<Ending, CliError> {
    let rect = Rect::parse(&a.rect).ok_or_else(|| {
        CliError::usage(format!(
            "bad rectangle {:?}: expected x,y,width,height in pixels",
            a.rect
        ))
    })?;
    let image = read_image(&a.image).map_err(|e| CliError::failed(&e))?;
    let part = kennel_screen::crop(&image, rect).map_err(|e| CliError::failed(&e))?;
    write_png(&part, &a.output).map_err(|e| CliError::failed(&e))?;
    println!(
        "kennel: wrote {} ({}x{})",
        a.output.display(),
        rect.w,
        rect.h
    );
    Ok(Ending::Ok)
}

/// `kennel screen accept [JOB] TEST [STEP]`: the last screen of a `screen`
/// step that did not match becomes the reference it came closest to. With a
/// region, only the region is taken into the reference (the rest stays as it
/// was) when the reference is the screen's size; else the reference becomes
/// the whole screen.
fn accept(a: ScreenAcceptArgs) -> Result<Ending, CliError> {
    let mut words = a.words;
    let (job, test, step) = match words.len() {
        1 => (
            ResultsRoot::new(&a.results_dir).latest(),
            words.remove(0),
            None,
        ),
        2 if Path::new(&words[0])
            .join(kennel_layout::RESULTS_JSON)
            .is_file() =>
        {
            let test = words.remove(1);
            (PathBuf::from(words.remove(0)), test, None)
        }
        2 => {
            let step = words.remove(1);
            (
                ResultsRoot::new(&a.results_dir).latest(),
                words.remove(0),
                Some(step),
            )
        }
        3 => {
            let step = words.remove(2);
            let test = words.remove(1);
            (PathBuf::from(words.remove(0)), test, Some(step))
        }
        _ => return Err(CliError::usage("expected [JOB] TEST [STEP]")),
    };
    let job = JobDir::new(&job);
    let dir = crate::attach::find_test(&job, &test)?;
    let line = failed_step(&dir, step.as_deref())?;
    let label = format!("line{line}");
    let tests = TestDir::new(&dir);
    let last = read_image(&tests.screen_image(&label, "last")).map_err(|e| CliError::failed(&e))?;
    let closest =
        read_image(&tests.screen_image(&label, "reference")).map_err(|e| CliError::failed(&e))?;
    let check = screen_step(&job, &dir, line)?;
    let region_of = |r: &RgbImage| match check.region {
        Some([x, y, w, h]) => Rect::new(x, y, w, h),
        None => Rect::all(r.width(), r.height()),
    };
    // The reference the step came closest to: the one whose region is the kept one.
    let (path, old) = check
        .references
        .iter()
        .filter_map(|p| read_image(p).ok().map(|r| (p, r)))
        .find(|(_, r)| kennel_screen::crop(r, region_of(r)).is_ok_and(|c| c == closest))
        .ok_or_else(|| {
            CliError::Failed(
                "none of the step's references is the one it came closest to (changed since?)"
                    .into(),
            )
        })?;
    let accepted = match check.region {
        Some(_) if old.dimensions() == last.dimensions() => {
            kennel_screen::replace_region(&old, &last, region_of(&old))
                .map_err(|e| CliError::failed(&e))?
        }
        _ => last,
    };
    write_png(&accepted, path).map_err(|e| CliError::failed(&e))?;
    println!(
        "kennel: accepted the last screen of step at line {line} as {}",
        path.display()
    );
    Ok(Ending::Ok)
}

/// The line of the failed `screen` step whose images the test folder holds:
/// `step` (its line), or the only one.
fn failed_step(dir: &Path, step: Option<&str>) -> Result<usize, CliError> {
    let mut lines: Vec<usize> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("screen-line")?
                .strip_suffix("-last.png")?
                .parse()
                .ok()
        })
        .collect();
    lines.sort();
    match (step, lines.as_slice()) {
        (Some(s), _) => s
            .trim_start_matches("line")
            .parse()
            .ok()
            .filter(|l| lines.contains(l))
            .ok_or_else(|| {
                CliError::usage(format!(
                    "no failed `screen` step at line {s} in {} (those with images: {lines:?})",
                    dir.display()
                ))
            }),
        (None, [one]) => Ok(*one),
        (None, []) => Err(CliError::usage(format!(
            "no failed `screen` step in {}",
            dir.display()
        ))),
        (None, many) => Err(CliError::usage(format!(
            "several failed `screen` steps (lines {many:?}): name one"
        ))),
    }
}

/// The `screen` step at `line` of the test whose folder is `dir`.
fn screen_step(job: &JobDir, dir: &Path, line: usize) -> Result<ScreenCheck, CliError> {
    let results =
        kennel_results::ResultsFile::read(job.root()).map_err(|e| CliError::failed(&e))?;
    let test = results
        .tests
        .iter()
        .find(|t| job.root().join(&t.logdir) == dir)
        .ok_or_else(|| {
            CliError::Failed(format!("{} is not in the job's results", dir.display()))
        })?;
    let file = kennel_spec::load_file(&test.file)
        .map_err(|e| CliError::Failed(e.to_string()))?
        .ok_or_else(|| CliError::Failed(format!("{} is not a test file", test.file.display())))?;
    file.steps
        .into_iter()
        .find_map(|s| match s.kind {
            StepKind::Screen(check) if s.line == line => Some(check),
            _ => None,
        })
        .ok_or_else(|| {
            CliError::Failed(format!(
                "{} has no `screen` step at line {line}",
                test.file.display()
            ))
        })
}
