//! `uncompress` and `extract`, on fixtures built here with the same crates.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use kennel_assets::{no_progress, AssetError, FetchPolicy};
use kennel_spec::AssetSpec;

use crate::{cache_in, path_asset, payload, sha256_hash};

fn xz(data: &[u8]) -> Vec<u8> {
    let mut encoder = xz2::write::XzEncoder::new(Vec::new(), 6);
    encoder.write_all(data).expect("xz");
    encoder.finish().expect("xz")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("zstd")
}

fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    encoder.write_all(data).expect("bzip2");
    encoder.finish().expect("bzip2")
}

/// A tar of `(path, content)` files, names written exactly as given (dpkg
/// writes `./boot/...`), plus `(path, target)` symbolic links.
fn tar(files: &[(&str, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, *content).expect("tar file");
    }
    for (path, target) in links {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_size(0);
        header.set_mode(0o777);
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_link_name(target).expect("link name");
        header.set_cksum();
        builder.append(&header, std::io::empty()).expect("tar link");
    }
    builder.into_inner().expect("tar")
}

/// A cpio archive in the newc format, padded to 512-byte blocks as
/// `cpio -H newc` writes it. (The writer is the guest's, which
/// crates/guest/tests/initramfs.rs checks against the host's `cpio -i`.)
fn cpio(files: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut w = kennel_assets::cpio::Writer::new(Vec::new());
    for (name, mode, data) in files {
        w.entry(name, *mode, 1, data).expect("cpio entry");
    }
    let mut out = w.finish().expect("cpio trailer");
    out.resize(out.len().next_multiple_of(512), 0);
    out
}

/// A Debian package: `debian-binary`, `control.tar.gz`, `data.tar.xz`.
fn deb(data_tar: &[u8]) -> Vec<u8> {
    let control = gzip(&tar(&[("./control", b"Package: linux-image-test\n")], &[]));
    let data = xz(data_tar);
    let mut builder = ar::Builder::new(Vec::new());
    for (name, content) in [
        ("debian-binary", &b"2.0\n"[..]),
        ("control.tar.gz", &control[..]),
        ("data.tar.xz", &data[..]),
    ] {
        let header = ar::Header::new(name.as_bytes().to_vec(), content.len() as u64);
        builder.append(&header, content).expect("ar member");
    }
    builder.into_inner().expect("ar")
}

struct Fixture {
    tests: tempfile::TempDir,
    cache: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            tests: tempfile::tempdir().expect("tempdir"),
            cache: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A local asset holding `bytes` (file name without extension: formats
    /// are recognized by content).
    fn asset(&self, bytes: &[u8], uncompress: bool, extract: Option<&str>) -> AssetSpec {
        fs::write(self.tests.path().join("blob"), bytes).expect("write fixture");
        AssetSpec {
            uncompress,
            extract: extract.map(str::to_owned),
            ..path_asset("blob", "blob", sha256_hash(bytes))
        }
    }

    fn resolve(&self, asset: &AssetSpec) -> Result<PathBuf, AssetError> {
        self.resolve_with(asset, &FetchPolicy::default())
    }

    fn resolve_with(&self, asset: &AssetSpec, policy: &FetchPolicy) -> Result<PathBuf, AssetError> {
        cache_in(self.cache.path()).resolve(asset, self.tests.path(), policy, &mut no_progress)
    }
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).expect("read result")
}

fn uncompressed(compressed: &[u8]) -> Vec<u8> {
    let fixture = Fixture::new();
    let path = fixture
        .resolve(&fixture.asset(compressed, true, None))
        .expect("uncompress");
    read(&path)
}

#[test]
fn uncompress_recognizes_xz_by_its_magic_bytes() {
    let data = payload(200_000);
    assert_eq!(uncompressed(&xz(&data)), data);
}

#[test]
fn uncompress_recognizes_gzip_by_its_magic_bytes() {
    let data = payload(200_000);
    assert_eq!(uncompressed(&gzip(&data)), data);
}

#[test]
fn uncompress_recognizes_zstd_by_its_magic_bytes() {
    let data = payload(200_000);
    assert_eq!(uncompressed(&zstd(&data)), data);
}

#[test]
fn uncompress_recognizes_bzip2_by_its_magic_bytes() {
    let data = payload(200_000);
    assert_eq!(uncompressed(&bzip2(&data)), data);
}

#[test]
fn uncompress_of_data_in_no_known_format_is_an_error() {
    let fixture = Fixture::new();

    let error = fixture
        .resolve(&fixture.asset(b"plain text", true, None))
        .expect_err("not compressed");

    assert_eq!(
        error.to_string(),
        "asset `blob`: cannot uncompress: not xz, gzip, zstd or bzip2 data (it starts with 706c61696e20)"
    );
    assert_eq!(
        crate::content_files(fixture.cache.path()).len(),
        1,
        "only the source"
    );
}

