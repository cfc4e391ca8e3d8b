//! Where an asset's bytes come from: its declaration turned into a
//! [`Source`] to fetch or copy.

use std::collections::BTreeMap;
use std::path::Path;

use kennel_spec::{AssetSource, AssetSpec, Value};

use crate::error::AssetError;
use crate::fetch::Source;

/// The source of the asset `spec` declares, its relative paths and `${dir}`
/// taken from `base_dir` (the test file's folder).
pub(crate) fn source_of(spec: &AssetSpec, base_dir: &Path) -> Result<Source, AssetError> {
    let name = &spec.name;
    match &spec.source {
        AssetSource::Url(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Ok(Source::Http(url.clone()))
        }
        AssetSource::Url(url) => {
            let path = url::Url::parse(url)
                .ok()
                .filter(|u| u.scheme() == "file")
                .and_then(|u| u.to_file_path().ok())
                .ok_or_else(|| AssetError::UnsupportedUrl {
                    name: name.clone(),
                    url: url.clone(),
                })?;
            Ok(Source::File {
                path,
                label: url.clone(),
            })
        }
        AssetSource::Cloud(image) => Err(AssetError::CloudUnresolved {
            name: name.clone(),
            image: image.source().to_owned(),
        }),
        AssetSource::Path(template) => {
            let mut vars = BTreeMap::new();
            vars.insert(
                "dir".to_owned(),
                Value::String(base_dir.to_string_lossy().into_owned()),
            );
            let text = template
                .render(&vars)
                .map_err(|source| AssetError::PathTemplate {
                    name: name.clone(),
                    source,
                })?;
            let path = base_dir.join(&text);
            Ok(Source::File {
                label: path.display().to_string(),
                path,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn file_urls_are_percent_decoded() {
        let path_of = |url: &str| {
            let spec = AssetSpec {
                name: "a".into(),
                line: 1,
                source: AssetSource::Url(url.into()),
                hash: None,
                uncompress: false,
                extract: None,
            };
            match source_of(&spec, Path::new("/")) {
                Ok(crate::fetch::Source::File { path, .. }) => Some(path),
                _ => None,
            }
        };
        assert_eq!(path_of("file:///a%20b"), Some(PathBuf::from("/a b")));
        assert_eq!(path_of("file://localhost/a"), Some(PathBuf::from("/a")));
        assert_eq!(path_of("file://host/a"), None);
    }
}
