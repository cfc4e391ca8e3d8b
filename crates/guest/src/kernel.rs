//! Finding the kernel: on this machine, at a path, in a Debian package file,
//! or in a tree unpacked by `scripts/fetch-foreign-guests.sh`.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use kennel_config::text::hex;

use crate::cache::{stamp, GuestCache};
use crate::error::io_err;
use crate::GuestError;

/// Where the guest's kernel comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KernelSource {
    /// The newest readable `/boot/vmlinuz-*` of this machine, with its
    /// modules at `/lib/modules/<release>`.
    Host,
    /// A kernel file. Its release comes from a `vmlinuz-<release>` or
    /// `vmlinux-<release>` name, else from the bzImage's version string.
    Path(PathBuf),
    /// A Debian `linux-image-*` package file: its `boot/vmlinuz-<release>`
    /// (or `vmlinux-<release>`) and `lib/modules/<release>/`, unpacked into the cache.
    Deb(PathBuf),
    /// A directory in the layout `scripts/fetch-foreign-guests.sh` writes:
    /// `vmlinuz`, `release`, `lib/modules/<release>/`, `busybox`.
    DebianTree(PathBuf),
}

/// A kernel found: the image file, its release, and its modules tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// The kernel image as shipped (a bzImage on x86, an `Image` on arm64,
    /// an ELF `vmlinux` on ppc64).
    pub image: PathBuf,
    /// The kernel release (`6.1.0-56-amd64`), when known.
    pub release: Option<String>,
    /// The modules tree (`/lib/modules/<release>`), when there is one.
    pub modules_root: Option<PathBuf>,
}

/// Compares version strings the way `ls -v` does: digit runs as numbers.
fn version_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    for (x, y) in chunks(a).into_iter().zip(chunks(b)) {
        let ord = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

/// The newest readable `vmlinuz-*` in `boot` (`/boot` on a normal system).
pub fn find_newest_kernel(boot: &Path) -> Result<PathBuf, GuestError> {
    let looked = || {
        GuestError::NoKernel {
        looked: format!(
            "no readable {}/vmlinuz-* (install one: apt-get install linux-image-amd64; Ubuntu makes them root-only: chmod 0644 /boot/vmlinuz-*)",
            boot.display()
        ),
    }
    };
    let entries = std::fs::read_dir(boot).map_err(|_| looked())?;
    let mut kernels: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let release = name.strip_prefix("vmlinuz-")?.to_owned();
            let path = e.path();
            std::fs::File::open(&path).ok()?;
            Some((release, path))
        })
        .collect();
    kernels.sort_by(|a, b| version_cmp(&a.0, &b.0));
    kernels.pop().map(|(_, p)| p).ok_or_else(looked)
}

fn release_from_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix("vmlinuz-")
        .or_else(|| name.strip_prefix("vmlinux-"))
        .map(str::to_owned)
}

fn existing_dir(path: PathBuf) -> Option<PathBuf> {
    path.is_dir().then_some(path)
}

impl KernelSource {
    /// Finds the kernel image, its release and its modules tree. A package
    /// file is unpacked once into `cache` (keyed by the file's path, size and
    /// times) and found there afterwards.
    pub fn locate(&self, cache: &GuestCache) -> Result<Kernel, GuestError> {
        match self {
            KernelSource::Host => {
                let image = find_newest_kernel(Path::new(crate::HOST_BOOT))?;
                let release = release_from_name(&image);
                let modules_root = release
                    .as_ref()
                    .and_then(|r| existing_dir(Path::new("/lib/modules").join(r)));
                Ok(Kernel {
                    image,
                    release,
                    modules_root,
                })
            }
            KernelSource::Path(path) => {
                std::fs::File::open(path).map_err(io_err("read", path))?;
                let release = release_from_name(path).or_else(|| {
                    let mut head = vec![0u8; 64 * 1024];
                    use std::io::Read;
                    let n = std::fs::File::open(path)
                        .and_then(|mut f| f.read(&mut head))
                        .ok()?;
                    head.truncate(n);
                    crate::bzimage::bzimage_version(&head)?
                        .split_whitespace()
                        .next()
                        .map(str::to_owned)
                });
                let modules_root = release
                    .as_ref()
                    .and_then(|r| existing_dir(Path::new("/lib/modules").join(r)));
                Ok(Kernel {
                    image: path.clone(),
                    release,
                    modules_root,
                })
            }
            KernelSource::DebianTree(dir) => debian_tree(dir),
            KernelSource::Deb(deb) => {
                let unpacked = unpack_deb(deb, cache)?;
                from_unpacked(deb, &unpacked)
            }
        }
    }
}

