//! Extracting one member from a tar, cpio (newc) or Debian archive, each
//! possibly compressed (see [`crate::compress`]).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use crate::compress::{decoder, Peeked};
use crate::cpio;

/// Symbolic links followed before giving up.
const MAX_LINKS: usize = 16;

/// Receives the member's content.
pub(crate) type Sink<'s> = dyn FnMut(&mut dyn Read) -> io::Result<()> + 's;

#[derive(Debug)]
pub(crate) enum ExtractError {
    /// Not an archive format we know.
    Unknown,
    /// No such member.
    NotFound,
    /// Damaged archive, not a regular file, or the sink failed.
    Io(io::Error),
}

impl From<io::Error> for ExtractError {
    fn from(e: io::Error) -> Self {
        ExtractError::Io(e)
    }
}

enum Found {
    Done,
    /// The member is a link to this (normalized) path: look again.
    Link(String),
    Missing,
}

/// Feed the content of `member` of the archive at `path` to `sink`.
/// Members match with or without a leading `./` or `/`; symbolic and hard
/// links are followed.
pub(crate) fn extract(path: &Path, member: &str, sink: &mut Sink<'_>) -> Result<(), ExtractError> {
    let mut want = normalize(member);
    for _ in 0..=MAX_LINKS {
        let file = File::open(path)?;
        match find(Box::new(file), &want, sink)? {
            Found::Done => return Ok(()),
            Found::Missing => return Err(ExtractError::NotFound),
            Found::Link(target) => want = target,
        }
    }
    Err(ExtractError::Io(io::Error::other(
        "too many levels of symbolic links",
    )))
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Ar,
    Cpio,
    Tar,
}

fn kind(head: &[u8]) -> Option<Kind> {
    if head.starts_with(b"!<arch>\n") {
        Some(Kind::Ar)
    } else if head.starts_with(b"070701") || head.starts_with(b"070702") {
        Some(Kind::Cpio)
    } else if head.get(257..262) == Some(b"ustar") || is_v7_tar_header(head) {
        Some(Kind::Tar)
    } else {
        None
    }
}

/// A pre-POSIX tar header has no magic: check its checksum.
fn is_v7_tar_header(head: &[u8]) -> bool {
    let Some(header) = head.get(..512) else {
        return false;
    };
    let field = String::from_utf8_lossy(&header[148..156]);
    let Ok(recorded) = u32::from_str_radix(field.trim_matches(|c| c == ' ' || c == '\0'), 8) else {
        return false;
    };
    let sum: u32 = header
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                u32::from(b' ')
            } else {
                u32::from(b)
            }
        })
        .sum();
    sum == recorded && header[0] != 0
}

fn find(
    reader: Box<dyn Read + '_>,
    want: &str,
    sink: &mut Sink<'_>,
) -> Result<Found, ExtractError> {
    let (decoded, _) = decoder(reader)?;
    let peeked = Peeked::new(decoded, 512)?;
    match kind(&peeked.head) {
        Some(Kind::Ar) => find_in_deb(Box::new(peeked.into_reader()), want, sink),
        Some(Kind::Cpio) => find_in_cpio(Box::new(peeked.into_reader()), want, sink),
        Some(Kind::Tar) => find_in_tar(Box::new(peeked.into_reader()), want, sink),
        None => Err(ExtractError::Unknown),
    }
}

/// A Debian package: the member is looked up in its `data.tar*`.
fn find_in_deb(
    reader: Box<dyn Read + '_>,
    want: &str,
    sink: &mut Sink<'_>,
) -> Result<Found, ExtractError> {
    let mut archive = ar::Archive::new(reader);
    while let Some(entry) = archive.next_entry() {
        let entry = entry?;
        if entry.header().identifier().starts_with(b"data.tar") {
            let (data, _) = decoder(entry)?;
            return find_in_tar(data, want, sink);
        }
    }
    Err(ExtractError::Io(io::Error::new(
        io::ErrorKind::InvalidData,
        "ar archive without a data.tar member",
    )))
}

