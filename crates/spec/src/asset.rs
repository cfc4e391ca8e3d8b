//! `[assets.<name>]` as loaded: where a file comes from and its hash.

use crate::template::{RenderError, Template, Vars};

/// `[assets.<name>]`: a file a test needs, declared with its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetSpec {
    /// The table's key; used as `${asset:<name>}`.
    pub name: String,
    /// Line of the table's header.
    pub line: usize,
    /// Where it comes from.
    pub source: AssetSource,
    /// Expected hash; `None` is an ERROR unless the run allows unverified
    /// assets (for `cloud`, the distribution's checksum is the hash).
    pub hash: Option<AssetHash>,
    /// Decompress after download.
    pub uncompress: bool,
    /// A member to extract (from .tar*, .cpio*, .deb); may hold `${...}`
    /// until [`AssetSpec::render`].
    pub extract: Option<String>,
}

impl AssetSpec {
    /// The asset with every `${...}` in `url`, `path`, `cloud` and `extract`
    /// substituted (a variant, a `-p` parameter, a built-in).
    pub fn render(&self, vars: &dyn Vars) -> Result<AssetSpec, RenderError> {
        let text = |source: &str| {
            Template::parse(source)
                .map_err(|e| RenderError::invalid("", e.to_string()))?
                .render(vars)
        };
        let source = match &self.source {
            AssetSource::Url(url) => AssetSource::Url(text(url)?),
            AssetSource::Path(path) => AssetSource::Path(Template::from_text(&path.render(vars)?)),
            AssetSource::Cloud(image) => {
                AssetSource::Cloud(Template::from_text(&image.render(vars)?))
            }
        };
        Ok(AssetSpec {
            source,
            extract: self.extract.as_deref().map(text).transpose()?,
            ..self.clone()
        })
    }
}

/// Where an asset comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum AssetSource {
    /// `url = "..."` (http, https, file), as written: it may hold `${...}`
    /// until [`AssetSpec::render`].
    Url(String),
    /// `path = "..."` (may use `${dir}`; relative paths are relative to the test's directory).
    Path(Template),
    /// `cloud = "debian 12 amd64 genericcloud"`: a distribution's cloud image,
    /// resolved to a URL and checksum from the distribution's published
    /// checksum files (may use variants and `-p` parameters).
    Cloud(Template),
}

/// An asset's expected hash, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetHash {
    /// `sha256 = "..."`.
    Sha256(String),
    /// `sha512 = "..."`.
    Sha512(String),
}
