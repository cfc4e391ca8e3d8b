//! A bootable guest: a kernel prepared for the fastest boot QEMU offers and
//! an initramfs with busybox, the agent, extra binaries and modules.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::binaries::check_arch;
use kennel_config::text::hex;

use crate::cache::stamp;
use crate::error::io_err;
use crate::{
    console_args, Arch, Compression, GuestCache, GuestError, InitScript, Initramfs, KernelSource,
    ModuleIndex, AGENT_PATH,
};

/// Changes whenever what the builder produces from the same inputs changes:
/// part of every cache key.
pub const BUILDER_VERSION: &str = concat!("kennel-guest ", env!("CARGO_PKG_VERSION"), " layout 1");

/// The video mode the guest's screen driver sets (`video=`), so that a
/// reference image is the same size on every run.
pub const SCREEN_MODE: &str = "1024x768";

/// What guest to build.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GuestSpec {
    /// The guest's architecture; every binary must be built for it.
    pub arch: Arch,
    /// Where the kernel comes from.
    pub kernel: KernelSource,
    /// A busybox for `arch` (static, or its libraries are added too).
    pub busybox: PathBuf,
    /// The guest agent, installed at [`AGENT_PATH`] and started by init.
    pub agent: Option<PathBuf>,
    /// Host binaries to add at their own paths, with their libraries.
    pub extra_binaries: Vec<PathBuf>,
    /// Kernel modules to load at boot (with their dependencies), by name.
    pub modules: Vec<String>,
    /// The modules tree, when not the kernel's own (see [`KernelSource`]).
    pub modules_root: Option<PathBuf>,
    /// Boot with `quiet` and keep the kernel's late messages off the console.
    pub quiet: bool,
    /// The machine has a screen: the kernel's console is on it too
    /// (`console=tty0`, in [`SCREEN_MODE`]) and init runs a shell on its
    /// first virtual terminal. The screen's driver goes in
    /// [`GuestSpec::modules`].
    pub screen: bool,
    /// On x86_64, boot the ELF `vmlinux` through its PVH entry when the
    /// kernel has one (much faster under TCG than the bzImage).
    pub prefer_pvh: bool,
    /// How the initramfs is compressed.
    pub compression: Compression,
}

impl GuestSpec {
    /// A guest with `kernel` and `busybox` and nothing else: no agent, no
    /// modules, quiet, PVH where possible, a plain initramfs.
    pub fn new(arch: Arch, kernel: KernelSource, busybox: impl Into<PathBuf>) -> GuestSpec {
        GuestSpec {
            arch,
            kernel,
            busybox: busybox.into(),
            agent: None,
            extra_binaries: Vec::new(),
            modules: Vec::new(),
            modules_root: None,
            quiet: true,
            screen: false,
            prefer_pvh: true,
            compression: Compression::None,
        }
    }

    /// A guest from a directory written by `scripts/fetch-foreign-guests.sh`
    /// (`build/guest/<arch>/`): its kernel, modules and busybox.
    pub fn from_debian_tree(arch: Arch, dir: &Path) -> GuestSpec {
        GuestSpec::new(
            arch,
            KernelSource::DebianTree(dir.to_owned()),
            dir.join("busybox"),
        )
    }
}

/// A guest ready to boot: what to pass to QEMU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestImage {
    /// The guest's architecture.
    pub arch: Arch,
    /// `-kernel`: the ELF `vmlinux` when `pvh`, else the kernel as shipped.
    pub kernel: PathBuf,
    /// `-initrd`: the initramfs.
    pub initrd: PathBuf,
    /// `-append`: the kernel command line (console, quiet, `panic=-1`, `rdinit=/init`).
    pub append: String,
    /// The console device the kernel and the shell use (`ttyS0`, `ttyAMA0`, `hvc0`).
    pub console: String,
    /// The kernel release (`6.1.0-56-amd64`); empty when unknown.
    pub kernel_release: String,
    /// The kernel boots through its PVH entry (x86_64).
    pub pvh: bool,
    /// Everything came from the cache: no input had changed.
    pub from_cache: bool,
}

impl GuestImage {
    /// Builds the guest of `spec` in the user's cache ([`GuestCache::user_default`]).
    pub fn build(spec: &GuestSpec) -> Result<GuestImage, GuestError> {
        GuestImage::build_in(spec, &GuestCache::user_default()?)
    }

