//! Scoring a reference against a screen: SSIM (`image-compare`'s
//! `MSSIMSimple`, 8x8 windows, on grey levels) of the reference's region
//! and the same place on the screen, or, with a margin, the place nearby
//! where the region fits best.

use image::{GrayImage, RgbImage};
use image_compare::{gray_similarity_structure, Algorithm};

use crate::file::crop;
use crate::{Rect, ScreenError};

/// The similarity a `screen` step needs by default (openQA's needles use the
/// same 96 %).
pub const DEFAULT_THRESHOLD: f64 = 0.96;

/// What part of a reference is compared, and how closely.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchSpec {
    /// The part of the reference compared, in the reference's pixels
    /// (default: all of it); it is looked for at the same place on the screen.
    pub region: Option<Rect>,
    /// Rectangles of the reference ignored (a clock, a cursor), blanked on
    /// both sides before comparing.
    pub exclude: Vec<Rect>,
    /// The region may be found this many pixels away from its place, in
    /// each direction.
    pub margin: u32,
    /// The similarity needed, 0 to 1.
    pub threshold: f64,
}

impl Default for MatchSpec {
    fn default() -> MatchSpec {
        MatchSpec {
            region: None,
            exclude: Vec::new(),
            margin: 0,
            threshold: DEFAULT_THRESHOLD,
        }
    }
}

impl MatchSpec {
    /// The region compared in a reference of `width` by `height`.
    pub fn region_in(&self, width: u32, height: u32) -> Rect {
        self.region.unwrap_or(Rect::all(width, height))
    }
}

/// How well a reference matched a screen, and where.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// SSIM of the region and the screen there, 0 to 1 (0 when the region
    /// does not fit on the screen at all).
    pub value: f64,
    /// The screen position of the region's top-left corner.
    pub at: (u32, u32),
}

/// The reference's region, grey and with the excluded parts blanked: the
/// thing looked for.
struct Patch {
    region: Rect,
    /// The excluded rectangles, in the region's own coordinates.
    holes: Vec<Rect>,
    grey: GrayImage,
}

impl Patch {
    fn of(reference: &RgbImage, spec: &MatchSpec) -> Result<Patch, ScreenError> {
        let region = spec.region_in(reference.width(), reference.height());
        let holes: Vec<Rect> = spec
            .exclude
            .iter()
            .filter_map(|e| region.relative(e))
            .collect();
        let mut grey = image::imageops::grayscale(&crop(reference, region)?);
        blank(&mut grey, &holes);
        Ok(Patch {
            region,
            holes,
            grey,
        })
    }

    /// The screen's pixels under the region placed at `at`, grey and blanked
    /// like the patch; `None` when it does not fit on the screen.
    fn window(&self, screen: &RgbImage, at: (u32, u32)) -> Option<GrayImage> {
        let rect = Rect::new(at.0, at.1, self.region.w, self.region.h);
        let mut grey = image::imageops::grayscale(&crop(screen, rect).ok()?);
        blank(&mut grey, &self.holes);
        Some(grey)
    }

    /// SSIM of the patch and the screen at `at` (0 when it does not fit).
    fn similarity(&self, screen: &RgbImage, at: (u32, u32)) -> Result<f64, ScreenError> {
        match self.window(screen, at) {
            Some(window) => {
                Ok(
                    gray_similarity_structure(&Algorithm::MSSIMSimple, &self.grey, &window)
                        .map_err(ScreenError::Compare)?
                        .score,
                )
            }
            None => Ok(0.0),
        }
    }
}

/// Blank (black) the `holes` of `grey`.
fn blank(grey: &mut GrayImage, holes: &[Rect]) {
    for hole in holes {
        for y in hole.y..hole.y + hole.h {
            for x in hole.x..hole.x + hole.w {
                grey.put_pixel(x, y, image::Luma([0]));
            }
        }
    }
}

/// Score `reference` (its [`MatchSpec::region`], less its excluded parts)
/// against `screen`: the region at its own place first, and, when that is
/// below the threshold and a margin is given, at the place within the margin
/// where it fits best. An error when the region is outside the reference.
pub fn score(
    screen: &RgbImage,
    reference: &RgbImage,
    spec: &MatchSpec,
) -> Result<Score, ScreenError> {
    let patch = Patch::of(reference, spec)?;
    let home = (patch.region.x, patch.region.y);
    let at_home = Score {
        value: patch.similarity(screen, home)?,
        at: home,
    };
    if at_home.value >= spec.threshold || spec.margin == 0 {
        return Ok(at_home);
    }
    let Some(near) = nearest(screen, &patch, spec.margin) else {
        return Ok(at_home);
    };
    let nearby = Score {
        value: patch.similarity(screen, near)?,
        at: near,
    };
    Ok(if nearby.value > at_home.value {
        nearby
    } else {
        at_home
    })
}

