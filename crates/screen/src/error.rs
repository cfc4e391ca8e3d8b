//! [`ScreenError`].

use std::path::PathBuf;

use crate::Rect;

/// What can go wrong reading, writing or comparing screen images.
#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is not an image kennel reads (PNG, PPM).
    #[error("{} is not a PNG or PPM image", path.display())]
    NotAnImage {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<image::ImageError>,
    },
    /// An image could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<image::ImageError>,
    },
    /// A rectangle reaches outside its image.
    #[error("{rect} is outside the {width}x{height} image")]
    Outside {
        /// The rectangle.
        rect: Rect,
        /// The image's width.
        width: u32,
        /// The image's height.
        height: u32,
    },
    /// The comparison itself failed.
    #[error("cannot compare the images")]
    Compare(#[source] image_compare::CompareError),
}
