//! Fuzz targets for what downloads hand kennel (see the `kennel-fuzz`
//! crate): archives to extract from, compressed or not, and digests.

use std::io::{Read, Write};

use kennel_fuzz::{Rng, Target};

use crate::archive::extract;
use crate::cpio;
use crate::digest::Digest;

#[global_allocator]
static ALLOCATOR: kennel_fuzz::CountingAllocator = kennel_fuzz::CountingAllocator;

/// The most of a member's content the target reads: a small archive may
/// expand to gigabytes, which is the sink's business, not the parser's.
const READ_AT_MOST: u64 = 16 << 20;

const TOKENS: &[&[u8]] = &[
    b"070701",
    b"ffffffff",
    b"TRAILER!!!\0",
    b"ustar\x0000",
    b"!<arch>\n",
    b"data.tar.xz/    ",
    b"\x1f\x8b\x08",
    b"\xfd7zXZ\x00",
    b"\x28\xb5\x2f\xfd",
    b"BZh9",
    b"boot/vmlinuz",
    b"../../",
];

/// A tar or cpio archive built with links, odd names and lying sizes,
/// bent a little, then compressed with one of the formats kennel reads.
fn archive(rng: &mut Rng) -> Vec<u8> {
    let targets = [
        "vmlinuz-6.1",
        "../../boot/vmlinuz",
        "/boot/vmlinuz",
        "vmlinuz",
        "",
        "a/../../../x",
    ];
    let mut raw = if rng.one_in(2) {
        let mut builder = tar::Builder::new(Vec::new());
        for _ in 0..1 + rng.below(4) {
            let mut header = tar::Header::new_gnu();
            let name = *rng.pick(&["boot/vmlinuz", "./boot/vmlinuz", "boot/vmlinuz-6.1", "boot"]);
            let data = vec![b'k'; rng.below(600)];
            header.set_size(data.len() as u64);
            match rng.below(3) {
                0 => header.set_entry_type(tar::EntryType::Regular),
                1 => header.set_entry_type(tar::EntryType::Symlink),
                _ => header.set_entry_type(tar::EntryType::Link),
            }
            let _ = header.set_link_name(*rng.pick(&targets));
            header.set_cksum();
            let _ = builder.append_data(&mut header, name, &data[..]);
        }
        builder.into_inner().unwrap_or_default()
    } else {
        let mut writer = cpio::Writer::new(Vec::new());
        for _ in 0..1 + rng.below(4) {
            let name = *rng.pick(&["boot/vmlinuz", "boot/vmlinuz-6.1", "boot"]);
            let (mode, data) = match rng.below(3) {
                0 => (cpio::S_IFREG | 0o644, vec![b'k'; rng.below(600)]),
                1 => (
                    cpio::S_IFLNK | 0o777,
                    rng.pick(&targets).as_bytes().to_vec(),
                ),
                _ => (0o040_755, Vec::new()),
            };
            let _ = writer.entry(name, mode, 1, &data);
        }
        writer.finish().unwrap_or_default()
    };
    if rng.one_in(2) {
        kennel_fuzz::mutate(rng, &mut raw, TOKENS, &[], 64 * 1024);
    }
    compress(rng.below(5), &raw)
}

fn compress(codec: usize, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let written = match codec {
        0 => return raw.to_vec(),
        1 => flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast()).write_all(raw),
        2 => xz2::write::XzEncoder::new(&mut out, 1).write_all(raw),
        3 => zstd::stream::copy_encode(raw, &mut out, 1),
        _ => bzip2::write::BzEncoder::new(&mut out, bzip2::Compression::fast()).write_all(raw),
    };
    written.map_or_else(|_| raw.to_vec(), |()| out)
}

/// Extracting `boot/vmlinuz` (following links) from any archive ends with
/// its content or an error, holding little memory whatever sizes the
/// headers claim.
#[test]
fn fuzz_archive() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let path = dir.path().join("archive");
    Target::new("archive")
        .dictionary(TOKENS)
        .generator(archive)
        .run(|input| {
            std::fs::write(&path, input).expect("write the archive");
            let mut sink = |r: &mut dyn Read| {
                std::io::copy(&mut r.take(READ_AT_MOST), &mut std::io::sink()).map(drop)
            };
            let _ = extract(&path, "boot/vmlinuz", &mut sink);
        });
}

/// Reading a digest as a test file or a download's record writes it never
/// panics, and what reads prints back the same.
#[test]
fn fuzz_digest() {
    Target::new("digest")
        .dictionary(&[b"sha256:", b"sha512:", b"md5:", b"0123456789abcdef"])
        .run(|input| {
            let text = String::from_utf8_lossy(input);
            if let Ok(digest) = Digest::parse(&text) {
                let again = Digest::parse(&digest.to_string()).expect("a digest's own text reads");
                assert_eq!(again, digest);
            }
        });
}

/// Found by `fuzz_archive`: a cpio header's name size (up to 4 GiB, read
/// from the archive) was allocated before the name was read.
#[test]
fn a_cpio_name_size_past_path_max_is_invalid_data_unallocated() {
    let mut header = b"070701".to_vec();
    for field in 0..13 {
        header.extend_from_slice(if field == 11 {
            b"FFFFFFFF"
        } else {
            b"00000000"
        });
    }
    let mut reader = cpio::Reader::new(&header[..]);
    let e = reader.next_entry().expect_err("a 4 GiB name");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(e.to_string(), "cpio entry name longer than PATH_MAX");
}