/// Where within `margin` of its place the patch differs least from the
/// screen (the mean absolute grey difference, a coarse pass over every
/// fourth offset, then the offsets around the best), to be scored there.
fn nearest(screen: &RgbImage, patch: &Patch, margin: u32) -> Option<(u32, u32)> {
    let m = i64::from(margin);
    let (x0, y0) = (i64::from(patch.region.x), i64::from(patch.region.y));
    let (left, top) = ((x0 - m).max(0), (y0 - m).max(0));
    let right = (x0 + i64::from(patch.region.w) + m).min(i64::from(screen.width()));
    let bottom = (y0 + i64::from(patch.region.h) + m).min(i64::from(screen.height()));
    let area = Rect::new(
        u32::try_from(left).ok()?,
        u32::try_from(top).ok()?,
        u32::try_from(right - left).ok()?,
        u32::try_from(bottom - top).ok()?,
    );
    let grey = image::imageops::grayscale(&crop(screen, area).ok()?);
    let cost = |dx: i64, dy: i64| -> Option<u64> {
        let (left, top) = (x0 + dx - i64::from(area.x), y0 + dy - i64::from(area.y));
        let fits = left >= 0
            && top >= 0
            && left + i64::from(patch.region.w) <= i64::from(grey.width())
            && top + i64::from(patch.region.h) <= i64::from(grey.height());
        fits.then(|| difference(&grey, patch, left as u32, top as u32))
    };
    let step = if margin >= 8 { 4 } else { 1 };
    let mut best: Option<(u64, i64, i64)> = None;
    let consider = |dx: i64, dy: i64, best: &mut Option<(u64, i64, i64)>| {
        if let Some(c) = cost(dx, dy) {
            if best.is_none_or(|(b, _, _)| c < b) {
                *best = Some((c, dx, dy));
            }
        }
    };
    for dy in (-m..=m).step_by(step) {
        for dx in (-m..=m).step_by(step) {
            consider(dx, dy, &mut best);
        }
    }
    let (_, bx, by) = best?;
    let reach = step as i64 - 1;
    for dy in (by - reach).max(-m)..=(by + reach).min(m) {
        for dx in (bx - reach).max(-m)..=(bx + reach).min(m) {
            consider(dx, dy, &mut best);
        }
    }
    let (_, dx, dy) = best?;
    Some(((x0 + dx) as u32, (y0 + dy) as u32))
}

/// The summed absolute grey difference of the patch and `grey` at
/// `left, top`, over every second pixel, the holes left out.
fn difference(grey: &GrayImage, patch: &Patch, left: u32, top: u32) -> u64 {
    let in_hole = |x: u32, y: u32| {
        patch
            .holes
            .iter()
            .any(|h| x >= h.x && x < h.x + h.w && y >= h.y && y < h.y + h.h)
    };
    let mut sum = 0u64;
    for y in (0..patch.region.h).step_by(2) {
        for x in (0..patch.region.w).step_by(2) {
            if in_hole(x, y) {
                continue;
            }
            let a = patch.grey.get_pixel(x, y).0[0];
            let b = grey.get_pixel(left + x, top + y).0[0];
            sum += u64::from(a.abs_diff(b));
        }
    }
    sum
}

/// The diff image of the reference's region and the screen at `at`:
/// `image-compare`'s similarity map of the two (bright where they agree),
/// as colours; `None` when the region does not fit on the screen there.
pub fn diff_image(
    screen: &RgbImage,
    reference: &RgbImage,
    spec: &MatchSpec,
    at: (u32, u32),
) -> Result<Option<RgbImage>, ScreenError> {
    let patch = Patch::of(reference, spec)?;
    let Some(window) = patch.window(screen, at) else {
        return Ok(None);
    };
    let similarity = gray_similarity_structure(&Algorithm::MSSIMSimple, &patch.grey, &window)
        .map_err(ScreenError::Compare)?;
    Ok(Some(similarity.image.to_color_map().into_rgb8()))
}

/// Keep a mismatch: write the last `screen`, the `reference`'s region and
/// their diff image (at `at`) to the three files of `paths`, in that order
/// (the diff only when the region fits on the screen there).
pub fn save_mismatch(
    screen: &RgbImage,
    reference: &RgbImage,
    spec: &MatchSpec,
    at: (u32, u32),
    paths: [&std::path::Path; 3],
) -> Result<(), ScreenError> {
    let [last, closest, diff] = paths;
    crate::write_png(screen, last)?;
    let region = spec.region_in(reference.width(), reference.height());
    crate::write_png(&crop(reference, region)?, closest)?;
    if let Some(image) = diff_image(screen, reference, spec, at)? {
        crate::write_png(&image, diff)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
