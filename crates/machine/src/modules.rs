//! Another QEMU's modules. QEMU looks for a module in `QEMU_MODULE_DIR` first
//! (kennel sets it to a prefix's own folder, [`QemuInstall`]) and then in the
//! folder built into it (`CONFIG_QEMU_MODDIR`, e.g. the system's
//! `/usr/lib/x86_64-linux-gnu/qemu`; QEMU's `util/module.c`). No variable turns
//! the second look off, and a Debian QEMU is not relocatable: unpacked
//! elsewhere, it still looks in `/usr`. (Only a `qemu-bundle` folder beside the
//! binary moves every built-in path, the module folder too, under it.) So a QEMU
//! outside `/usr` whose own folder lacks a module that the system's has loads
//! the system's, another build's, and aborts: "Only modules from the same build
//! can be loaded". [`ForeignModules`] says so before the launch; a launch that
//! aborts so is explained by [`foreign_module_abort`].

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::config::MachineConfig;
use crate::install::QemuInstall;

/// QEMU's own words when it opened a module of another build.
const SAME_BUILD_HINT: &str = "only modules from the same build can be loaded";
/// The line before it, naming the module.
const FAILED_TO_INITIALIZE: &str = "failed to initialize module: ";
/// What a prefix that lacks modules needs.
const FIX: &str = "its prefix needs the module packages of its own QEMU version";
/// A module file's suffix on Linux (`CONFIG_HOST_DSOSUF`).
const MODULE_SUFFIX: &str = ".so";
/// The folder, under the binary's, that QEMU's built-in paths move into.
const BUNDLE: &str = "qemu-bundle";

/// Modules a QEMU outside `/usr` would load from another QEMU's folder: the
/// ones its built-in module folder has, its own folder lacks, and QEMU knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignModules {
    /// The prefix's own module folder (`QEMU_MODULE_DIR`).
    pub own_dir: PathBuf,
    /// The folder built into QEMU, where it looks next (the system's).
    pub builtin_dir: PathBuf,
    /// The modules `builtin_dir` has and `own_dir` lacks (`audio-pa`), sorted.
    pub names: Vec<String>,
}

impl ForeignModules {
    /// What the QEMU `binary` would take from its built-in module folder;
    /// `None` for a QEMU without a module folder of its own (the system's,
    /// a build tree), or when its folder has every module the other has.
    pub fn of(binary: &Path) -> Option<ForeignModules> {
        let own_dir = QemuInstall::of(binary).module_dir?;
        let file = std::fs::read(binary).ok()?;
        let strings = read_only_data(&file);
        let builtin_dir = builtin_module_dir(binary, strings)?;
        let own = module_names(&own_dir);
        let theirs: BTreeSet<String> = module_names(&builtin_dir)
            .into_iter()
            .filter(|n| !own.contains(n))
            .collect();
        let known = known_strings(strings, &theirs);
        ForeignModules::compare(&own_dir, &builtin_dir, |name| known.contains(name))
    }

    /// The same, once per process and module folder: `None` after the first
    /// call for a QEMU of the same prefix, so that a test (or `kennel doctor`,
    /// for each architecture's QEMU) says it once.
    pub fn once(binary: &Path) -> Option<ForeignModules> {
        static SEEN: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
        let own_dir = QemuInstall::of(binary).module_dir?;
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        if !seen.get_or_insert_with(HashSet::new).insert(own_dir) {
            return None;
        }
        drop(seen);
        ForeignModules::of(binary)
    }

    /// [`ForeignModules::once`] for the QEMU `config` launches, if it finds one.
    pub fn before_launch(config: &MachineConfig) -> Option<ForeignModules> {
        ForeignModules::once(&config.resolve_binary().ok()?.path)
    }

    /// The modules `builtin_dir` has and `own_dir` lacks, of those `knows`
    /// accepts (the QEMU's own module names: another version's extra ones are
    /// never loaded); `None` when there are none.
    pub fn compare(
        own_dir: &Path,
        builtin_dir: &Path,
        knows: impl Fn(&str) -> bool,
    ) -> Option<ForeignModules> {
        if same_dir(own_dir, builtin_dir) {
            return None;
        }
        let own = module_names(own_dir);
        let names: Vec<String> = module_names(builtin_dir)
            .into_iter()
            .filter(|n| !own.contains(n) && knows(n))
            .collect();
        (!names.is_empty()).then(|| ForeignModules {
            own_dir: own_dir.to_path_buf(),
            builtin_dir: builtin_dir.to_path_buf(),
            names,
        })
    }
}

