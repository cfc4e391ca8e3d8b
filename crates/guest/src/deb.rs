//! Extracting parts of a Debian package file (`.deb`): an `ar` archive whose
//! `data.tar.*` member holds the files.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::error::io_err;
use crate::GuestError;

fn bad(path: &Path, reason: impl Into<String>) -> GuestError {
    GuestError::BadDeb {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// A path inside the package without `./` and with only normal components.
fn normal(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir | Component::RootDir => {}
            Component::Normal(p) => out.push(p),
            _ => return None,
        }
    }
    Some(out)
}

/// Extracts the entries of the Debian package `deb` under any of `prefixes`
/// (paths inside the package such as `boot` or `lib/modules`, with or
/// without a leading `./`) into `dest`, keeping their paths. Returns the
/// paths extracted, relative to `dest`. Handles `data.tar.xz`, `.zst`,
/// `.gz` and plain `data.tar`.
///
/// # Examples
///
/// ```no_run
/// use kennel_guest::extract_deb;
/// let files = extract_deb("linux-image-6.1.0-56-arm64_6.1.158-1_arm64.deb".as_ref(),
///                         &["boot", "lib/modules"], "/tmp/kernel".as_ref())?;
/// # Ok::<(), kennel_guest::GuestError>(())
/// ```
pub fn extract_deb(deb: &Path, prefixes: &[&str], dest: &Path) -> Result<Vec<PathBuf>, GuestError> {
    let file = std::fs::File::open(deb).map_err(io_err("read", deb))?;
    let mut ar = ar::Archive::new(file);
    let prefixes: Vec<PathBuf> = prefixes
        .iter()
        .filter_map(|p| normal(Path::new(p)))
        .collect();
    while let Some(member) = ar.next_entry() {
        let member = member.map_err(|e| bad(deb, format!("not an ar archive ({e})")))?;
        let name = String::from_utf8_lossy(member.header().identifier())
            .trim_end_matches('/')
            .to_owned();
        let reader: Box<dyn Read> = match name.as_str() {
            "data.tar.xz" => Box::new(xz2::read::XzDecoder::new_multi_decoder(member)),
            "data.tar.zst" => {
                Box::new(zstd::stream::read::Decoder::new(member).map_err(|source| {
                    GuestError::Decompress {
                        what: format!("{}: {name}", deb.display()),
                        source,
                    }
                })?)
            }
            "data.tar.gz" => Box::new(flate2::read::GzDecoder::new(member)),
            "data.tar" => Box::new(member),
            _ => continue,
        };
        return extract_tar(deb, reader, &prefixes, dest);
    }
    Err(bad(deb, "no data.tar member"))
}

fn extract_tar(
    deb: &Path,
    reader: impl Read,
    prefixes: &[PathBuf],
    dest: &Path,
) -> Result<Vec<PathBuf>, GuestError> {
    std::fs::create_dir_all(dest).map_err(io_err("create", dest))?;
    let mut tar = tar::Archive::new(reader);
    tar.set_preserve_permissions(true);
    let mut out = Vec::new();
    let entries = tar.entries().map_err(|source| GuestError::Decompress {
        what: deb.display().to_string(),
        source,
    })?;
    for entry in entries {
        let mut entry = entry.map_err(|source| GuestError::Decompress {
            what: deb.display().to_string(),
            source,
        })?;
        let path = entry.path().map_err(|source| GuestError::Decompress {
            what: deb.display().to_string(),
            source,
        })?;
        let Some(path) = normal(&path) else { continue };
        if path.as_os_str().is_empty() || !prefixes.iter().any(|p| path.starts_with(p)) {
            continue;
        }
        entry
            .unpack_in(dest)
            .map_err(io_err("extract into", dest.join(&path)))?;
        out.push(path);
    }
    Ok(out)
}
