//! Scoring, on pictures drawn here: a "line of text" on black.

use super::*;

/// A black screen of `w` by `h` with white blocks (letters) of 6x12 at every
/// 8 pixels along a line at `x, y`, `letters` of them, the `gap`-th left out.
fn text_line(w: u32, h: u32, at: (u32, u32), letters: u32, gap: Option<u32>) -> RgbImage {
    text_in(w, h, at, letters, gap, 0)
}

/// [`text_line`] in another "font": the letters' pattern shifted by `font`.
fn text_in(w: u32, h: u32, at: (u32, u32), letters: u32, gap: Option<u32>, font: u32) -> RgbImage {
    let mut img = RgbImage::new(w, h);
    for i in 0..letters {
        if Some(i) == gap {
            continue;
        }
        for y in 0..12 {
            for x in 0..6 {
                // Each letter its own pattern, so that letters differ.
                if !(x + y + i + font).is_multiple_of(3) {
                    img.put_pixel(at.0 + i * 8 + x, at.1 + y, image::Rgb([220, 220, 220]));
                }
            }
        }
    }
    img
}

fn region_spec(region: Rect) -> MatchSpec {
    MatchSpec {
        region: Some(region),
        ..MatchSpec::default()
    }
}

#[test]
fn the_same_screen_scores_one_at_the_regions_place() {
    let screen = text_line(320, 200, (16, 32), 20, None);
    let spec = region_spec(Rect::new(8, 24, 176, 32));

    let found = score(&screen, &screen, &spec).expect("scores");

    assert!(found.value > 0.999, "{found:?}");
    assert_eq!(found.at, (8, 24));
}

#[test]
fn other_text_in_the_region_scores_below_the_threshold() {
    let reference = text_line(320, 200, (16, 32), 20, None);
    let screen = text_in(320, 200, (16, 32), 20, None, 1);
    let spec = region_spec(Rect::new(8, 24, 176, 32));

    let found = score(&screen, &reference, &spec).expect("scores");

    assert!(found.value < DEFAULT_THRESHOLD, "{found:?}");
}

#[test]
fn one_letter_of_twenty_lowers_the_mean_score_only_a_little() {
    // SSIM is a mean over 8x8 windows: regions must be tight (docs/screens.md).
    let reference = text_line(320, 200, (16, 32), 20, None);
    let screen = text_line(320, 200, (16, 32), 20, Some(3));
    let spec = region_spec(Rect::new(8, 24, 176, 32));

    let found = score(&screen, &reference, &spec).expect("scores");
    let tight =
        score(&screen, &reference, &region_spec(Rect::new(32, 28, 40, 20))).expect("scores");

    assert!(found.value > 0.97 && found.value < 0.99, "{found:?}");
    assert!(tight.value < DEFAULT_THRESHOLD, "{tight:?}");
}

#[test]
fn an_excluded_rectangle_does_not_count() {
    let reference = text_line(320, 200, (16, 32), 20, None);
    let screen = text_line(320, 200, (16, 32), 20, Some(3));
    let spec = MatchSpec {
        exclude: vec![Rect::new(16 + 3 * 8, 32, 8, 12)],
        ..region_spec(Rect::new(8, 24, 176, 32))
    };

    let found = score(&screen, &reference, &spec).expect("scores");

    assert!(found.value > 0.999, "{found:?}");
}

#[test]
fn with_a_margin_moved_text_is_found_where_it_is() {
    let reference = text_line(320, 200, (16, 32), 20, None);
    let screen = text_line(320, 200, (21, 29), 20, None);
    let spec = MatchSpec {
        margin: 16,
        ..region_spec(Rect::new(8, 24, 176, 32))
    };

    let found = score(&screen, &reference, &spec).expect("scores");

    assert!(found.value > 0.999, "{found:?}");
    assert_eq!(found.at, (13, 21));
    let without_margin = score(
        &screen,
        &reference,
        &region_spec(spec.region.expect("region")),
    )
    .expect("scores");
    assert!(
        without_margin.value < DEFAULT_THRESHOLD,
        "{without_margin:?}"
    );
}

#[test]
fn a_screen_too_small_for_the_region_scores_zero() {
    let reference = text_line(320, 200, (16, 32), 20, None);
    let screen = RgbImage::new(100, 20);

    let found =
        score(&screen, &reference, &region_spec(Rect::new(8, 24, 176, 32))).expect("scores");

    assert_eq!(found.value, 0.0);
}

#[test]
fn a_region_outside_the_reference_is_an_error() {
    let reference = RgbImage::new(64, 64);

    let err = score(
        &reference,
        &reference,
        &region_spec(Rect::new(32, 0, 64, 8)),
    )
    .expect_err("outside");

    assert_eq!(err.to_string(), "[32, 0, 64, 8] is outside the 64x64 image");
}

#[test]
fn the_diff_image_is_the_regions_size() {
    let reference = text_line(320, 200, (16, 32), 20, None);
    let screen = text_line(320, 200, (16, 32), 20, Some(3));
    let spec = region_spec(Rect::new(8, 24, 176, 32));

    let diff = diff_image(&screen, &reference, &spec, (8, 24)).expect("diff");

    assert_eq!(diff.map(|d| d.dimensions()), Some((176, 32)));
}