    /// Builds the guest of `spec` in `cache`, or finds it there.
    ///
    /// Artefacts are content-addressed: `vmlinux-<sha256 of the kernel and
    /// builder version>` and `initramfs-<sha256 of the archive>.cpio[.gz]`.
    /// A memo keyed by the spec records every host file that went in (with
    /// its size, times and inode); when none has changed, the artefacts are
    /// reused without reading a file (a few milliseconds).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use kennel_guest::{Arch, GuestImage, GuestSpec, KernelSource};
    /// let mut spec = GuestSpec::new(Arch::X86_64, KernelSource::Host, "/bin/busybox");
    /// spec.modules = vec!["virtio_pci".into(), "virtio_console".into()];
    /// let image = GuestImage::build(&spec)?;
    /// // qemu-system-x86_64 -machine pc -kernel .. -initrd .. -append ..
    /// let args = image.qemu_args();
    /// # Ok::<(), kennel_guest::GuestError>(())
    /// ```
    pub fn build_in(spec: &GuestSpec, cache: &GuestCache) -> Result<GuestImage, GuestError> {
        // Locating is cheap (a directory listing at most once a package is
        // unpacked) and must come first: the newest host kernel may change.
        let kernel = spec.kernel.locate(cache)?;
        let memo_key = memo_key(spec, &kernel.image);
        if let Some(image) = read_memo(cache, &memo_key, spec.arch) {
            return Ok(image);
        }
        let mut inputs: BTreeSet<PathBuf> = BTreeSet::new();
        inputs.insert(kernel.image.clone());

        check_arch(&spec.busybox, spec.arch)?;
        if let Some(agent) = &spec.agent {
            check_arch(agent, spec.arch)?;
        }
        for extra in &spec.extra_binaries {
            check_arch(extra, spec.arch)?;
        }

        let mut fs = Initramfs::new();
        for dir in [
            "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "run", "mnt",
        ] {
            fs.dir(dir, 0o755)?;
        }
        fs.dir("tmp", 0o1777)?.dir("root", 0o700)?;
        fs.file(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\n".to_vec(),
            0o644,
        )?;
        fs.file("etc/group", b"root:x:0:\n".to_vec(), 0o644)?;
        inputs.extend(add_binary(&mut fs, &spec.busybox, "/bin/busybox")?);
        fs.symlink("bin/sh", "busybox")?;
        if let Some(agent) = &spec.agent {
            inputs.extend(add_binary(&mut fs, agent, AGENT_PATH)?);
        }
        for extra in &spec.extra_binaries {
            inputs.extend(add_binary(&mut fs, extra, &extra.to_string_lossy())?);
        }

        let mut release = kernel.release.clone().unwrap_or_default();
        let mut module_paths = Vec::new();
        if !spec.modules.is_empty() {
            let root = spec
                .modules_root
                .clone()
                .or(kernel.modules_root.clone())
                .ok_or_else(|| GuestError::NoModulesTree {
                    root: Path::new("/lib/modules").join(if release.is_empty() {
                        "<unknown release>"
                    } else {
                        &release
                    }),
                })?;
            if release.is_empty() {
                release = root
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
            }
            let index = ModuleIndex::load(&root)?;
            inputs.extend(
                ["modules.dep", "modules.builtin"]
                    .map(|f| root.join(f))
                    .into_iter()
                    .filter(|p| p.exists()),
            );
            let plan = index.resolve(&spec.modules)?;
            inputs.extend(plan.load.iter().map(|m| m.host_path.clone()));
            module_paths = fs.add_modules(
                &plan,
                if release.is_empty() {
                    "unknown"
                } else {
                    &release
                },
            )?;
        }
        let init = InitScript {
            modules: module_paths,
            agent: spec.agent.is_some(),
            quiet: spec.quiet,
            screen_shell: spec.screen,
            ..InitScript::default()
        };
        fs.file("init", init.render().into_bytes(), 0o755)?;

        let (boot_kernel, pvh) = prepare_kernel(spec, &kernel.image, cache)?;
        let digest = fs.sha256_hex();
        let initrd_name = format!("initramfs-{}{}", &digest[..32], spec.compression.suffix());
        let initrd = cache.path(&initrd_name);
        if !initrd.is_file() {
            cache.write_atomic(&initrd_name, |out| fs.write_to(out, spec.compression))?;
        }
        let (console, mut append) =
            console_args(spec.arch, spec.arch.default_machine(), spec.quiet)?;
        if spec.screen {
            // The last `console=` is `/dev/console`: the serial console stays it.
            // No blinking cursor: a still screen settles at once.
            append =
                format!("console=tty0 {append} video={SCREEN_MODE} vt.global_cursor_default=0");
        }
        let image = GuestImage {
            arch: spec.arch,
            kernel: boot_kernel,
            initrd,
            append,
            console: console.to_owned(),
            kernel_release: release,
            pvh,
            from_cache: false,
        };
        // The memo only saves time: a cache that cannot hold it still built the guest.
        let _ = write_memo(cache, &memo_key, &image, &inputs);
        Ok(image)
    }

