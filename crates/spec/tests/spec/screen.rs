//! The screen steps at load: references checked on disk, bad options at
//! file:line:column.

use std::path::{Path, PathBuf};

use kennel_spec::{load_str, ScreenCheck, StepKind};

/// A folder with a 64x32 reference `ok.png` and a text file `notes.png`.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    image::RgbImage::new(64, 32)
        .save(dir.path().join("ok.png"))
        .expect("png");
    std::fs::write(dir.path().join("notes.png"), "not an image").expect("write");
    dir
}

const MACHINE: &str = "[machine]\nguest = \"busybox\"\ndisplay = \"std\"\n[[step]]\n";

fn load_in(dir: &Path, step: &str) -> Result<kennel_spec::TestFile, String> {
    let path = dir.join("t.toml");
    let text = format!("{MACHINE}{step}");
    match load_str(&path, &text) {
        Ok(Some(test)) => Ok(test),
        Ok(None) => panic!("not a test"),
        Err(e) => Err(e
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .replace(&format!("{}/", dir.display()), "")),
    }
}

#[test]
fn a_screen_step_loads_with_its_references_relative_to_the_test_file() {
    let dir = folder();

    let test = load_in(
        dir.path(),
        "screen = [\"ok.png\", \"ok.png\"]\nregion = [0, 0, 64, 16]\nexclude = [[60, 0, 4, 4]]\nmargin = 8\nthreshold = 0.9\ntimeout = \"5s\"\nsave = { which = \"/reference\" }\n",
    )
    .expect("loads");

    assert_eq!(
        test.steps[0].kind,
        StepKind::Screen(ScreenCheck {
            references: vec![
                dir.path().join("ok.png"),
                PathBuf::from(dir.path()).join("ok.png")
            ],
            region: Some([0, 0, 64, 16]),
            exclude: vec![[60, 0, 4, 4]],
            margin: 8,
            threshold: 0.9,
        })
    );
}

#[test]
fn the_default_threshold_is_96_percent() {
    let dir = folder();

    let test = load_in(dir.path(), "screen = \"ok.png\"\n").expect("loads");

    assert!(matches!(&test.steps[0].kind, StepKind::Screen(c) if c.threshold == 0.96));
}

#[test]
fn a_missing_reference_is_a_load_error_at_its_value() {
    let err = load_in(folder().path(), "screen = \"gone.png\"\n").expect_err("missing");

    assert!(
        err.starts_with("t.toml:5:10: reference \"gone.png\": cannot read gone.png: "),
        "{err}"
    );
}

#[test]
fn a_reference_that_is_not_an_image_is_a_load_error() {
    let err = load_in(folder().path(), "screen = \"notes.png\"\n").expect_err("no image");

    assert!(
        err.starts_with("t.toml:5:10: reference \"notes.png\" is not a PNG or PPM image"),
        "{err}"
    );
}

#[test]
fn a_region_outside_the_reference_is_a_load_error() {
    let err = load_in(
        folder().path(),
        "screen = \"ok.png\"\nregion = [0, 16, 64, 17]\n",
    )
    .expect_err("outside");

    assert_eq!(
        err,
        "t.toml:5:10: `region` [0, 16, 64, 17] is outside the reference \"ok.png\" (64x32)"
    );
}

#[test]
fn a_threshold_outside_zero_to_one_is_a_load_error() {
    let err =
        load_in(folder().path(), "screen = \"ok.png\"\nthreshold = 96\n").expect_err("outside");

    assert_eq!(
        err,
        "t.toml:6:13: `threshold` takes a number from 0 to 1 (0.96 is 96 % alike)"
    );
}

#[test]
fn a_screen_step_on_a_machine_without_a_display_is_a_load_error() {
    let dir = folder();
    let text = "[machine]\nguest = \"busybox\"\n[[step]]\nscreen = \"ok.png\"\n";

    let err = load_str(&dir.path().join("t.toml"), text)
        .expect_err("no display")
        .to_string();

    assert!(
        err.lines().next().unwrap_or_default().ends_with(
            "t.toml:3:1: a `screen` step needs a display: machine `main` has none (add `display = \"std\"` to it)"
        ),
        "{err}"
    );
}

#[test]
fn a_screendump_name_must_be_a_plain_file_name() {
    let err = load_in(folder().path(), "screendump = \"../boot\"\n").expect_err("a path");

    assert!(
        err.starts_with("t.toml:5:14: `screendump` = \"../boot\" must be a plain file name"),
        "{err}"
    );
}
