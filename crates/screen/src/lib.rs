//! A machine's screen as pixels, one implementation for both front ends:
//! reading a screendump or reference ([`read_image`], PNG or PPM by content),
//! rectangles ([`Rect`], `x,y,w,h`), scoring a reference against a screen
//! ([`score`]: SSIM from `image-compare` on the region, searched within a
//! margin), the diff image of a mismatch ([`diff_image`]), and the wait of a
//! `screen` step ([`wait_for_match`]: settle, then poll until a reference
//! matches or the deadline).
//!
//! # Examples
//!
//! ```
//! use kennel_screen::{score, MatchSpec, Rect, RgbImage};
//!
//! let screen = RgbImage::from_fn(64, 32, |x, _| image::Rgb([(x * 4) as u8, 0, 0]));
//! let spec = MatchSpec { region: Some(Rect::new(8, 8, 32, 16)), ..MatchSpec::default() };
//! let found = score(&screen, &screen, &spec)?;
//! assert!(found.value > 0.99);
//! assert_eq!(found.at, (8, 8));
//! # Ok::<(), kennel_screen::ScreenError>(())
//! ```
#![deny(missing_docs)]

mod compare;
mod error;
mod file;
mod ocr;
mod rect;
mod wait;

pub use compare::{diff_image, save_mismatch, score, MatchSpec, Score, DEFAULT_THRESHOLD};
pub use error::ScreenError;
pub use file::{crop, read_image, replace_region, write_png};
pub use image::RgbImage;
pub use ocr::{read_text, wait_for_text, OcrError, TextRead, TESSERACT_PACKAGE};
pub use rect::Rect;
pub use wait::{settle, wait_for_match, Outcome, Polling};