    /// The QEMU arguments that boot this guest: `-kernel`, `-initrd`, `-append`.
    /// The machine, accelerator, memory and console backend are the caller's.
    pub fn qemu_args(&self) -> Vec<OsString> {
        vec![
            "-kernel".into(),
            self.kernel.clone().into_os_string(),
            "-initrd".into(),
            self.initrd.clone().into_os_string(),
            "-append".into(),
            self.append.clone().into(),
        ]
    }
}

/// Adds a binary and returns the host files it took (itself and its libraries).
fn add_binary(fs: &mut Initramfs, host: &Path, guest: &str) -> Result<Vec<PathBuf>, GuestError> {
    let libs = fs.add_binary(host, guest)?;
    let mut files = vec![host.to_owned()];
    files.extend(libs.iter().map(|l| PathBuf::from(format!("/{l}"))));
    Ok(files)
}

/// The kernel QEMU boots: on x86_64 (when asked), the ELF `vmlinux` out of
/// the bzImage if it has a PVH entry, cached by content; else the image as shipped.
fn prepare_kernel(
    spec: &GuestSpec,
    image: &Path,
    cache: &GuestCache,
) -> Result<(PathBuf, bool), GuestError> {
    if spec.arch != Arch::X86_64 || !spec.prefer_pvh {
        return Ok((image.to_owned(), false));
    }
    let mut data = Vec::new();
    std::fs::File::open(image)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(io_err("read", image))?;
    if !crate::bzimage::is_bzimage(&data) {
        // Already an ELF vmlinux, perhaps.
        return Ok((image.to_owned(), crate::bzimage::has_pvh_note(&data)));
    }
    let mut h = Sha256::new();
    h.update(BUILDER_VERSION.as_bytes());
    h.update(&data);
    let name = format!("vmlinux-{}", &hex(&h.finalize())[..32]);
    let cached = cache.path(&name);
    if cached.is_file() {
        return Ok((cached, true));
    }
    let vmlinux = match crate::bzimage::extract_vmlinux(&data) {
        Ok(v) if crate::bzimage::has_pvh_note(&v) => v,
        // No PVH entry, or a payload we cannot unpack: the bzImage boots too, only slower.
        _ => return Ok((image.to_owned(), false)),
    };
    drop(data);
    let path = cache.write_atomic(&name, |out| out.write_all(&vmlinux))?;
    Ok((path, true))
}

fn memo_key(spec: &GuestSpec, kernel: &Path) -> String {
    let mut h = Sha256::new();
    h.update(kernel.as_os_str().as_encoded_bytes());
    h.update(BUILDER_VERSION.as_bytes());
    h.update(InitScript::default().render().as_bytes());
    h.update(format!("{spec:?}").as_bytes());
    hex(&h.finalize())[..32].to_owned()
}

const MEMO_MAGIC: &str = "kennel-guest memo 1";

fn write_memo(
    cache: &GuestCache,
    key: &str,
    image: &GuestImage,
    inputs: &BTreeSet<PathBuf>,
) -> Result<(), GuestError> {
    let mut text = format!("{MEMO_MAGIC}\n");
    let fields = [
        ("kernel", image.kernel.to_string_lossy().into_owned()),
        ("initrd", image.initrd.to_string_lossy().into_owned()),
        ("append", image.append.clone()),
        ("console", image.console.clone()),
        ("release", image.kernel_release.clone()),
        ("pvh", image.pvh.to_string()),
    ];
    for (k, v) in fields {
        text.push_str(&format!("{k} {v}\n"));
    }
    let mut all = inputs.clone();
    all.extend([image.kernel.clone(), image.initrd.clone()]);
    for input in &all {
        let name = input.to_string_lossy();
        let Some(st) = stamp(input) else {
            return Ok(());
        };
        if name.contains('\n') {
            return Ok(());
        }
        text.push_str(&format!("input {st} {name}\n"));
    }
    cache.write_atomic(&format!("memo-{key}"), |out| out.write_all(text.as_bytes()))?;
    Ok(())
}

fn read_memo(cache: &GuestCache, key: &str, arch: Arch) -> Option<GuestImage> {
    let text = std::fs::read_to_string(cache.path(&format!("memo-{key}"))).ok()?;
    let mut lines = text.lines();
    if lines.next()? != MEMO_MAGIC {
        return None;
    }
    let mut image = GuestImage {
        arch,
        kernel: PathBuf::new(),
        initrd: PathBuf::new(),
        append: String::new(),
        console: String::new(),
        kernel_release: String::new(),
        pvh: false,
        from_cache: true,
    };
    for line in lines {
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        match k {
            "kernel" => image.kernel = v.into(),
            "initrd" => image.initrd = v.into(),
            "append" => image.append = v.to_owned(),
            "console" => image.console = v.to_owned(),
            "release" => image.kernel_release = v.to_owned(),
            "pvh" => image.pvh = v == "true",
            "input" => {
                let (st, path) = v.split_once(' ')?;
                if stamp(Path::new(path)).as_deref() != Some(st) {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some(image)
}