fn find_in_tar(
    reader: Box<dyn Read + '_>,
    want: &str,
    sink: &mut Sink<'_>,
) -> Result<Found, ExtractError> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = normalize(&entry.path()?.to_string_lossy());
        if path != want {
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse() {
            sink(&mut entry)?;
            return Ok(Found::Done);
        }
        let link = entry.link_name()?.map(|l| l.to_string_lossy().into_owned());
        return match (kind, link) {
            (tar::EntryType::Symlink, Some(target)) => Ok(Found::Link(link_target(want, &target))),
            (tar::EntryType::Link, Some(target)) => Ok(Found::Link(normalize(&target))),
            _ => Err(not_a_file(want)),
        };
    }
    Ok(Found::Missing)
}

/// A cpio archive in the "new ASCII" (newc, `070701`) or "crc" (`070702`)
/// format, as built by `cpio -H newc` and the Linux initramfs tools (read with
/// [`crate::cpio::Reader`]). Concatenated archives (an early microcode cpio
/// followed by a compressed one) are searched in order.
fn find_in_cpio(
    reader: Box<dyn Read + '_>,
    want: &str,
    sink: &mut Sink<'_>,
) -> Result<Found, ExtractError> {
    let mut r = cpio::Reader::new(BufReader::new(reader));
    while let Some(entry) = r.next_entry()? {
        if normalize(&entry.name) != want {
            continue;
        }
        return match entry.kind() {
            cpio::S_IFREG => {
                sink(&mut r.data())?;
                Ok(Found::Done)
            }
            cpio::S_IFLNK => {
                // A link's target is a path: its size comes from the archive.
                let mut target = Vec::new();
                r.data()
                    .take(cpio::MAX_NAME as u64)
                    .read_to_end(&mut target)?;
                Ok(Found::Link(link_target(
                    want,
                    &String::from_utf8_lossy(&target),
                )))
            }
            _ => Err(not_a_file(want)),
        };
    }
    next_cpio(r.into_inner(), want, sink)
}

/// After a trailer: skip the zero padding; whatever follows is another archive.
fn next_cpio(
    mut r: BufReader<Box<dyn Read + '_>>,
    want: &str,
    sink: &mut Sink<'_>,
) -> Result<Found, ExtractError> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(Found::Missing);
        }
        match buf.iter().position(|&b| b != 0) {
            Some(i) => {
                r.consume(i);
                break;
            }
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
    find(Box::new(r), want, sink)
}

fn not_a_file(member: &str) -> ExtractError {
    ExtractError::Io(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("`{member}` is not a regular file"),
    ))
}

/// A member path without `./`, leading `/`, empty components; `..` applied.
///
/// ```text
/// ./boot/vmlinuz  /boot/vmlinuz  boot//vmlinuz  ->  boot/vmlinuz
/// ```
pub(crate) fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// Where a symbolic link at `member` pointing to `target` leads.
fn link_target(member: &str, target: &str) -> String {
    if target.starts_with('/') {
        return normalize(target);
    }
    match member.rsplit_once('/') {
        Some((dir, _)) => normalize(&format!("{dir}/{target}")),
        None => normalize(target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_paths_are_normalized() {
        assert_eq!(normalize("./boot/vmlinuz"), "boot/vmlinuz");
        assert_eq!(normalize("/boot//vmlinuz"), "boot/vmlinuz");
        assert_eq!(normalize("boot/./x/../vmlinuz"), "boot/vmlinuz");
    }

    #[test]
    fn link_targets_are_relative_to_the_link() {
        assert_eq!(link_target("vmlinuz", "boot/vmlinuz-6"), "boot/vmlinuz-6");
        assert_eq!(link_target("boot/vmlinuz", "vmlinuz-6"), "boot/vmlinuz-6");
        assert_eq!(link_target("a/b/c", "../d"), "a/d");
        assert_eq!(link_target("a/b/c", "/etc/x"), "etc/x");
    }
}
