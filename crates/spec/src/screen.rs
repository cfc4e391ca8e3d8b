//! Loading the screen steps: `screendump = "<name>"` and `screen =
//! "ref.png"` with `region`, `exclude`, `margin`, `threshold`. A reference
//! is checked at load: it exists, is a PNG or PPM image, and holds the region.

use std::path::{Path, PathBuf};

use crate::load::{Loader, Result};
use crate::model::{MachineSpec, ScreenCheck, StepKind};
use crate::raw::{RawStep, S};

/// The similarity a `screen` step needs when it sets no `threshold`.
pub const DEFAULT_SCREEN_THRESHOLD: f64 = 0.96;

impl Loader<'_> {
    /// `screendump = "<name>"`: a plain file name, saved as `<name>.png`.
    pub(crate) fn screendump_step(&self, name: &S<String>) -> Result<StepKind> {
        let text = name.get_ref();
        let plain = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !text.starts_with('.');
        if !plain {
            return self.err(
                name.span().start,
                format!("`screendump` = {text:?} must be a plain file name (letters, digits, `-`, `_`, `.`); it is saved as `<name>.png` in the test's folder"),
            );
        }
        Ok(StepKind::Screendump(text.clone()))
    }

    /// `screen = "ref.png"` or a list of references, and its options.
    pub(crate) fn screen_step(
        &self,
        step: &RawStep,
        refs: &S<toml::Value>,
        on: &str,
        header: usize,
        machines: &[MachineSpec],
    ) -> Result<StepKind> {
        if machines.iter().any(|m| m.name == on && m.display.is_none()) {
            return self.err(
                header,
                format!("a `screen` step needs a display: machine `{on}` has none (add `display = \"std\"` to it)"),
            );
        }
        let at = refs.span().start;
        let names: Vec<&str> = match refs.get_ref() {
            toml::Value::String(one) => vec![one.as_str()],
            toml::Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(|i| i.as_str())
                .collect::<Option<_>>()
                .map_or_else(
                    || self.err(at, "`screen` takes a file or a list of files"),
                    Ok,
                )?,
            _ => return self.err(at, "`screen` takes a file or a list of files"),
        };
        let region = match &step.region {
            Some(r) => Some(self.rect(r, "region")?),
            None => None,
        };
        let exclude = match &step.exclude {
            Some(list) => match list.get_ref() {
                toml::Value::Array(items) => items
                    .iter()
                    .map(|item| self.rect_value(item, list.span().start, "exclude"))
                    .collect::<Result<Vec<_>>>()?,
                _ => {
                    return self.err(
                        list.span().start,
                        "`exclude` takes a list of [x, y, width, height]",
                    )
                }
            },
            None => Vec::new(),
        };
        let mut references = Vec::new();
        for name in names {
            let path = self.dir().join(name);
            self.check_reference(&path, name, region, at)?;
            references.push(path);
        }
        Ok(StepKind::Screen(ScreenCheck {
            references,
            region,
            exclude,
            margin: match &step.margin {
                Some(m) => self.whole(m, "margin")?,
                None => 0,
            },
            threshold: match &step.threshold {
                Some(t) => self.fraction(t, "threshold")?,
                None => DEFAULT_SCREEN_THRESHOLD,
            },
        }))
    }

    /// The test file's folder (references are relative to it).
    fn dir(&self) -> PathBuf {
        self.src
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// A reference exists, is an image, and holds `region`.
    fn check_reference(
        &self,
        path: &Path,
        name: &str,
        region: Option<[u32; 4]>,
        at: usize,
    ) -> Result<()> {
        let (w, h) = match image::image_dimensions(path) {
            Ok(size) => size,
            Err(image::ImageError::IoError(e)) => {
                return self.err(
                    at,
                    format!("reference {name:?}: cannot read {}: {e}", path.display()),
                )
            }
            Err(e) => {
                return self.err(
                    at,
                    format!("reference {name:?} is not a PNG or PPM image: {e}"),
                )
            }
        };
        if let Some([x, y, rw, rh]) = region {
            if u64::from(x) + u64::from(rw) > u64::from(w)
                || u64::from(y) + u64::from(rh) > u64::from(h)
            {
                return self.err(
                    at,
                    format!("`region` [{x}, {y}, {rw}, {rh}] is outside the reference {name:?} ({w}x{h})"),
                );
            }
        }
        Ok(())
    }

    /// `[x, y, width, height]`, width and height not zero.
    pub(crate) fn rect(&self, value: &S<toml::Value>, key: &str) -> Result<[u32; 4]> {
        self.rect_value(value.get_ref(), value.span().start, key)
    }

    fn rect_value(&self, value: &toml::Value, at: usize, key: &str) -> Result<[u32; 4]> {
        let numbers: Option<Vec<u32>> = value.as_array().map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_integer().and_then(|n| u32::try_from(n).ok()))
                .collect()
        });
        match numbers.as_deref() {
            Some(&[x, y, w, h]) if w > 0 && h > 0 && value.as_array().is_some_and(|a| a.len() == 4) => Ok([x, y, w, h]),
            _ => self.err(
                at,
                format!("`{key}` takes [x, y, width, height] in pixels (whole numbers, width and height above 0)"),
            ),
        }
    }

    /// A whole number of pixels.
    fn whole(&self, value: &S<toml::Value>, key: &str) -> Result<u32> {
        match value
            .get_ref()
            .as_integer()
            .and_then(|n| u32::try_from(n).ok())
        {
            Some(n) => Ok(n),
            None => self.err(
                value.span().start,
                format!("`{key}` takes a whole number of pixels"),
            ),
        }
    }

    /// A number from 0 to 1.
    fn fraction(&self, value: &S<toml::Value>, key: &str) -> Result<f64> {
        let number = match value.get_ref() {
            toml::Value::Float(f) => Some(*f),
            toml::Value::Integer(i) => Some(*i as f64),
            _ => None,
        };
        match number {
            Some(n) if (0.0..=1.0).contains(&n) => Ok(n),
            _ => self.err(
                value.span().start,
                format!("`{key}` takes a number from 0 to 1 (0.96 is 96 % alike)"),
            ),
        }
    }
}
