//! x86: the ELF `vmlinux` inside a bzImage, for QEMU's PVH boot.
//!
//! A bzImage is a real-mode setup part followed by protected-mode code that
//! decompresses the kernel. The setup header (Documentation/x86/boot.rst)
//! says where the compressed kernel is: `payload_offset` (0x248) and
//! `payload_length` (0x24c), relative to the start of the protected-mode code
//! at `(setup_sects + 1) * 512`. The payload is the ELF `vmlinux`, compressed,
//! followed by its uncompressed size as a little-endian u32.

use std::io::Read;

use crate::error::BzImageError;

/// `XEN_ELFNOTE_PHYS32_ENTRY`: the note that gives a kernel a PVH entry point.
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// Whether `data` starts like a bzImage (`HdrS` at 0x202).
pub fn is_bzimage(data: &[u8]) -> bool {
    data.get(0x202..0x206) == Some(b"HdrS")
}

/// The kernel version string a bzImage carries (`6.1.0-56-amd64 (debian-kernel@...) #1 SMP ...`).
pub fn bzimage_version(data: &[u8]) -> Option<String> {
    if !is_bzimage(data) {
        return None;
    }
    let at = usize::from(u16_at(data, 0x20e)?) + 0x200;
    let rest = data.get(at..)?;
    let end = rest.iter().take(256).position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// Decompresses the ELF `vmlinux` out of a bzImage (gzip, xz or zstd
/// payloads; others are reported by name).
pub fn extract_vmlinux(data: &[u8]) -> Result<Vec<u8>, BzImageError> {
    if !is_bzimage(data) {
        return Err(BzImageError::NotBzImage);
    }
    let version = u16_at(data, 0x206).ok_or(BzImageError::Truncated)?;
    if version < 0x0208 {
        return Err(BzImageError::OldProtocol { version });
    }
    let setup_sects = match data.get(0x1f1) {
        Some(0) => 4,
        Some(&n) => usize::from(n),
        None => return Err(BzImageError::Truncated),
    };
    let offset = u32_at(data, 0x248).ok_or(BzImageError::Truncated)? as usize;
    let length = u32_at(data, 0x24c).ok_or(BzImageError::Truncated)? as usize;
    let start = (setup_sects + 1) * 512 + offset;
    let payload = data
        .get(start..start + length)
        .ok_or(BzImageError::PayloadBeyondEnd)?;
    let (compressed, size) = match payload.len().checked_sub(4) {
        Some(n) => (&payload[..n], u32_at(payload, n).map(|s| s as usize)),
        None => return Err(BzImageError::PayloadTooShort),
    };
    let mut out = Vec::with_capacity(size.unwrap_or(0).min(512 << 20));
    let result = match compressed {
        [0x1f, 0x8b, ..] => flate2::read::GzDecoder::new(compressed).read_to_end(&mut out),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => {
            xz2::read::XzDecoder::new(compressed).read_to_end(&mut out)
        }
        [0x28, 0xb5, 0x2f, 0xfd, ..] => zstd::stream::read::Decoder::new(compressed)
            .and_then(|d| d.single_frame().read_to_end(&mut out)),
        [0x5d, 0, 0, ..] => return Err(BzImageError::Unsupported("lzma")),
        [b'B', b'Z', b'h', ..] => return Err(BzImageError::Unsupported("bzip2")),
        [0x02, 0x21, 0x4c, 0x18, ..] => return Err(BzImageError::Unsupported("lz4")),
        [0x89, b'L', b'Z', b'O', ..] => return Err(BzImageError::Unsupported("lzo")),
        _ => return Err(BzImageError::UnknownCompression),
    };
    result.map_err(BzImageError::Decompress)?;
    if let Some(size) = size {
        if size != out.len() {
            return Err(BzImageError::WrongSize {
                found: out.len(),
                expected: size,
            });
        }
    }
    if !out.starts_with(b"\x7fELF") {
        return Err(BzImageError::NotElf);
    }
    Ok(out)
}

/// Whether the ELF kernel `vmlinux` has a PVH entry point (a `Xen` note of
/// type `XEN_ELFNOTE_PHYS32_ENTRY`), the condition for QEMU to boot it directly.
pub fn has_pvh_note(vmlinux: &[u8]) -> bool {
    crate::elf::notes(vmlinux).is_ok_and(|notes| {
        notes
            .iter()
            .any(|n| n.name == b"Xen" && n.n_type == XEN_ELFNOTE_PHYS32_ENTRY)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bzimage(payload: &[u8], size: u32) -> Vec<u8> {
        let mut data = vec![0u8; 5 * 512];
        data[0x1f1] = 4;
        data[0x202..0x206].copy_from_slice(b"HdrS");
        data[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        data[0x248..0x24c].copy_from_slice(&16u32.to_le_bytes());
        data[0x24c..0x250].copy_from_slice(&(payload.len() as u32 + 4).to_le_bytes());
        data.extend_from_slice(&[0u8; 16]);
        data.extend_from_slice(payload);
        data.extend_from_slice(&size.to_le_bytes());
        data
    }

    #[test]
    fn a_gzip_payload_is_found_through_the_header_and_checked_against_its_size() {
        use std::io::Write;
        let elf = b"\x7fELF and the rest".to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&elf).expect("in memory");
        let payload = gz.finish().expect("in memory");
        assert_eq!(
            extract_vmlinux(&fake_bzimage(&payload, elf.len() as u32)).expect("extracted"),
            elf
        );
        let err = extract_vmlinux(&fake_bzimage(&payload, 3))
            .expect_err("wrong size")
            .to_string();
        assert!(err.contains("the header says 3"), "{err}");
    }

    #[test]
    fn not_a_bzimage_is_refused() {
        assert_eq!(
            extract_vmlinux(&[0u8; 4096])
                .expect_err("refused")
                .to_string(),
            "no HdrS signature at 0x202"
        );
    }
}