impl std::fmt::Display for ForeignModules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "QEMU's module folder {} lacks {}, which {} (another QEMU's, where it \
             looks next) has: QEMU would load those and abort (\"Only modules from \
             the same build can be loaded\") once it needs one; {FIX}",
            self.own_dir.display(),
            self.names.join(", "),
            self.builtin_dir.display()
        )
    }
}

/// Why a launch failed, when QEMU's output (`stderr`) says it opened a module
/// of another build: the module, and where the `binary`'s own should have
/// been. `None` for any other failure.
pub fn foreign_module_abort(stderr: &str, binary: &Path) -> Option<String> {
    if !stderr.to_ascii_lowercase().contains(SAME_BUILD_HINT) {
        return None;
    }
    let module = stderr.lines().rev().find_map(|line| {
        let at = line.to_ascii_lowercase().find(FAILED_TO_INITIALIZE)?;
        line.get(at + FAILED_TO_INITIALIZE.len()..).map(str::trim)
    })?;
    let loaded = Path::new(module);
    let why = match (QemuInstall::of(binary).module_dir, loaded.file_name()) {
        (Some(own), Some(file)) if !loaded.starts_with(&own) => format!(
            "its own module folder {} has no {}, so it took the one in the folder \
             built into it; {FIX}",
            own.display(),
            file.to_string_lossy()
        ),
        _ => "its module folder holds modules of another QEMU version".to_string(),
    };
    Some(format!(
        "QEMU loaded {module}, a module of another QEMU build: {why}"
    ))
}

/// The module folder built into the QEMU whose file holds `image`: the first
/// `/…/lib…/qemu` path written in it that holds modules (Debian's QEMU also
/// holds `/usr/lib/ipxe/qemu`, firmware), under `qemu-bundle` beside the binary
/// when there is one, as QEMU itself does.
fn builtin_module_dir(binary: &Path, image: &[u8]) -> Option<PathBuf> {
    let bundle = std::fs::canonicalize(binary)
        .ok()
        .and_then(|b| b.parent().map(|d| d.join(BUNDLE)))
        .filter(|b| b.is_dir());
    strings_between_nuls(r"/[\x21-\x7e]*/lib[\x21-\x7e]*/qemu", image)
        .map(|path| {
            let path = String::from_utf8_lossy(path);
            match &bundle {
                Some(b) => b.join(path.trim_start_matches('/')),
                None => PathBuf::from(path.into_owned()),
            }
        })
        .find(|dir| !module_names(dir).is_empty())
}

/// Which of `names` the file `image` holds as whole strings: the module
/// names the QEMU knows. One pass, however many names.
fn known_strings(image: &[u8], names: &BTreeSet<String>) -> HashSet<String> {
    if names.is_empty() {
        return HashSet::new();
    }
    let alternatives: Vec<String> = names.iter().map(|n| regex::escape(n)).collect();
    strings_between_nuls(&alternatives.join("|"), image)
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect()
}

/// The strings of `image` between NULs that match `pattern` whole, in order
/// (none when `pattern` is not a regular expression).
fn strings_between_nuls<'a>(pattern: &str, image: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let pattern = regex::bytes::Regex::new(&format!(r"\x00({pattern})\x00")).ok();
    let mut at = 0;
    std::iter::from_fn(move || {
        let found = pattern.as_ref()?.captures_at(image, at)?;
        // The closing NUL may open the next string.
        at = found.get(0)?.end() - 1;
        Some(found.get(1)?.as_bytes())
    })
}

