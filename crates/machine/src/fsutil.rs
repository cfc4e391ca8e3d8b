//! Small file-system helpers shared by kennel's crates.

use std::io::Write;
use std::path::{Path, PathBuf};

/// kennel's cache directory: `$KENNEL_CACHE_DIR`, `$XDG_CACHE_HOME/kennel`, or `~/.cache/kennel`.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("KENNEL_CACHE_DIR").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(d).join("kennel"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("kennel"))
}

/// Write a file so that readers see the old or the new content, never a part:
/// write a temporary file beside it, then rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
