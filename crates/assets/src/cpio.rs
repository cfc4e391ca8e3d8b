//! The cpio "newc" format (`070701`, and `070702` with checksums when
//! reading), as `cpio -H newc` and the Linux initramfs tools write it: the one
//! reader and writer kennel has. The guest's initramfs is written with
//! [`Writer`]; `extract` from a cpio archive reads with [`Reader`].
//!
//! Each entry is a 110-byte ASCII header (13 fields of 8 hex digits after the
//! magic), the NUL-terminated name, padding to 4 bytes, the data, padding to
//! 4 bytes. An entry named [`TRAILER`] ends the archive.

use std::io::{self, Read, Write};

/// The name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";

/// The longest entry name read, its NUL included: Linux's `PATH_MAX`. A
/// header's name size is read from the archive, up to 4 GiB.
pub const MAX_NAME: usize = 4096;
/// File type bits of a mode.
pub const S_IFMT: u32 = 0o170_000;
/// A directory.
pub const S_IFDIR: u32 = 0o040_000;
/// A regular file.
pub const S_IFREG: u32 = 0o100_000;
/// A symbolic link (its data is the target).
pub const S_IFLNK: u32 = 0o120_000;

const HEADER_LEN: usize = 110;

fn pad4(n: u64) -> u64 {
    (4 - n % 4) % 4
}

/// Writes a newc archive: entries in the order given, inode numbers counting
/// up from 1, owner root, every mtime 0, so that equal input gives equal
/// bytes.
///
/// # Examples
///
/// ```
/// use kennel_assets::cpio::{Reader, Writer, S_IFREG};
/// let mut w = Writer::new(Vec::new());
/// w.entry("init", S_IFREG | 0o755, 1, b"#!/bin/sh\n")?;
/// let bytes = w.finish()?;
///
/// let mut r = Reader::new(&bytes[..]);
/// let entry = r.next_entry()?.expect("an entry");
/// assert_eq!((entry.name.as_str(), entry.size), ("init", 10));
/// assert!(r.next_entry()?.is_none());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: W,
    offset: u64,
    next_ino: u32,
}

impl<W: Write> Writer<W> {
    /// A writer of an archive into `out`.
    pub fn new(out: W) -> Writer<W> {
        Writer {
            out,
            offset: 0,
            next_ino: 1,
        }
    }

    /// Writes an entry: `mode` with its type bits ([`S_IFREG`], [`S_IFDIR`],
    /// [`S_IFLNK`]), `nlink` links, `data` (a link's target for a symlink).
    pub fn entry(&mut self, name: &str, mode: u32, nlink: u32, data: &[u8]) -> io::Result<()> {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.record(ino, mode, nlink, name, data)
    }

    /// Writes the trailer and gives `out` back.
    pub fn finish(mut self) -> io::Result<W> {
        self.record(0, 0, 1, TRAILER, &[])?;
        Ok(self.out)
    }

    fn record(
        &mut self,
        ino: u32,
        mode: u32,
        nlink: u32,
        name: &str,
        data: &[u8],
    ) -> io::Result<()> {
        let size = u32::try_from(data.len())
            .map_err(|_| io::Error::other(format!("{name}: too large for cpio")))?;
        let namesize = u32::try_from(name.len() + 1)
            .map_err(|_| io::Error::other("name too long for cpio"))?;
        // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
        // devminor, rdevmajor, rdevminor, namesize, check
        let header = format!(
            "070701{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{size:08x}{:08x}{:08x}{:08x}{:08x}{namesize:08x}{:08x}",
            0, 0, 0, 0, 0, 0, 0, 0
        );
        self.padded(header.as_bytes(), false)?;
        self.padded(name.as_bytes(), false)?;
        self.padded(&[0], true)?;
        self.padded(data, true)
    }

    /// Writes `bytes`, then zeros up to a multiple of 4 when `align`.
    fn padded(&mut self, bytes: &[u8], align: bool) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        if align {
            let pad = pad4(self.offset);
            self.out.write_all(&[0u8; 3][..pad as usize])?;
            self.offset += pad;
        }
        Ok(())
    }
}

/// One entry's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path as stored (often without a leading `/`, sometimes with `./`).
    pub name: String,
    /// Type and permission bits.
    pub mode: u32,
    /// The data's length in bytes.
    pub size: u64,
}

impl Entry {
    /// The type bits of the mode ([`S_IFREG`], [`S_IFDIR`], [`S_IFLNK`], ...).
    pub fn kind(&self) -> u32 {
        self.mode & S_IFMT
    }
}

/// Reads a newc archive entry by entry. After the trailer, [`Reader::into_inner`]
/// gives back the input just past it (an initramfs may concatenate archives).
#[derive(Debug)]
pub struct Reader<R: Read> {
    inner: R,
    /// Data of the current entry not read yet.
    remaining: u64,
    /// Padding after the current entry's data.
    pad: u64,
}

impl<R: Read> Reader<R> {
    /// A reader of the archive at the start of `inner`.
    pub fn new(inner: R) -> Reader<R> {
        Reader {
            inner,
            remaining: 0,
            pad: 0,
        }
    }