/// The strings of an ELF executable: its `.rodata` section (a tenth of
/// QEMU's file), or the whole file when it is not a 64-bit little-endian ELF
/// file with one.
fn read_only_data(file: &[u8]) -> &[u8] {
    let word = |at: usize, len: usize| -> Option<u64> {
        let bytes = file.get(at..at.checked_add(len)?)?;
        Some(bytes.iter().rev().fold(0, |v, b| v << 8 | u64::from(*b)))
    };
    let index = |v: u64| usize::try_from(v).ok();
    let section = |i: usize| -> Option<(u64, usize, usize)> {
        let headers = index(word(0x28, 8)?)?;
        let at = headers.checked_add(i.checked_mul(index(word(0x3a, 2)?)?)?)?;
        let name = word(at, 4)?;
        Some((
            name,
            index(word(at + 0x18, 8)?)?,
            index(word(at + 0x20, 8)?)?,
        ))
    };
    let rodata = || -> Option<&[u8]> {
        if file.get(..6)? != b"\x7fELF\x02\x01" {
            return None;
        }
        let count = index(word(0x3c, 2)?)?;
        let (_, names_at, names_len) = section(index(word(0x3e, 2)?)?)?;
        let names = file.get(names_at..names_at.checked_add(names_len)?)?;
        (0..count).find_map(|i| {
            let (name, at, len) = section(i)?;
            let name = names.get(index(name)?..)?;
            if !name.starts_with(b".rodata\0") {
                return None;
            }
            file.get(at..at.checked_add(len)?)
        })
    };
    rodata().unwrap_or(file)
}

