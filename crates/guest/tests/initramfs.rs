//! The initramfs writer and host binaries, checked against the host's cpio.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use kennel_guest::{Compression, Initramfs};

fn sample() -> anyhow::Result<Initramfs> {
    let mut fs = Initramfs::new();
    fs.file("/init", b"#!/bin/sh\n".to_vec(), 0o755)?
        .file("etc/secret", b"s".to_vec(), 0o600)?
        .dir("tmp", 0o1777)?
        .symlink("bin/sh", "busybox")?
        .file("usr/share/deep/file", vec![b'x'; 1001], 0o644)?;
    Ok(fs)
}

#[test]
fn the_archive_unpacks_with_the_host_cpio_keeping_modes_and_symlinks() -> anyhow::Result<()> {
    let dir = common::unpack_with_host_cpio(&sample()?.to_bytes(Compression::None))?;
    let mode = |p: &str| -> anyhow::Result<u32> {
        Ok(std::fs::symlink_metadata(dir.path().join(p))?
            .permissions()
            .mode()
            & 0o7777)
    };
    assert_eq!(mode("init")?, 0o755);
    assert_eq!(mode("etc/secret")?, 0o600);
    assert_eq!(mode("tmp")?, 0o1777);
    assert_eq!(mode("usr/share/deep")?, 0o755);
    assert_eq!(
        std::fs::read_link(dir.path().join("bin/sh"))?,
        Path::new("busybox")
    );
    assert_eq!(
        std::fs::read(dir.path().join("usr/share/deep/file"))?,
        vec![b'x'; 1001]
    );
    assert_eq!(std::fs::read(dir.path().join("init"))?, b"#!/bin/sh\n");
    Ok(())
}

#[test]
fn the_same_content_gives_the_same_bytes_whatever_the_order_of_adding() -> anyhow::Result<()> {
    let mut reversed = Initramfs::new();
    reversed
        .file("usr/share/deep/file", vec![b'x'; 1001], 0o644)?
        .symlink("bin/sh", "busybox")?
        .dir("tmp", 0o1777)?
        .file("etc/secret", b"s".to_vec(), 0o600)?
        .file("init", b"#!/bin/sh\n".to_vec(), 0o755)?;
    let a = sample()?;
    assert_eq!(
        a.to_bytes(Compression::Gzip),
        reversed.to_bytes(Compression::Gzip)
    );
    assert_eq!(a.sha256_hex(), reversed.sha256_hex());
    Ok(())
}

#[test]
fn a_different_mode_gives_a_different_hash() -> anyhow::Result<()> {
    let mut b = sample()?;
    b.file("etc/secret", b"s".to_vec(), 0o644)?;
    assert_ne!(sample()?.sha256_hex(), b.sha256_hex());
    Ok(())
}

#[test]
fn gzip_output_unpacks_to_the_plain_archive() -> anyhow::Result<()> {
    use std::io::Read;
    let fs = sample()?;
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&fs.to_bytes(Compression::Gzip)[..]).read_to_end(&mut plain)?;
    assert_eq!(plain, fs.to_bytes(Compression::None));
    Ok(())
}

#[test]
fn ls_comes_with_libc_and_the_dynamic_loader() -> anyhow::Result<()> {
    let mut fs = Initramfs::new();
    let libs = fs.add_binary(Path::new("/bin/ls"), "/bin/ls")?;
    let names: Vec<&str> = libs
        .iter()
        .map(|l| l.rsplit('/').next().unwrap_or(l))
        .collect();
    assert!(names.contains(&"libc.so.6"), "{libs:?}");
    assert!(names.contains(&"ld-linux-x86-64.so.2"), "{libs:?}");
    assert!(
        fs.contains("lib64/ld-linux-x86-64.so.2"),
        "{:?}",
        fs.paths().collect::<Vec<_>>()
    );
    assert!(fs.contains("lib/x86_64-linux-gnu/libc.so.6"));
    Ok(())
}

#[test]
fn a_loader_reached_under_two_names_is_stored_once() -> anyhow::Result<()> {
    let mut fs = Initramfs::new();
    fs.add_binary(Path::new("/bin/ls"), "/bin/ls")?;
    let dir = common::unpack_with_host_cpio(&fs.to_bytes(Compression::None))?;
    let interp = dir.path().join("lib64/ld-linux-x86-64.so.2");
    let other = dir.path().join("lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    let link_count = [&interp, &other].iter().filter(|p| p.is_symlink()).count();
    assert_eq!(link_count, 1);
    assert_eq!(std::fs::read(&interp)?.len(), std::fs::read(&other)?.len());
    Ok(())
}

#[test]
fn a_static_binary_needs_nothing_more() -> anyhow::Result<()> {
    let mut fs = Initramfs::new();
    assert_eq!(
        fs.add_binary(Path::new("/bin/busybox"), "bin/busybox")?,
        Vec::<String>::new()
    );
    Ok(())
}

#[test]
fn a_non_elf_file_is_refused_by_name() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("script");
    std::fs::write(&script, "#!/bin/sh\n")?;
    let err = Initramfs::new()
        .add_binary(&script, "x")
        .expect_err("not ELF");
    assert_eq!(
        format!("{:#}", anyhow::Error::new(err)),
        format!(
            "{} is not a usable ELF file: no ELF magic",
            script.display()
        )
    );
    Ok(())
}
