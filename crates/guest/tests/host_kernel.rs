//! Against this machine's kernel and modules: module dependencies, the
//! vmlinux inside the bzImage, Debian package extraction, and the cache.

mod common;

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use kennel_guest::{
    extract_deb, extract_vmlinux, has_pvh_note, Arch, Compression, GuestCache, GuestError,
    GuestImage, GuestSpec, KernelSource, ModuleIndex,
};

#[test]
fn virtio_console_brings_virtio_and_virtio_ring_first() -> anyhow::Result<()> {
    let Some((_, modules)) = common::host_kernel() else {
        return Ok(());
    };
    let plan = ModuleIndex::load(&modules)?.resolve(&["virtio_console"])?;
    let names: Vec<&str> = plan.load.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["virtio_ring", "virtio", "virtio_console"]);
    Ok(())
}

#[test]
fn the_runners_modules_resolve_with_each_dependency_once() -> anyhow::Result<()> {
    let Some((_, modules)) = common::host_kernel() else {
        return Ok(());
    };
    let wanted = [
        "virtio_pci",
        "virtio_console",
        "virtio_blk",
        "virtio_net",
        "virtio-rng",
    ];
    let plan = ModuleIndex::load(&modules)?.resolve(&wanted)?;
    let names: Vec<&str> = plan.load.iter().map(|m| m.name.as_str()).collect();
    let position = |n: &str| names.iter().position(|x| *x == n);
    assert_eq!(
        names.iter().filter(|n| **n == "virtio").count(),
        1,
        "{names:?}"
    );
    assert!(
        position("virtio_ring") < position("virtio") && position("virtio") < position("virtio_pci"),
        "{names:?}"
    );
    assert!(
        position("virtio_rng").is_some() && position("net_failover") < position("virtio_net"),
        "{names:?}"
    );
    Ok(())
}

#[test]
fn a_module_that_does_not_exist_is_an_error_naming_it() -> anyhow::Result<()> {
    let Some((_, modules)) = common::host_kernel() else {
        return Ok(());
    };
    let err = ModuleIndex::load(&modules)?
        .resolve(&["virtio_console", "no_such_module"])
        .expect_err("missing");
    assert!(
        matches!(&err, GuestError::ModulesNotFound { names, .. } if names == &["no_such_module"]),
        "{err}"
    );
    Ok(())
}

#[test]
fn the_host_bzimage_holds_an_elf_vmlinux_with_a_pvh_entry() -> anyhow::Result<()> {
    let Some((kernel, _)) = common::host_kernel() else {
        return Ok(());
    };
    let started = Instant::now();
    let vmlinux = extract_vmlinux(&std::fs::read(&kernel)?).map_err(anyhow::Error::msg)?;
    eprintln!(
        "extracted {} MB from {} in {:?}",
        vmlinux.len() >> 20,
        kernel.display(),
        started.elapsed()
    );
    assert!(vmlinux.starts_with(b"\x7fELF\x02\x01"));
    assert!(has_pvh_note(&vmlinux));
    Ok(())
}

#[test]
fn an_unchanged_spec_is_reused_from_the_cache_without_rebuilding() -> anyhow::Result<()> {
    let Some((kernel, _)) = common::host_kernel() else {
        return Ok(());
    };
    let root = tempfile::tempdir()?;
    let cache = GuestCache::new(root.path());
    let mut spec = GuestSpec::new(Arch::X86_64, KernelSource::Path(kernel), "/bin/busybox");
    spec.modules = vec!["virtio_console".into()];
    spec.extra_binaries = vec!["/bin/ls".into()];
    let started = Instant::now();
    let first = GuestImage::build_in(&spec, &cache)?;
    let cold = started.elapsed();
    let built_at = std::fs::metadata(&first.initrd)?.modified()?;
    let started = Instant::now();
    let second = GuestImage::build_in(&spec, &cache)?;
    let warm = started.elapsed();
    eprintln!("guest image: built in {cold:?}, reused in {warm:?}");
    assert!(first.pvh && !first.from_cache && second.from_cache);
    assert_eq!(
        (&first.kernel, &first.initrd, &first.append),
        (&second.kernel, &second.initrd, &second.append)
    );
    // Reused, not rebuilt: the initramfs on disk is the one the first build
    // wrote. (How fast reuse is belongs in bench/, not in a pass/fail check on
    // a shared machine.)
    assert_eq!(std::fs::metadata(&second.initrd)?.modified()?, built_at);
    Ok(())
}

