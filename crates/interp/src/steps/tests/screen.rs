//! `screendump` and `screen` on a scripted screen: a match after the screen
//! changes, the first reference that matches winning (and saved), a
//! mismatch's reason and images, and a machine that has no screen.

use kennel_machine::RgbImage;
use kennel_results::Status;

use super::harness::run_at;
use super::scripted::Script;
use super::AMPLE;

/// A 64x32 "screen": a stripe pattern whose phase is `phase`.
fn pattern(phase: u32) -> RgbImage {
    RgbImage::from_fn(64, 32, |x, y| {
        let on = ((x + phase) / 3 + y / 5).is_multiple_of(2);
        image::Rgb(if on { [230, 230, 230] } else { [0, 0, 0] })
    })
}

/// A folder with the references `a.png` (phase 0) and `b.png` (phase 1).
fn references() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    pattern(0).save(dir.path().join("a.png")).expect("a.png");
    pattern(1).save(dir.path().join("b.png")).expect("b.png");
    dir
}

const HEAD: &str = "[machine]\ntype = \"none\"\ndisplay = \"std\"\n\n";

#[test]
fn the_first_reference_that_matches_wins_and_is_saved() {
    let dir = references();
    let logdir = tempfile::tempdir().expect("logdir");
    let toml = format!(
        "{HEAD}[[step]]\nscreen = [\"a.png\", \"b.png\"]\ntimeout = \"5s\"\nsave = {{ which = \"/index\" }}\n\n\
         [[step]]\nqmp = \"matched-${{which}}\"\n"
    );
    // The screen shows something else first, then b.
    let script = Script::new()
        .screens(vec![pattern(7), pattern(1)])
        .qmp("matched-1", &[super::Reply::Returns(serde_json::json!({}))]);

    let outcome = run_at(
        &dir.path().join("t.toml"),
        &toml,
        vec![("main", script)],
        AMPLE,
        logdir.path(),
    );

    assert_eq!(super::verdict(&outcome), (Status::Pass, ""));
}

#[test]
fn a_mismatch_fails_with_the_best_score_and_keeps_three_images() {
    let dir = references();
    let logdir = tempfile::tempdir().expect("logdir");
    let toml = format!(
        "{HEAD}[[step]]\nscreen = \"a.png\"\nregion = [0, 0, 32, 16]\ntimeout = \"300ms\"\n"
    );
    let script = Script::new().screens(vec![pattern(7)]);

    let outcome = run_at(
        &dir.path().join("t.toml"),
        &toml,
        vec![("main", script)],
        AMPLE,
        logdir.path(),
    );

    let (status, reason) = super::verdict(&outcome);
    assert_eq!(status, Status::Fail);
    assert!(
        reason.contains("timed out after 300ms waiting for the screen to match")
            && reason.contains("a.png (best score 0.")
            && reason
                .contains("< 0.96 with region [0, 0, 32, 16] found at [0, 0] of the 64x32 screen"),
        "{reason}"
    );
    for part in ["last", "reference", "diff"] {
        let image = logdir.path().join(format!("screen-line5-{part}.png"));
        assert!(image.is_file(), "{} in {reason}", image.display());
    }
}

#[test]
fn a_screendump_is_saved_in_the_tests_folder() {
    let logdir = tempfile::tempdir().expect("logdir");
    let toml = format!("{HEAD}[[step]]\nscreendump = \"after-boot\"\n");
    let script = Script::new().screens(vec![pattern(2)]);

    let outcome = run_at(
        std::path::Path::new("t.toml"),
        &toml,
        vec![("main", script)],
        AMPLE,
        logdir.path(),
    );

    assert_eq!(super::verdict(&outcome), (Status::Pass, ""));
    let saved = kennel_screen::read_image(&logdir.path().join("after-boot.png")).expect("a png");
    assert_eq!(saved, pattern(2));
}

#[test]
fn a_screendump_qemu_refuses_is_an_error_with_its_message() {
    let logdir = tempfile::tempdir().expect("logdir");
    let toml = format!("{HEAD}[[step]]\nscreendump = \"after-boot\"\n");

    let outcome = run_at(
        std::path::Path::new("t.toml"),
        &toml,
        vec![("main", Script::new())],
        AMPLE,
        logdir.path(),
    );

    assert_eq!(
        super::verdict(&outcome),
        (
            Status::Error,
            "step 1 (t.toml:5, screendump \"after-boot\"): screendump: QEMU refused the command: \
             GenericError: There is no QemuConsole I can screendump from."
        )
    );
}