fn debian_tree(dir: &Path) -> Result<Kernel, GuestError> {
    let image = dir.join("vmlinuz");
    if !image.is_file() {
        return Err(GuestError::NoKernel {
            looked: format!(
                "no {} (run scripts/fetch-foreign-guests.sh as root)",
                image.display()
            ),
        });
    }
    let release_file = dir.join("release");
    let release = match std::fs::read_to_string(&release_file) {
        Ok(r) => Some(r.trim().to_owned()),
        Err(_) => std::fs::read_dir(dir.join("lib/modules"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned()),
    };
    let modules_root = release
        .as_ref()
        .and_then(|r| existing_dir(dir.join("lib/modules").join(r)));
    Ok(Kernel {
        image,
        release,
        modules_root,
    })
}

fn unpack_deb(deb: &Path, cache: &GuestCache) -> Result<PathBuf, GuestError> {
    let st = stamp(deb).ok_or_else(|| GuestError::NoKernel {
        looked: format!("cannot read {}", deb.display()),
    })?;
    let mut h = Sha256::new();
    h.update(deb.as_os_str().as_encoded_bytes());
    h.update(st.as_bytes());
    let key = &hex(&h.finalize())[..32];
    let dest = cache.path(&format!("deb-{key}"));
    if dest.is_dir() {
        return Ok(dest);
    }
    cache.ensure_dir()?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".deb-{key}."))
        .tempdir_in(cache.dir())
        .map_err(io_err("create a temporary directory in", cache.dir()))?;
    crate::deb::extract_deb(deb, &["boot", "lib/modules", "usr/lib/modules"], tmp.path())?;
    let tmp = tmp.keep();
    if let Err(source) = std::fs::rename(&tmp, &dest) {
        let _ = std::fs::remove_dir_all(&tmp);
        if !dest.is_dir() {
            return Err(GuestError::Io {
                action: "rename into",
                path: dest,
                source,
            });
        }
    }
    Ok(dest)
}

fn from_unpacked(deb: &Path, dir: &Path) -> Result<Kernel, GuestError> {
    let boot = dir.join("boot");
    let image = std::fs::read_dir(&boot)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| release_from_name(p).is_some())
        .max_by(|a, b| version_cmp(&a.to_string_lossy(), &b.to_string_lossy()))
        .ok_or_else(|| GuestError::BadDeb {
            path: deb.to_owned(),
            reason: "no boot/vmlinuz-* in it".to_owned(),
        })?;
    let release = release_from_name(&image);
    let modules_root = release.as_ref().and_then(|r| {
        existing_dir(dir.join("lib/modules").join(r))
            .or_else(|| existing_dir(dir.join("usr/lib/modules").join(r)))
    });
    Ok(Kernel {
        image,
        release,
        modules_root,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_like_ls_v() {
        let mut v = vec![
            "6.1.0-9-amd64",
            "6.1.0-56-amd64",
            "6.10.0-1-amd64",
            "5.19.0-1-amd64",
        ];
        v.sort_by(|a, b| version_cmp(a, b));
        assert_eq!(
            v,
            [
                "5.19.0-1-amd64",
                "6.1.0-9-amd64",
                "6.1.0-56-amd64",
                "6.10.0-1-amd64"
            ]
        );
    }

    #[test]
    fn the_newest_readable_kernel_wins() {
        let boot = tempfile::tempdir().expect("temp dir");
        for name in [
            "vmlinuz-6.1.0-9-amd64",
            "vmlinuz-6.1.0-56-amd64",
            "config-6.2.0-1-amd64",
        ] {
            std::fs::write(boot.path().join(name), b"k").expect("write");
        }
        let found = find_newest_kernel(boot.path()).expect("a kernel");
        assert_eq!(found, boot.path().join("vmlinuz-6.1.0-56-amd64"));
    }

    #[test]
    fn no_kernel_says_how_to_get_one() {
        let boot = tempfile::tempdir().expect("temp dir");
        let err = find_newest_kernel(boot.path()).expect_err("none");
        assert!(
            err.to_string()
                .contains("apt-get install linux-image-amd64"),
            "{err}"
        );
    }
}