#[test]
fn a_changed_input_builds_a_new_initramfs() -> anyhow::Result<()> {
    let Some((kernel, _)) = common::host_kernel() else {
        return Ok(());
    };
    let root = tempfile::tempdir()?;
    let cache = GuestCache::new(root.path());
    let extra = root.path().join("tool");
    std::fs::copy("/bin/true", &extra)?;
    let mut spec = GuestSpec::new(Arch::X86_64, KernelSource::Path(kernel), "/bin/busybox");
    spec.prefer_pvh = false;
    spec.extra_binaries = vec![extra.clone()];
    let first = GuestImage::build_in(&spec, &cache)?;
    std::fs::copy("/bin/false", &extra)?;
    let second = GuestImage::build_in(&spec, &cache)?;
    assert!(!second.from_cache);
    assert_ne!(first.initrd, second.initrd);
    Ok(())
}

#[test]
fn a_binary_for_another_architecture_is_refused() -> anyhow::Result<()> {
    let spec = GuestSpec::new(
        Arch::Aarch64,
        KernelSource::Path("/nonexistent".into()),
        "/bin/busybox",
    );
    let root = tempfile::tempdir()?;
    let err = GuestImage::build_in(&spec, &GuestCache::new(root.path())).expect_err("wrong arch");
    assert!(
        matches!(
            err,
            GuestError::Io { .. } | GuestError::WrongArchitecture { .. }
        ),
        "{err}"
    );
    let spec = GuestSpec {
        kernel: KernelSource::Path("/bin/busybox".into()),
        ..spec
    };
    let err = GuestImage::build_in(&spec, &GuestCache::new(root.path())).expect_err("wrong arch");
    assert_eq!(
        err.to_string(),
        "/bin/busybox is built for x86_64, not for the aarch64 guest"
    );
    Ok(())
}

/// Builds a small Debian package file: an ar archive with a data.tar.xz.
fn fake_deb(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, content) in [
        ("./boot/vmlinuz-9.9.9-test", &b"kernel"[..]),
        ("./lib/modules/9.9.9-test/modules.dep", b""),
        ("./usr/share/doc/x", b"doc"),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, content)?;
    }
    let mut xz = xz2::write::XzEncoder::new(Vec::new(), 1);
    xz.write_all(&tar.into_inner()?)?;
    let data = xz.finish()?;
    let deb = dir.join("linux-image-test.deb");
    let mut ar = ar::Builder::new(std::fs::File::create(&deb)?);
    ar.append(
        &ar::Header::new(b"debian-binary".to_vec(), 4),
        &b"2.0\n"[..],
    )?;
    ar.append(
        &ar::Header::new(b"data.tar.xz".to_vec(), data.len() as u64),
        &data[..],
    )?;
    Ok(deb)
}

#[test]
fn a_deb_gives_up_only_the_asked_subtrees() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let deb = fake_deb(dir.path())?;
    let out = dir.path().join("out");
    let mut files = extract_deb(&deb, &["./boot", "lib/modules"], &out)?;
    files.sort();
    assert_eq!(
        files,
        [
            Path::new("boot/vmlinuz-9.9.9-test"),
            Path::new("lib/modules/9.9.9-test/modules.dep")
        ]
    );
    assert_eq!(
        std::fs::read(out.join("boot/vmlinuz-9.9.9-test"))?,
        b"kernel"
    );
    Ok(())
}

#[test]
fn a_kernel_package_is_located_with_its_release_and_modules() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let deb = fake_deb(dir.path())?;
    let kernel = KernelSource::Deb(deb).locate(&GuestCache::new(dir.path()))?;
    assert_eq!(kernel.release.as_deref(), Some("9.9.9-test"));
    assert!(kernel.image.ends_with("boot/vmlinuz-9.9.9-test"));
    assert!(kernel
        .modules_root
        .is_some_and(|m| m.ends_with("lib/modules/9.9.9-test")));
    Ok(())
}

#[test]
fn the_fetched_aarch64_tree_builds_with_builtin_virtio_skipped() -> anyhow::Result<()> {
    let Some(tree) = common::foreign_tree("aarch64") else {
        return Ok(());
    };
    let mut spec = GuestSpec::from_debian_tree(Arch::Aarch64, &tree);
    spec.modules = vec!["virtio_console".into(), "virtio_pci".into()];
    spec.compression = Compression::Gzip;
    let root = tempfile::tempdir()?;
    let image = GuestImage::build_in(&spec, &GuestCache::new(root.path()))?;
    assert_eq!(image.console, "ttyAMA0");
    assert!(!image.pvh && image.kernel.ends_with("vmlinuz"));
    assert!(image.initrd.to_string_lossy().ends_with(".cpio.gz"));
    Ok(())
}