    /// The next entry's header, skipping what is left of the current one;
    /// `None` at the trailer. A bad magic or header field is
    /// [`io::ErrorKind::InvalidData`], a short archive
    /// [`io::ErrorKind::UnexpectedEof`].
    pub fn next_entry(&mut self) -> io::Result<Option<Entry>> {
        skip(&mut self.inner, self.remaining + self.pad)?;
        self.remaining = 0;
        self.pad = 0;
        let mut header = [0u8; HEADER_LEN];
        self.inner.read_exact(&mut header)?;
        if !(header.starts_with(b"070701") || header.starts_with(b"070702")) {
            return Err(invalid("bad cpio header magic"));
        }
        let field = |i: usize| -> io::Result<u32> {
            let text = std::str::from_utf8(&header[6 + 8 * i..14 + 8 * i])
                .map_err(|_| invalid("bad cpio header field"))?;
            u32::from_str_radix(text, 16).map_err(|_| invalid("bad cpio header field"))
        };
        let mode = field(1)?;
        let size = u64::from(field(6)?);
        let name_size = field(11)? as usize;
        if name_size > MAX_NAME {
            return Err(invalid("cpio entry name longer than PATH_MAX"));
        }
        let mut name = vec![0; name_size];
        self.inner.read_exact(&mut name)?;
        skip(&mut self.inner, pad4((HEADER_LEN + name_size) as u64))?;
        let name = String::from_utf8_lossy(name.strip_suffix(b"\0").unwrap_or(&name)).into_owned();
        if name == TRAILER {
            return Ok(None);
        }
        self.remaining = size;
        self.pad = pad4(size);
        Ok(Some(Entry { name, mode, size }))
    }

    /// The current entry's data (what is not read of it is skipped by the
    /// next [`Reader::next_entry`]).
    pub fn data(&mut self) -> EntryData<'_, R> {
        EntryData { reader: self }
    }

    /// The input, positioned after the trailer (and its name's padding).
    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// The data of the current entry of a [`Reader`].
#[derive(Debug)]
pub struct EntryData<'a, R: Read> {
    reader: &'a mut Reader<R>,
}

impl<R: Read> Read for EntryData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = usize::try_from(self.reader.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        let n = self.reader.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(truncated());
        }
        self.reader.remaining -= n as u64;
        Ok(n)
    }
}

fn skip(r: &mut impl Read, n: u64) -> io::Result<()> {
    let skipped = io::copy(&mut r.take(n), &mut io::sink())?;
    if skipped == n {
        Ok(())
    } else {
        Err(truncated())
    }
}

fn truncated() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "truncated cpio archive")
}

fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad4_rounds_up_to_four() {
        assert_eq!(
            [pad4(0), pad4(1), pad4(2), pad4(3), pad4(4)],
            [0, 3, 2, 1, 0]
        );
    }

    #[test]
    fn every_record_is_four_byte_aligned() {
        let mut w = Writer::new(Vec::new());
        w.entry("x", S_IFREG | 0o644, 1, &[7; 5]).expect("entry");
        let bytes = w.finish().expect("finish");
        // header 110 + "x\0" (2) = 112; data 5 + pad 3 = 8; trailer 110 + 11 = 121 + pad 3
        assert_eq!(bytes.len(), 112 + 8 + 124);
        assert_eq!(&bytes[112..117], &[7; 5]);
    }

    #[test]
    fn what_is_written_reads_back_with_unread_data_skipped() {
        let mut w = Writer::new(Vec::new());
        w.entry("bin", S_IFDIR | 0o755, 2, &[]).expect("dir");
        w.entry("bin/sh", S_IFLNK | 0o777, 1, b"busybox")
            .expect("link");
        w.entry("init", S_IFREG | 0o755, 1, b"#!/bin/sh\n")
            .expect("file");
        let bytes = w.finish().expect("finish");

        let mut r = Reader::new(&bytes[..]);
        let mut seen = Vec::new();
        while let Some(e) = r.next_entry().expect("entry") {
            let mut data = Vec::new();
            if e.kind() == S_IFREG {
                r.data().read_to_end(&mut data).expect("data");
            }
            let kind = e.kind();
            seen.push((e.name, kind, e.size, data));
        }

        assert_eq!(
            seen,
            [
                ("bin".to_string(), S_IFDIR, 0, vec![]),
                ("bin/sh".to_string(), S_IFLNK, 7, vec![]),
                ("init".to_string(), S_IFREG, 10, b"#!/bin/sh\n".to_vec()),
            ]
        );
        assert!(r.into_inner().is_empty());
    }

    #[test]
    fn a_cut_archive_is_an_unexpected_end() {
        let mut w = Writer::new(Vec::new());
        w.entry("f", S_IFREG | 0o644, 1, &[1; 64]).expect("entry");
        let bytes = w.finish().expect("finish");

        let mut r = Reader::new(&bytes[..140]);
        let e = r.next_entry().expect("header").expect("entry");
        let err = std::io::copy(&mut r.data(), &mut std::io::sink()).expect_err("cut");

        assert_eq!(e.size, 64);
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
