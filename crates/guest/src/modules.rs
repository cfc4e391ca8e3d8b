//! Kernel modules: dependencies from `modules.dep` (or, without one, from
//! each module's `.modinfo`), built-in modules from `modules.builtin`, and
//! their copies in the initramfs, decompressed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::io_err;
use crate::{GuestError, Initramfs};

/// The suffixes a module file may have, the compressed ones after `.ko`.
const SUFFIXES: [&str; 4] = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"];

/// A module's name from its file name (`virtio-rng.ko.xz` -> `virtio_rng`);
/// the kernel treats `-` and `_` alike in module names.
pub fn module_name(file: &str) -> Option<String> {
    let base = file.rsplit('/').next().unwrap_or(file);
    SUFFIXES
        .iter()
        .find_map(|s| base.strip_suffix(s))
        .map(|n| n.replace('-', "_"))
}

/// The modules tree of one kernel release (`/lib/modules/<release>`): which
/// modules exist, what each depends on, which are built in.
#[derive(Debug, Clone)]
pub struct ModuleIndex {
    root: PathBuf,
    /// name -> path relative to the root.
    paths: BTreeMap<String, String>,
    /// name -> direct or transitive dependencies (names), as known.
    deps: HashMap<String, Vec<String>>,
    builtin: BTreeSet<String>,
    /// Dependencies come from `.modinfo` (no `modules.dep`).
    from_modinfo: bool,
}

/// A module to load: where it is on the host and where it goes in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModule {
    /// The module name (`virtio_ring`).
    pub name: String,
    /// The file on the host, possibly compressed.
    pub host_path: PathBuf,
    /// The path relative to the modules root, without a compression suffix
    /// (`kernel/drivers/virtio/virtio_ring.ko`).
    pub relative_path: String,
}

/// The outcome of resolving wanted modules: what to load, in order, and what
/// needs no loading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModulePlan {
    /// Modules to load, every module after its dependencies.
    pub load: Vec<ResolvedModule>,
    /// Wanted modules (or dependencies) that are built into the kernel.
    pub builtin: Vec<String>,
}

impl ModuleIndex {
    /// Reads the modules tree at `root`: `modules.dep` and `modules.builtin`
    /// when present; without `modules.dep` (an unpacked package that `depmod`
    /// never ran on), the module files are found by walking the tree and
    /// their dependencies read from their `.modinfo` sections.
    pub fn load(root: &Path) -> Result<ModuleIndex, GuestError> {
        if !root.is_dir() {
            return Err(GuestError::NoModulesTree {
                root: root.to_owned(),
            });
        }
        let mut index = ModuleIndex {
            root: root.to_owned(),
            paths: BTreeMap::new(),
            deps: HashMap::new(),
            builtin: BTreeSet::new(),
            from_modinfo: false,
        };
        let builtin = root.join("modules.builtin");
        if builtin.is_file() {
            let text = std::fs::read_to_string(&builtin).map_err(io_err("read", &builtin))?;
            index.builtin = text.lines().filter_map(module_name).collect();
        }
        let dep = root.join("modules.dep");
        if dep.is_file() {
            let text = std::fs::read_to_string(&dep).map_err(io_err("read", &dep))?;
            for line in text.lines() {
                let Some((module, deps)) = line.split_once(':') else {
                    continue;
                };
                let Some(name) = module_name(module) else {
                    continue;
                };
                let deps = deps.split_whitespace().filter_map(module_name).collect();
                index.paths.insert(name.clone(), module.trim().to_owned());
                index.deps.insert(name, deps);
            }
        } else {
            index.from_modinfo = true;
            walk(root, root, &mut index.paths)?;
        }
        Ok(index)
    }

