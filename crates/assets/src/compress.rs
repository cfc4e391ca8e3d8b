//! Compressed streams, recognized by their magic bytes.

use std::io::{self, BufReader, Read};

/// A compression format `uncompress` (and `extract`, for compressed archives) recognizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// xz (`FD 37 7A 58 5A 00`).
    Xz,
    /// gzip (`1F 8B`).
    Gzip,
    /// Zstandard (`28 B5 2F FD`).
    Zstd,
    /// bzip2 (`BZh`).
    Bzip2,
}

impl Compression {
    /// The format whose magic `head` starts with.
    ///
    /// # Examples
    ///
    /// ```
    /// use kennel_assets::Compression;
    ///
    /// assert_eq!(Compression::detect(b"\x1f\x8b\x08\0"), Some(Compression::Gzip));
    /// assert_eq!(Compression::detect(b"BZh91AY"), Some(Compression::Bzip2));
    /// assert_eq!(Compression::detect(b"ustar"), None);
    /// ```
    pub fn detect(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else if head.starts_with(&[0x1F, 0x8B]) {
            Some(Compression::Gzip)
        } else if head.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
            Some(Compression::Zstd)
        } else if head.starts_with(b"BZh") && head.get(3).is_some_and(|d| (b'1'..=b'9').contains(d))
        {
            Some(Compression::Bzip2)
        } else {
            None
        }
    }
}

/// Up to `n` leading bytes of a reader, without consuming them.
pub(crate) struct Peeked<R> {
    pub(crate) head: Vec<u8>,
    inner: R,
}

impl<R: Read> Peeked<R> {
    pub(crate) fn new(mut inner: R, n: usize) -> io::Result<Self> {
        let mut head = Vec::with_capacity(n);
        (&mut inner).take(n as u64).read_to_end(&mut head)?;
        Ok(Peeked { head, inner })
    }

    /// The whole stream again, head included.
    pub(crate) fn into_reader(self) -> io::Chain<io::Cursor<Vec<u8>>, R> {
        io::Cursor::new(self.head).chain(self.inner)
    }
}

/// A reader yielding the decompressed stream when `reader` is compressed in a
/// known format (multi-stream/multi-member files included), and the format;
/// else `reader` as it is and `None`.
pub(crate) fn decoder<'a>(
    reader: impl Read + 'a,
) -> io::Result<(Box<dyn Read + 'a>, Option<Compression>)> {
    let peeked = Peeked::new(reader, 6)?;
    let format = Compression::detect(&peeked.head);
    let buffered = BufReader::with_capacity(64 * 1024, peeked.into_reader());
    let out: Box<dyn Read + 'a> = match format {
        None => Box::new(buffered),
        Some(Compression::Xz) => Box::new(xz2::bufread::XzDecoder::new_multi_decoder(buffered)),
        Some(Compression::Gzip) => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Some(Compression::Zstd) => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
        Some(Compression::Bzip2) => Box::new(bzip2::bufread::MultiBzDecoder::new(buffered)),
    };
    Ok((out, format))
}
