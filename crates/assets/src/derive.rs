//! Files derived from an asset's content: a member extracted from an
//! archive, the content uncompressed, or both, hashed as they are written.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

use kennel_spec::AssetSpec;

use crate::archive::{self, ExtractError};
use crate::compress::{decoder, Compression, Peeked};
use crate::digest::{Digest, HashAlgo, Hasher};
use crate::error::AssetError;

/// What gets derived from an asset's content: extract first (the archive
/// itself may be compressed: that is handled), then, with `uncompress`,
/// decompress the result (the whole file when nothing is extracted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Operation {
    extract: Option<String>,
    uncompress: bool,
}

impl Operation {
    pub(crate) fn of(spec: &AssetSpec) -> Option<Operation> {
        let extract = spec.extract.as_deref().map(archive::normalize);
        (extract.is_some() || spec.uncompress).then_some(Operation {
            extract,
            uncompress: spec.uncompress,
        })
    }

    /// `extract:boot/vmlinuz`, `uncompress`, or both joined by `,`.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(member) = &self.extract {
            parts.push(format!("extract:{member}"));
        }
        if self.uncompress {
            parts.push("uncompress".to_owned());
        }
        parts.join(",")
    }
}

/// Writes to a file while hashing (SHA-256).
struct HashingWriter {
    file: File,
    hasher: Hasher,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Write `op` applied to the file `content` into `out`; returns the result's digest.
pub(crate) fn derive(
    name: &str,
    content: &Path,
    op: &Operation,
    out: &Path,
) -> Result<Digest, AssetError> {
    let describe = || match &op.extract {
        Some(member) => format!("extract `{member}`"),
        None => "uncompress".to_owned(),
    };
    let file = File::create(out).map_err(AssetError::io("create", out))?;
    let mut writer = HashingWriter {
        file,
        hasher: Hasher::new(HashAlgo::Sha256),
    };
    let mut unknown_magic = None;
    let mut sink = |reader: &mut dyn Read| -> io::Result<()> {
        if op.uncompress {
            let peeked = Peeked::new(reader, 6)?;
            if Compression::detect(&peeked.head).is_none() {
                unknown_magic = Some(kennel_config::text::hex(&peeked.head));
                return Err(io::Error::other("unknown compression"));
            }
            let (mut decoded, _) = decoder(peeked.into_reader())?;
            io::copy(&mut decoded, &mut writer)?;
        } else {
            io::copy(reader, &mut writer)?;
        }
        Ok(())
    };
    let result = match &op.extract {
        Some(member) => archive::extract(content, member, &mut sink),
        None => File::open(content)
            .and_then(|mut f| sink(&mut f))
            .map_err(ExtractError::Io),
    };
    let fail = |error: AssetError| {
        let _ = fs::remove_file(out);
        Err(error)
    };
    if let Some(magic) = unknown_magic {
        return fail(AssetError::UnknownCompression {
            name: name.to_owned(),
            magic,
        });
    }
    match result {
        Ok(()) => {}
        Err(ExtractError::Unknown) => {
            return fail(AssetError::UnknownArchive {
                name: name.to_owned(),
                member: op.extract.clone().unwrap_or_default(),
            })
        }
        Err(ExtractError::NotFound) => {
            return fail(AssetError::MemberNotFound {
                name: name.to_owned(),
                member: op.extract.clone().unwrap_or_default(),
            })
        }
        Err(ExtractError::Io(source)) => {
            return fail(AssetError::Derive {
                name: name.to_owned(),
                operation: describe(),
                source,
            })
        }
    }
    if let Err(e) = writer.file.sync_all() {
        return fail(AssetError::io("write", out)(e));
    }
    Ok(writer.hasher.finish())
}