    /// The modules tree this index reads.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether `name` is built into the kernel.
    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtin.contains(&name.replace('-', "_"))
    }

    /// The dependencies of `name` (names), read from `.modinfo` when needed.
    fn deps_of(&self, name: &str) -> Result<Vec<String>, GuestError> {
        if let Some(d) = self.deps.get(name) {
            return Ok(d.clone());
        }
        if !self.from_modinfo {
            return Ok(Vec::new());
        }
        let Some(rel) = self.paths.get(name) else {
            return Ok(Vec::new());
        };
        let path = self.root.join(rel);
        let data = read_module(&path)?;
        let modinfo = crate::elf::section(&data, ".modinfo")
            .map_err(|source| GuestError::BadElf {
                path: path.clone(),
                source,
            })?
            .unwrap_or_default();
        Ok(modinfo
            .split(|&b| b == 0)
            .filter_map(|field| field.strip_prefix(b"depends="))
            .flat_map(|list| {
                String::from_utf8_lossy(list)
                    .split(',')
                    .map(|d| d.trim().replace('-', "_"))
                    .collect::<Vec<_>>()
            })
            .filter(|d| !d.is_empty())
            .collect())
    }

    /// Resolves `wanted` module names (`-` and `_` alike) to the modules to
    /// load, dependencies first. Built-in modules need no loading; names that
    /// are neither in the tree nor built in are an error naming all of them.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use kennel_guest::ModuleIndex;
    /// let index = ModuleIndex::load("/lib/modules/6.1.0-56-amd64".as_ref())?;
    /// let plan = index.resolve(&["virtio_console"])?;
    /// let names: Vec<_> = plan.load.iter().map(|m| m.name.as_str()).collect();
    /// assert_eq!(names, ["virtio_ring", "virtio", "virtio_console"]);
    /// # Ok::<(), kennel_guest::GuestError>(())
    /// ```
    pub fn resolve<S: AsRef<str>>(&self, wanted: &[S]) -> Result<ModulePlan, GuestError> {
        let mut plan = ModulePlan::default();
        let mut done = BTreeSet::new();
        let mut missing = Vec::new();
        for name in wanted {
            let name = name.as_ref().replace('-', "_");
            self.visit(&name, &mut done, &mut plan, &mut missing, 0)?;
        }
        if !missing.is_empty() {
            return Err(GuestError::ModulesNotFound {
                names: missing,
                root: self.root.clone(),
            });
        }
        Ok(plan)
    }

    fn visit(
        &self,
        name: &str,
        done: &mut BTreeSet<String>,
        plan: &mut ModulePlan,
        missing: &mut Vec<String>,
        depth: usize,
    ) -> Result<(), GuestError> {
        if !done.insert(name.to_owned()) || depth > 64 {
            return Ok(());
        }
        let Some(rel) = self.paths.get(name) else {
            if self.builtin.contains(name) {
                plan.builtin.push(name.to_owned());
            } else {
                missing.push(name.to_owned());
            }
            return Ok(());
        };
        for dep in self.deps_of(name)? {
            self.visit(&dep, done, plan, missing, depth + 1)?;
        }
        let relative_path = SUFFIXES[1..]
            .iter()
            .find_map(|s| rel.strip_suffix(s).map(|r| format!("{r}.ko")))
            .unwrap_or_else(|| rel.clone());
        plan.load.push(ResolvedModule {
            name: name.to_owned(),
            host_path: self.root.join(rel),
            relative_path,
        });
        Ok(())
    }
}

