//! The pcap format (libpcap's classic file: a global header, then a record
//! per frame with its time and length), Ethernet frames only: the writer a
//! hub captures with, and a reader for tests and tools.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The classic pcap magic number, microsecond timestamps.
const MAGIC: u32 = 0xa1b2_c3d4;
/// `LINKTYPE_ETHERNET`.
const LINKTYPE_ETHERNET: u32 = 1;
/// The most of a frame a record keeps.
const SNAPLEN: u32 = 65535;

/// Writes frames to a pcap file, each flushed as it comes (the file is
/// complete however the test ends).
pub(crate) struct PcapWriter {
    out: BufWriter<File>,
}

impl PcapWriter {
    /// Create `path` with pcap's global header.
    pub(crate) fn create(path: &Path) -> std::io::Result<PcapWriter> {
        let mut out = BufWriter::new(File::create(path)?);
        let mut header = Vec::with_capacity(24);
        header.extend(MAGIC.to_le_bytes());
        header.extend(2u16.to_le_bytes());
        header.extend(4u16.to_le_bytes());
        header.extend(0i32.to_le_bytes());
        header.extend(0u32.to_le_bytes());
        header.extend(SNAPLEN.to_le_bytes());
        header.extend(LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&header)?;
        out.flush()?;
        Ok(PcapWriter { out })
    }

    /// Write one frame, stamped now.
    pub(crate) fn write(&mut self, frame: &[u8]) -> std::io::Result<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let kept = frame.len().min(SNAPLEN as usize);
        let mut record = Vec::with_capacity(16 + kept);
        record.extend((now.as_secs() as u32).to_le_bytes());
        record.extend(now.subsec_micros().to_le_bytes());
        record.extend((kept as u32).to_le_bytes());
        record.extend((frame.len() as u32).to_le_bytes());
        record.extend(&frame[..kept]);
        self.out.write_all(&record)?;
        self.out.flush()
    }

    /// Flush what is buffered.
    pub(crate) fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A frame read back from a pcap file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapFrame {
    /// When it was captured, microseconds since the epoch.
    pub micros: u64,
    /// The frame's bytes (Ethernet header first).
    pub data: Vec<u8>,
}

/// Why a pcap file does not read.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// It could not be read.
    #[error("reading the capture: {0}")]
    Io(#[from] std::io::Error),
    /// It is not a little-endian Ethernet pcap of kennel's kind.
    #[error("not a pcap file of Ethernet frames: {0}")]
    Format(String),
}

/// Reads every frame of a classic little-endian pcap file.
pub struct PcapReader;

impl PcapReader {
    /// The frames of `path`, in file order.
    pub fn read(path: &Path) -> Result<Vec<PcapFrame>, PcapError> {
        let mut bytes = Vec::new();
        File::open(path)?.read_to_end(&mut bytes)?;
        Self::parse(&bytes)
    }

    /// The frames of a pcap file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Vec<PcapFrame>, PcapError> {
        let word = |at: usize| -> Result<u32, PcapError> {
            bytes
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| PcapError::Format(format!("cut short at byte {at}")))
        };
        if word(0)? != MAGIC {
            return Err(PcapError::Format("bad magic number".into()));
        }
        if word(20)? != LINKTYPE_ETHERNET {
            return Err(PcapError::Format("link type is not Ethernet".into()));
        }
        let mut frames = Vec::new();
        let mut at = 24;
        while at < bytes.len() {
            let micros = u64::from(word(at)?) * 1_000_000 + u64::from(word(at + 4)?);
            let kept = word(at + 8)? as usize;
            let data = bytes
                .get(at + 16..at + 16 + kept)
                .ok_or_else(|| PcapError::Format(format!("record at byte {at} cut short")))?;
            frames.push(PcapFrame {
                micros,
                data: data.to_vec(),
            });
            at += 16 + kept;
        }
        Ok(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_written_read_back_in_order_with_their_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lan.pcap");
        let mut writer = PcapWriter::create(&path).expect("create");
        writer.write(b"first frame").expect("write");
        writer.write(&[0u8; 60]).expect("write");
        drop(writer);

        let frames = PcapReader::read(&path).expect("read");

        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].data, b"first frame");
        assert_eq!(frames[1].data, vec![0u8; 60]);
        assert!(frames[0].micros <= frames[1].micros);
    }

    #[test]
    fn a_file_cut_in_a_record_is_an_error_not_a_short_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lan.pcap");
        PcapWriter::create(&path)
            .and_then(|mut w| w.write(b"0123456789"))
            .expect("write");
        let bytes = std::fs::read(&path).expect("read");

        let cut = PcapReader::parse(&bytes[..bytes.len() - 3]);

        assert!(matches!(cut, Err(PcapError::Format(_))), "{cut:?}");
    }
}