#[test]
fn extract_from_a_tar_gz_matches_members_with_or_without_a_leading_dot() {
    let fixture = Fixture::new();
    let archive = gzip(&tar(
        &[("./boot/vmlinuz", b"kernel"), ("etc/motd", b"hello")],
        &[],
    ));

    let kernel = fixture
        .resolve(&fixture.asset(&archive, false, Some("boot/vmlinuz")))
        .expect("kernel");
    let motd = fixture
        .resolve(&fixture.asset(&archive, false, Some("./etc/motd")))
        .expect("motd");

    assert_eq!(read(&kernel), b"kernel");
    assert_eq!(read(&motd), b"hello");
}

#[test]
fn extract_follows_a_symbolic_link_in_the_archive() {
    let fixture = Fixture::new();
    let archive = tar(
        &[("./boot/vmlinuz-6.1.0-18-amd64", b"kernel")],
        &[("./vmlinuz", "boot/vmlinuz-6.1.0-18-amd64")],
    );

    let path = fixture
        .resolve(&fixture.asset(&archive, false, Some("vmlinuz")))
        .expect("extract");

    assert_eq!(read(&path), b"kernel");
}

#[test]
fn extract_from_a_newc_cpio() {
    let fixture = Fixture::new();
    let archive = cpio(&[
        ("bin", 0o040_755, b""),
        ("bin/busybox", 0o100_755, b"odd-size!"),
    ]);

    let path = fixture
        .resolve(&fixture.asset(&archive, false, Some("/bin/busybox")))
        .expect("extract");

    assert_eq!(read(&path), b"odd-size!");
}

#[test]
fn extract_searches_concatenated_cpio_archives_like_an_initramfs() {
    let fixture = Fixture::new();
    let mut archive = cpio(&[("kernel/x86/microcode/GenuineIntel.bin", 0o100_644, b"ucode")]);
    archive.extend(zstd(&cpio(&[("init", 0o100_755, b"#!/bin/sh\n")])));

    let path = fixture
        .resolve(&fixture.asset(&archive, false, Some("init")))
        .expect("extract");

    assert_eq!(read(&path), b"#!/bin/sh\n");
}

#[test]
fn extract_from_a_debian_package_looks_in_its_data_archive() {
    let fixture = Fixture::new();
    let kernel = payload(100_000);
    let package = deb(&tar(&[("./boot/vmlinuz-6.1.0-18-amd64", &kernel)], &[]));

    let path = fixture
        .resolve(&fixture.asset(&package, false, Some("boot/vmlinuz-6.1.0-18-amd64")))
        .expect("extract");

    assert_eq!(read(&path), kernel);
}

#[test]
fn extract_then_uncompress_decompresses_the_member() {
    let fixture = Fixture::new();
    let image = payload(50_000);
    let archive = tar(&[("disk.img.xz", &xz(&image))], &[]);

    let path = fixture
        .resolve(&fixture.asset(&archive, true, Some("disk.img.xz")))
        .expect("extract");

    assert_eq!(read(&path), image);
}

#[test]
fn a_missing_member_is_named() {
    let fixture = Fixture::new();
    let archive = tar(&[("./a", b"a")], &[]);

    let error = fixture
        .resolve(&fixture.asset(&archive, false, Some("./b")))
        .expect_err("missing");

    assert_eq!(
        error.to_string(),
        "asset `blob`: the archive has no member `b`"
    );
}

#[test]
fn extract_from_something_that_is_no_archive_is_an_error() {
    let fixture = Fixture::new();

    let error = fixture
        .resolve(&fixture.asset(&gzip(b"just text"), false, Some("x")))
        .expect_err("no archive");

    assert!(
        matches!(error, AssetError::UnknownArchive { .. }),
        "{error:?}"
    );
}

#[test]
fn a_derived_file_is_served_from_the_cache_even_without_its_source() {
    let fixture = Fixture::new();
    let data = payload(10_000);
    let asset = fixture.asset(&gzip(&data), true, None);
    let first = fixture.resolve(&asset).expect("first");
    fs::remove_file(fixture.tests.path().join("blob")).expect("remove the local source");
    for file in crate::content_files(fixture.cache.path()) {
        if file.starts_with("assets/sha256") {
            fs::remove_file(fixture.cache.path().join(file)).expect("remove the cached source");
        }
    }
    let offline = FetchPolicy {
        offline: true,
        ..FetchPolicy::default()
    };

    let second = fixture.resolve_with(&asset, &offline).expect("second");

    assert_eq!(second, first);
    assert_eq!(read(&second), data);
}

#[test]
fn a_corrupted_derived_file_is_made_again() {
    let fixture = Fixture::new();
    let data = payload(10_000);
    let asset = fixture.asset(&gzip(&data), true, None);
    let path = fixture.resolve(&asset).expect("first");
    fs::write(&path, b"garbage").expect("corrupt");

    let again = fixture.resolve(&asset).expect("second");

    assert_eq!(again, path);
    assert_eq!(read(&again), data);
}
