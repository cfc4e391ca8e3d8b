//! Writing files whole or not at all.

use std::io::Write;
use std::path::Path;

/// Write a file so that readers see the old or the new content, never a part:
/// write a temporary file beside it, then rename. The file gets mode 0644 and
/// its folder is created when missing.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let file = dir.path().join("sub/result.json");
/// kennel_config::write_atomic(&file, b"{}")?;
/// assert_eq!(std::fs::read(&file)?, b"{}");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] with the content streamed by `fill` through a buffered
/// writer, for content too big to build in memory first. An error from `fill`
/// leaves no file (and the old one, if any, in place). The file gets mode 0644.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    // A hidden name, so that listings of the folder (the guest cache, the
    // results) do not show a file being written.
    let prefix = match path.file_name() {
        Some(name) => format!(".{}.", name.to_string_lossy()),
        None => ".tmp".to_string(),
    };
    let tmp = tempfile::Builder::new().prefix(&prefix).tempfile_in(dir)?;
    let mut out = std::io::BufWriter::new(tmp);
    fill(&mut out)?;
    let tmp = out.into_inner().map_err(|e| e.into_error())?;
    // A temporary file is private (0600); what it becomes is an ordinary file
    // that others may read (reports served by a web server, CI artifacts).
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A file's identity and state, cheap to read (no hashing): size, modification
/// and change times to the nanosecond, inode and device. Equal stamps mean the
/// file was not rewritten; what kennel keys its "hash this file once" memos and
/// cache records by.
pub fn file_stamp(path: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path)?;
    Ok(format!(
        "{}:{}.{:09}:{}.{:09}:{}:{}",
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
        m.ino(),
        m.dev()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_files_are_readable_by_others_and_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/report.html");

        write_atomic(&path, b"<html>").expect("written");
        let failed = write_atomic_with(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("renderer failed"))
        });

        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).expect("read"), b"<html>");
        let leftovers = std::fs::read_dir(dir.path().join("sub"))
            .expect("dir")
            .count();
        assert_eq!(leftovers, 1, "the failed write left a temporary file");
    }
}
