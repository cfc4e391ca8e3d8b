//! Host binaries with the shared libraries they need, copied into the initramfs.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use crate::cpio::guest_path;
use crate::elf::{self, ElfInfo};
use crate::error::{io_err, ElfError};
use crate::{Arch, GuestError, Initramfs};

fn bad_elf(path: &Path) -> impl FnOnce(ElfError) -> GuestError + '_ {
    move |source| GuestError::BadElf {
        path: path.to_owned(),
        source,
    }
}

/// Where a library for a binary of machine `machine` is looked for.
fn default_dirs(machine: u16) -> Vec<PathBuf> {
    match Arch::ALL.into_iter().find(|a| a.elf_machine() == machine) {
        Some(arch) => arch.library_dirs(),
        None => vec![PathBuf::from("/lib"), PathBuf::from("/usr/lib")],
    }
}

/// Expands `$ORIGIN` (and `${ORIGIN}`) in a run path entry.
fn expand_origin(entry: &str, origin: &Path) -> PathBuf {
    let origin = origin.to_string_lossy();
    PathBuf::from(
        entry
            .replace("${ORIGIN}", &origin)
            .replace("$ORIGIN", &origin),
    )
}

/// A candidate library file that matches the needing binary's machine and class.
fn compatible(path: &Path, machine: u16, class64: bool) -> Option<(Vec<u8>, ElfInfo)> {
    let data = std::fs::read(path).ok()?;
    let info = elf::inspect(&data).ok()?;
    (info.machine == machine && info.class64 == class64).then_some((data, info))
}

impl Initramfs {
    /// Overrides the directories shared libraries are looked for in (by
    /// default the architecture's multiarch directories, then `/lib64`,
    /// `/usr/lib64`, `/lib` and `/usr/lib`, as the dynamic loader searches
    /// them without a cache). `DT_RUNPATH`/`DT_RPATH` entries are searched first.
    pub fn library_dirs(&mut self, dirs: Vec<PathBuf>) -> &mut Self {
        self.library_dirs = Some(dirs);
        self
    }

    /// Adds the host ELF binary `host` at `path` (mode 0755), with its ELF
    /// interpreter (`PT_INTERP`) and every shared library it needs
    /// (`DT_NEEDED`, recursively), each at the same path as on the host. A
    /// file reached under two names (the interpreter and a library, say) is
    /// stored once and the second name is a symlink to the first.
    ///
    /// Returns the guest paths of the interpreter and libraries added, in
    /// the order they were found. A static binary adds nothing more.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use kennel_guest::Initramfs;
    /// let mut fs = Initramfs::new();
    /// let libs = fs.add_binary("/bin/ls".as_ref(), "/bin/ls")?;
    /// assert!(libs.iter().any(|l| l.ends_with("/libc.so.6")));
    /// # Ok::<(), kennel_guest::GuestError>(())
    /// ```
    pub fn add_binary(&mut self, host: &Path, path: &str) -> Result<Vec<String>, GuestError> {
        let data = std::fs::read(host).map_err(io_err("read", host))?;
        let info = elf::inspect(&data).map_err(bad_elf(host))?;
        self.file(path, data, 0o755)?;
        let (machine, class64) = (info.machine, info.class64);
        let mut added = Vec::new();
        if let Some(interp) = &info.interp {
            let interp_host = Path::new(interp);
            if compatible(interp_host, machine, class64).is_none() {
                return Err(GuestError::LibraryNotFound {
                    library: interp.clone(),
                    needed_by: host.to_owned(),
                    searched: vec![interp_host.to_owned()],
                });
            }
            if let Some(p) = self.copy_library(interp_host, None)? {
                added.push(p);
            }
        }
        let defaults = self
            .library_dirs
            .clone()
            .unwrap_or_else(|| default_dirs(machine));
        let mut queue = VecDeque::from([(host.to_owned(), info)]);
        let mut seen = std::collections::BTreeSet::new();
        while let Some((needer, info)) = queue.pop_front() {
            let origin = needer.parent().unwrap_or(Path::new("/")).to_owned();
            for name in &info.needed {
                if !seen.insert(name.clone()) {
                    continue;
                }
                let mut dirs: Vec<PathBuf> = Vec::new();
                if info.runpath.is_empty() {
                    dirs.extend(info.rpath.iter().map(|e| expand_origin(e, &origin)));
                }
                dirs.extend(info.runpath.iter().map(|e| expand_origin(e, &origin)));
                dirs.extend(defaults.iter().cloned());
                let candidates: Vec<PathBuf> = if name.contains('/') {
                    vec![PathBuf::from(name)]
                } else {
                    dirs.iter().map(|d| d.join(name)).collect()
                };
                let found = candidates
                    .iter()
                    .find_map(|c| compatible(c, machine, class64).map(|(d, i)| (c.clone(), d, i)));
                let Some((lib_path, lib_data, lib_info)) = found else {
                    return Err(GuestError::LibraryNotFound {
                        library: name.clone(),
                        needed_by: needer,
                        searched: dirs,
                    });
                };
                if let Some(p) = self.copy_library(&lib_path, Some(lib_data))? {
                    added.push(p);
                }
                queue.push_back((lib_path, lib_info));
            }
        }
        Ok(added)
    }

    /// Copies one library to its own path, or links to an earlier copy of the
    /// same file. Returns the guest path when something was added.
    fn copy_library(
        &mut self,
        host: &Path,
        data: Option<Vec<u8>>,
    ) -> Result<Option<String>, GuestError> {
        let guest = guest_path(&host.to_string_lossy())?;
        if self.contains(&guest) {
            return Ok(None);
        }
        let canonical = std::fs::canonicalize(host).map_err(io_err("resolve", host))?;
        if let Some(first) = self.copied.get(&canonical).cloned() {
            self.symlink(&guest, &format!("/{first}"))?;
            return Ok(Some(guest));
        }
        let data = match data {
            Some(d) => d,
            None => std::fs::read(host).map_err(io_err("read", host))?,
        };
        self.file(&guest, data, 0o755)?;
        self.copied.insert(canonical, guest.clone());
        Ok(Some(guest))
    }
}

/// Checks that the host binary `path` is an ELF file for `arch`.
pub(crate) fn check_arch(path: &Path, arch: Arch) -> Result<(), GuestError> {
    use std::io::Read;
    let mut head = vec![0u8; 64];
    let mut file = std::fs::File::open(path).map_err(io_err("read", path))?;
    let n = file.read(&mut head).map_err(io_err("read", path))?;
    head.truncate(n);
    if !head.starts_with(b"\x7fELF") || head.len() < 20 {
        return Err(GuestError::BadElf {
            path: path.to_owned(),
            source: ElfError::NoHeader,
        });
    }
    let machine = if head[5] == 2 {
        u16::from_be_bytes([head[18], head[19]])
    } else {
        u16::from_le_bytes([head[18], head[19]])
    };
    if machine != arch.elf_machine() {
        return Err(GuestError::WrongArchitecture {
            path: path.to_owned(),
            expected: arch,
            found: elf::machine_name(machine),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_expanded_in_both_spellings() {
        let origin = Path::new("/opt/app/bin");
        assert_eq!(
            expand_origin("$ORIGIN/../lib", origin),
            PathBuf::from("/opt/app/bin/../lib")
        );
        assert_eq!(
            expand_origin("${ORIGIN}/lib", origin),
            PathBuf::from("/opt/app/bin/lib")
        );
    }
}
