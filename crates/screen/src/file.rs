//! Images on disk: screendumps (PNG or PPM) and references.

use std::path::Path;

use image::RgbImage;

use crate::{Rect, ScreenError};

/// Read a PNG or PPM image (its format told by its content, not its name)
/// as RGB pixels.
pub fn read_image(path: &Path) -> Result<RgbImage, ScreenError> {
    let reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|source| ScreenError::Read {
            path: path.to_owned(),
            source,
        })?;
    let image = reader.decode().map_err(|source| ScreenError::NotAnImage {
        path: path.to_owned(),
        source: Box::new(source),
    })?;
    Ok(image.into_rgb8())
}

/// Write `image` to `path` as PNG.
pub fn write_png(image: &RgbImage, path: &Path) -> Result<(), ScreenError> {
    image
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|source| ScreenError::Write {
            path: path.to_owned(),
            source: Box::new(source),
        })
}

/// The part `rect` of `image`; an error when it reaches outside.
pub fn crop(image: &RgbImage, rect: Rect) -> Result<RgbImage, ScreenError> {
    if !rect.fits(image.width(), image.height()) {
        return Err(ScreenError::Outside {
            rect,
            width: image.width(),
            height: image.height(),
        });
    }
    Ok(image::imageops::crop_imm(image, rect.x, rect.y, rect.w, rect.h).to_image())
}

/// `base` with its part `rect` taken from `from` (the same place): how a
/// reference takes a new screen's region. An error when `rect` is outside
/// either image.
pub fn replace_region(
    base: &RgbImage,
    from: &RgbImage,
    rect: Rect,
) -> Result<RgbImage, ScreenError> {
    crop(base, rect)?;
    let part = crop(from, rect)?;
    let mut out = base.clone();
    image::imageops::replace(&mut out, &part, i64::from(rect.x), i64::from(rect.y));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ppm_and_a_png_of_the_same_pixels_read_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pixels = RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8 * 30, y as u8 * 40, 9]));
        let (ppm, png) = (dir.path().join("a.ppm"), dir.path().join("a.dump"));
        pixels
            .save_with_format(&ppm, image::ImageFormat::Pnm)
            .expect("ppm");
        write_png(&pixels, &png).expect("png");

        assert_eq!(read_image(&ppm).expect("ppm reads"), pixels);
        assert_eq!(read_image(&png).expect("png reads"), pixels);
    }

    #[test]
    fn a_file_that_is_no_image_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notes.png");
        std::fs::write(&path, "not pixels").expect("write");

        let err = read_image(&path).expect_err("not an image");

        assert_eq!(
            err.to_string(),
            format!("{} is not a PNG or PPM image", path.display())
        );
    }

    #[test]
    fn a_replaced_region_comes_from_the_other_image_and_the_rest_stays() {
        let base = RgbImage::from_pixel(8, 8, image::Rgb([1, 1, 1]));
        let from = RgbImage::from_pixel(8, 8, image::Rgb([9, 9, 9]));

        let out = replace_region(&base, &from, Rect::new(2, 2, 3, 3)).expect("inside");

        assert_eq!(out.get_pixel(2, 2).0, [9, 9, 9]);
        assert_eq!(out.get_pixel(5, 5).0, [1, 1, 1]);
    }

    #[test]
    fn a_crop_outside_the_image_is_refused() {
        let image = RgbImage::new(10, 10);

        assert_eq!(
            crop(&image, Rect::new(2, 2, 3, 4))
                .expect("inside")
                .dimensions(),
            (3, 4)
        );
        assert_eq!(
            crop(&image, Rect::new(8, 0, 3, 4))
                .expect_err("outside")
                .to_string(),
            "[8, 0, 3, 4] is outside the 10x10 image"
        );
    }
}