/// The modules in `dir` (`audio-pa` for `audio-pa.so`); none when it cannot be read.
fn module_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(MODULE_SUFFIX).map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether two paths name one folder.
fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What QEMU 10.0.2 printed when it took QEMU 7.2's `audio-pa.so` (issue 31).
    const ABORT: &str = "\
qemu-system-x86_64: failed to open module: /usr/lib/x86_64-linux-gnu/qemu/ui-spice-core.so: undefined symbol: migration_has_finished
qemu-system-x86_64: failed to initialize module: /usr/lib/x86_64-linux-gnu/qemu/audio-pa.so
Only modules from the same build can be loaded.
qemu-system-x86_64: util/module.c:165: module_load_dso: Assertion `QTAILQ_EMPTY(&dso_init_list)' failed.
";

    fn folder(path: &Path, modules: &[&str]) -> PathBuf {
        std::fs::create_dir_all(path).expect("mkdir");
        for m in modules {
            std::fs::write(path.join(format!("{m}.so")), b"").expect("module");
        }
        path.to_path_buf()
    }

    /// A prefix `ROOT/usr` with a "binary" that names `builtin` and `known`
    /// as QEMU's file does (strings between NULs), and its own `modules`.
    fn prefix(root: &Path, builtin: &Path, known: &[&str], modules: &[&str]) -> PathBuf {
        let binary = root.join("usr/bin/qemu-system-x86_64");
        folder(binary.parent().expect("bin"), &[]);
        let mut image = b"\x01not an ELF file\0".to_vec();
        for s in std::iter::once(builtin.to_string_lossy().as_ref()).chain(known.iter().copied()) {
            image.extend_from_slice(s.as_bytes());
            image.push(0);
        }
        std::fs::write(&binary, image).expect("binary");
        let arch = std::env::consts::ARCH;
        folder(
            &root.join(format!("usr/lib/{arch}-linux-gnu/qemu")),
            modules,
        );
        binary
    }

    #[test]
    fn a_module_the_other_folder_has_and_the_qemu_knows_is_foreign() {
        let root = tempfile::tempdir().expect("tempdir");
        let own = folder(&root.path().join("own"), &["audio-alsa", "ui-opengl"]);
        let system = folder(
            &root.path().join("system"),
            &["audio-alsa", "audio-pa", "accel-tcg-x86_64", "ui-gtk"],
        );

        let foreign = ForeignModules::compare(&own, &system, |n| n != "accel-tcg-x86_64");

        let foreign = foreign.expect("foreign modules");
        assert_eq!(foreign.names, ["audio-pa", "ui-gtk"]);
        assert_eq!((foreign.own_dir, foreign.builtin_dir), (own, system));
    }

    #[test]
    fn a_folder_with_every_module_or_the_same_folder_has_nothing_foreign() {
        let root = tempfile::tempdir().expect("tempdir");
        let own = folder(&root.path().join("own"), &["audio-alsa", "audio-pa"]);
        let system = folder(&root.path().join("system"), &["audio-pa"]);

        assert_eq!(ForeignModules::compare(&own, &system, |_| true), None);
        assert_eq!(ForeignModules::compare(&system, &system, |_| true), None);
    }

    #[test]
    fn a_prefix_qemu_is_compared_with_the_folder_its_file_names() {
        let root = tempfile::tempdir().expect("tempdir");
        let system = folder(
            &root.path().join("system/lib/qemu"),
            &["audio-alsa", "audio-pa", "accel-tcg-x86_64"],
        );
        let binary = prefix(
            &root.path().join("qemu-10"),
            &system,
            &["audio-alsa", "audio-pa"],
            &["audio-alsa"],
        );

        let foreign = ForeignModules::of(&binary).expect("foreign modules");

        assert_eq!(foreign.builtin_dir, system);
        assert_eq!(foreign.names, ["audio-pa"], "accel-tcg is not one it knows");
        let text = foreign.to_string();
        assert!(text.contains("lacks audio-pa, which"), "{text}");
        assert!(
            text.contains("needs the module packages of its own QEMU version"),
            "{text}"
        );
    }

    #[test]
    fn a_qemu_bundle_beside_the_binary_moves_the_built_in_folder() {
        let root = tempfile::tempdir().expect("tempdir");
        let system = folder(&root.path().join("system/lib/qemu"), &["audio-pa"]);
        let binary = prefix(&root.path().join("qemu-10"), &system, &["audio-pa"], &[]);
        let bin = std::fs::canonicalize(binary.parent().expect("bin")).expect("bin");
        let bundled = bin
            .join(BUNDLE)
            .join(system.strip_prefix("/").expect("absolute"));
        folder(&bundled, &["ui-opengl"]);

        let foreign = ForeignModules::of(&binary);

        assert_eq!(foreign, None, "the system's folder is out of its way");
    }

    #[test]
    fn it_is_said_once_per_module_folder() {
        let root = tempfile::tempdir().expect("tempdir");
        let system = folder(&root.path().join("system/lib/qemu"), &["audio-pa"]);
        let binary = prefix(&root.path().join("qemu-10"), &system, &["audio-pa"], &[]);

        assert!(ForeignModules::once(&binary).is_some());
        assert_eq!(ForeignModules::once(&binary), None);
    }

    #[test]
    fn the_distributions_qemu_has_no_folder_of_its_own_to_compare() {
        let binary = Path::new("/usr/bin/qemu-system-x86_64");

        assert_eq!(ForeignModules::of(binary), None);
    }

    #[test]
    fn an_abort_on_another_builds_module_names_it_and_the_folder_that_lacks_it() {
        let root = tempfile::tempdir().expect("tempdir");
        let system = folder(&root.path().join("system/lib/qemu"), &["audio-pa"]);
        let binary = prefix(&root.path().join("qemu-10"), &system, &["audio-pa"], &[]);
        let own = QemuInstall::of(&binary).module_dir.expect("own folder");

        let why = foreign_module_abort(ABORT, &binary).expect("explained");

        assert_eq!(
            why,
            format!(
                "QEMU loaded /usr/lib/x86_64-linux-gnu/qemu/audio-pa.so, a module of another \
                 QEMU build: its own module folder {} has no audio-pa.so, so it took the one \
                 in the folder built into it; its prefix needs the module packages of its own \
                 QEMU version",
                own.display()
            )
        );
    }

    #[test]
    fn qemu_7_2s_wording_is_recognised_and_other_failures_are_not() {
        let old = "Failed to initialize module: /usr/lib/x86_64-linux-gnu/qemu/ui-gtk.so\n\
                   Note: only modules from the same build can be loaded.\n";
        let binary = Path::new("/usr/bin/qemu-system-x86_64");

        let why = foreign_module_abort(old, binary).expect("explained");

        assert!(why.starts_with("QEMU loaded /usr/lib/x86_64-linux-gnu/qemu/ui-gtk.so, a module of another QEMU build: its module folder holds"), "{why}");
        assert_eq!(
            foreign_module_abort("qemu-system-x86_64: -foo: invalid option\n", binary),
            None
        );
    }

    #[test]
    fn an_elf_files_strings_are_its_read_only_data() {
        let exe = std::fs::read(std::env::current_exe().expect("test binary")).expect("read");

        let strings = read_only_data(&exe);

        assert!(strings.len() < exe.len());
        let needle = SAME_BUILD_HINT.as_bytes();
        assert!(strings.windows(needle.len()).any(|w| w == needle));
    }
}
