//! Copy-on-write qcow2 overlays on top of read-only base images.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::CloudError;

/// The magic bytes every qcow2 image starts with.
const QCOW2_MAGIC: &[u8; 4] = b"QFI\xfb";

/// A disk image format, as QEMU names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// QEMU copy-on-write version 2 (or 3).
    Qcow2,
    /// A plain disk image.
    Raw,
}

impl ImageFormat {
    /// QEMU's name for the format: `qcow2` or `raw`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Qcow2 => "qcow2",
            ImageFormat::Raw => "raw",
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tell a qcow2 image (by its magic bytes `QFI\xfb`) from a raw one; any
/// other file, including one shorter than the magic, is raw.
///
/// # Examples
///
/// ```
/// use kennel_cloud::{detect_format, ImageFormat};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("disk.img");
/// std::fs::write(&path, b"QFI\xfb\0\0\0\x03")?;
/// assert_eq!(detect_format(&path)?, ImageFormat::Qcow2);
/// std::fs::write(&path, [0u8; 512])?;
/// assert_eq!(detect_format(&path)?, ImageFormat::Raw);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn detect_format(path: &Path) -> Result<ImageFormat, CloudError> {
    let io_err = |source| CloudError::Io {
        action: "read image",
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut magic = Vec::with_capacity(QCOW2_MAGIC.len());
    file.take(QCOW2_MAGIC.len() as u64)
        .read_to_end(&mut magic)
        .map_err(io_err)?;
    Ok(if magic == QCOW2_MAGIC {
        ImageFormat::Qcow2
    } else {
        ImageFormat::Raw
    })
}

/// The `qemu-img` to use: the one beside `qemu_binary` (e.g.
/// `/opt/qemu/bin/qemu-system-x86_64`) when there is one, else plain
/// `qemu-img`, found on `PATH` when run.
pub fn find_qemu_img(qemu_binary: Option<&Path>) -> PathBuf {
    qemu_binary
        .and_then(Path::parent)
        .map(|dir| dir.join("qemu-img"))
        .filter(|candidate| candidate.is_file())
        .unwrap_or_else(|| PathBuf::from("qemu-img"))
}

/// Create a qcow2 overlay at `overlay` backed by `base`, running
/// `qemu-img create -f qcow2 -F <format> -b <absolute base> <overlay>`.
///
/// The base's format is detected with [`detect_format`] and the base is
/// recorded by absolute path; it is only ever read. `qemu_img` is the program
/// to run (`qemu-img` is looked up on `PATH`; see [`find_qemu_img`]) or a
/// directory containing it. An existing `overlay` is replaced, unless it is
/// the base itself.
///
/// # Examples
///
/// ```no_run
/// use std::path::Path;
/// use kennel_cloud::create_overlay;
///
/// create_overlay(Path::new("qemu-img"), Path::new("/var/cache/debian-12.qcow2"), Path::new("/tmp/vm1.qcow2"))?;
/// # Ok::<(), kennel_cloud::CloudError>(())
/// ```
pub fn create_overlay(qemu_img: &Path, base: &Path, overlay: &Path) -> Result<(), CloudError> {
    let program = if qemu_img.is_dir() {
        qemu_img.join("qemu-img")
    } else {
        qemu_img.to_path_buf()
    };
    std::fs::metadata(base).map_err(|source| CloudError::BaseMissing {
        path: base.to_path_buf(),
        source,
    })?;
    let base_abs = std::path::absolute(base).map_err(|source| CloudError::BaseMissing {
        path: base.to_path_buf(),
        source,
    })?;
    if let (Ok(a), Ok(b)) = (
        std::fs::canonicalize(&base_abs),
        std::fs::canonicalize(overlay),
    ) {
        if a == b {
            return Err(CloudError::OverlayIsBase {
                path: overlay.to_path_buf(),
            });
        }
    }
    let format = detect_format(&base_abs)?;

    let mut command = Command::new(&program);
    command
        .args(["create", "-f", "qcow2", "-F", format.as_str(), "-b"])
        .arg(&base_abs)
        .arg(overlay);
    let output = command
        .output()
        .map_err(|source| CloudError::QemuImgSpawn {
            program: program.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(CloudError::QemuImg {
            command: format!(
                "{} create -f qcow2 -F {format} -b {} {}",
                program.display(),
                base_abs.display(),
                overlay.display()
            ),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(())
}