fn walk(root: &Path, dir: &Path, paths: &mut BTreeMap<String, String>) -> Result<(), GuestError> {
    let entries = std::fs::read_dir(dir).map_err(io_err("list", dir))?;
    for entry in entries {
        let entry = entry.map_err(io_err("list", dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io_err("read", &path))?;
        if kind.is_dir() {
            walk(root, &path, paths)?;
        } else if let (Some(name), Ok(rel)) = (
            module_name(&entry.file_name().to_string_lossy()),
            path.strip_prefix(root),
        ) {
            paths
                .entry(name)
                .or_insert_with(|| rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// A module file's content, decompressed (`.ko.xz`, `.ko.zst`, `.ko.gz`):
/// busybox `insmod` hands the bytes to the kernel as they are.
pub fn read_module(path: &Path) -> Result<Vec<u8>, GuestError> {
    let file = std::fs::File::open(path).map_err(io_err("read", path))?;
    let name = path.to_string_lossy();
    let mut out = Vec::new();
    let result = if name.ends_with(".xz") {
        xz2::read::XzDecoder::new(file).read_to_end(&mut out)
    } else if name.ends_with(".zst") {
        zstd::stream::read::Decoder::new(file).and_then(|mut d| d.read_to_end(&mut out))
    } else if name.ends_with(".gz") {
        flate2::read::GzDecoder::new(file).read_to_end(&mut out)
    } else {
        return std::fs::read(path).map_err(io_err("read", path));
    };
    result.map_err(|source| GuestError::Decompress {
        what: name.into_owned(),
        source,
    })?;
    Ok(out)
}

impl Initramfs {
    /// Copies the modules of `plan` (decompressed) under
    /// `lib/modules/<release>/`, and returns their guest paths in load order,
    /// ready for an [`InitScript`](crate::InitScript).
    pub fn add_modules(
        &mut self,
        plan: &ModulePlan,
        release: &str,
    ) -> Result<Vec<String>, GuestError> {
        let mut paths = Vec::with_capacity(plan.load.len());
        for module in &plan.load {
            let path = format!("/lib/modules/{release}/{}", module.relative_path);
            self.file(&path, read_module(&module.host_path)?, 0o644)?;
            paths.push(path);
        }
        Ok(paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_file_names_with_dashes_as_underscores() {
        assert_eq!(
            module_name("kernel/drivers/char/hw_random/virtio-rng.ko.xz").as_deref(),
            Some("virtio_rng")
        );
        assert_eq!(module_name("virtio.ko").as_deref(), Some("virtio"));
        assert_eq!(module_name("modules.dep"), None);
    }

    fn tree(dep: &str, builtin: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir.path().join("modules.dep"), dep).expect("write");
        std::fs::write(dir.path().join("modules.builtin"), builtin).expect("write");
        dir
    }

    #[test]
    fn dependencies_load_first_and_builtins_are_skipped() {
        let dir = tree(
            "k/c.ko.xz: k/b.ko k/a.ko\nk/b.ko: k/a.ko\nk/a.ko:\n",
            "kernel/k/virtio.ko\n",
        );
        let plan = ModuleIndex::load(dir.path())
            .expect("index")
            .resolve(&["c", "virtio"])
            .expect("resolved");
        let order: Vec<_> = plan
            .load
            .iter()
            .map(|m| (m.name.as_str(), m.relative_path.as_str()))
            .collect();
        assert_eq!(order, [("a", "k/a.ko"), ("b", "k/b.ko"), ("c", "k/c.ko")]);
        assert_eq!(plan.builtin, ["virtio"]);
    }

    #[test]
    fn compressed_modules_are_stored_decompressed_as_ko() {
        use std::io::Write;
        let dir = tree("k/x.ko.xz:\nk/z.ko.zst: k/x.ko.xz\n", "");
        std::fs::create_dir(dir.path().join("k")).expect("mkdir");
        let mut xz = xz2::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(b"xz module").expect("in memory");
        std::fs::write(
            dir.path().join("k/x.ko.xz"),
            xz.finish().expect("in memory"),
        )
        .expect("write");
        std::fs::write(
            dir.path().join("k/z.ko.zst"),
            zstd::encode_all(&b"zstd module"[..], 1).expect("in memory"),
        )
        .expect("write");
        let plan = ModuleIndex::load(dir.path())
            .expect("index")
            .resolve(&["z"])
            .expect("resolved");
        let mut fs = Initramfs::new();
        let paths = fs.add_modules(&plan, "9.9").expect("added");
        assert_eq!(
            paths,
            ["/lib/modules/9.9/k/x.ko", "/lib/modules/9.9/k/z.ko"]
        );
        let plain = fs.to_bytes(crate::Compression::None);
        assert!(
            plain.windows(9).any(|w| w == b"xz module")
                && plain.windows(11).any(|w| w == b"zstd module")
        );
    }

    #[test]
    fn truly_missing_modules_are_named_together() {
        let dir = tree("k/a.ko:\n", "");
        let err = ModuleIndex::load(dir.path())
            .expect("index")
            .resolve(&["nope", "a", "gone"])
            .expect_err("missing");
        assert!(
            matches!(&err, GuestError::ModulesNotFound { names, .. } if names == &["nope", "gone"]),
            "{err}"
        );
    }
}
