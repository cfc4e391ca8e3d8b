//! Parsing distributions' checksum files, and version-aware ordering of
//! file names.

use std::cmp::Ordering;

/// A hash algorithm found in a checksum file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    /// Recognise a digest by its length in hex digits.
    fn from_hex_len(len: usize) -> Option<Algorithm> {
        match len {
            64 => Some(Algorithm::Sha256),
            128 => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

/// One entry of a checksum file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub algorithm: Algorithm,
    pub file_name: String,
    /// Lower-case hex.
    pub digest: String,
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Entries of a file in `sha256sum`/`sha512sum` format: `<hex>  <name>`, or
/// `<hex> *<name>` (binary mode). Other lines are skipped.
pub(crate) fn parse_gnu(text: &str) -> Vec<Entry> {
    signed_body(text)
        .filter_map(|line| {
            let (digest, name) = line.trim().split_once(char::is_whitespace)?;
            let name = name.trim_start();
            let name = name.strip_prefix('*').unwrap_or(name);
            let algorithm = Algorithm::from_hex_len(digest.len()).filter(|_| is_hex(digest))?;
            (!name.is_empty()).then(|| Entry {
                algorithm,
                file_name: name.to_string(),
                digest: digest.to_ascii_lowercase(),
            })
        })
        .collect()
}

/// Entries of a file in BSD (`sha256sum --tag`) format, as Fedora publishes:
/// `SHA256 (<name>) = <hex>`. Comments, PGP armor and other lines are skipped.
pub(crate) fn parse_bsd(text: &str) -> Vec<Entry> {
    signed_body(text)
        .filter_map(|line| {
            let (tag, rest) = line.trim().split_once(" (")?;
            let (name, digest) = rest.rsplit_once(") = ")?;
            let algorithm = match tag {
                "SHA256" => Algorithm::Sha256,
                "SHA512" => Algorithm::Sha512,
                _ => return None,
            };
            (Algorithm::from_hex_len(digest.len()) == Some(algorithm) && is_hex(digest)).then(
                || Entry {
                    algorithm,
                    file_name: name.to_string(),
                    digest: digest.to_ascii_lowercase(),
                },
            )
        })
        .collect()
}

/// The content lines of a possibly PGP clear-signed text: without the
/// armor header, the signature block and comment lines, and with dash
/// escaping undone.
fn signed_body(text: &str) -> impl Iterator<Item = &str> {
    let mut in_header = false;
    let mut in_signature = false;
    text.lines().filter_map(move |line| {
        let trimmed = line.trim_end();
        if trimmed == "-----BEGIN PGP SIGNED MESSAGE-----" {
            in_header = true;
            return None;
        }
        if in_header {
            // Armor headers ("Hash: SHA256") end with an empty line.
            in_header = !trimmed.is_empty();
            return None;
        }
        if trimmed == "-----BEGIN PGP SIGNATURE-----" {
            in_signature = true;
            return None;
        }
        if in_signature {
            in_signature = trimmed != "-----END PGP SIGNATURE-----";
            return None;
        }
        let line = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        (!line.trim_start().starts_with('#') && !line.trim().is_empty()).then_some(line)
    })
}

/// Compare names the way versions compare: runs of digits by numeric value,
/// everything else byte by byte (`Fedora-Cloud-41-1.10` > `Fedora-Cloud-41-1.9`).
pub(crate) fn version_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (da, ra) = split_digits(a);
                let (db, rb) = split_digits(b);
                let (na, nb) = (trim_zeros(da), trim_zeros(db));
                let ord = na
                    .len()
                    .cmp(&nb.len())
                    .then_with(|| na.cmp(nb))
                    .then_with(|| da.len().cmp(&db.len()));
                if ord != Ordering::Equal {
                    return ord;
                }
                (a, b) = (ra, rb);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    s.split_at(n)
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b'0').count();
    &s[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn gnu_format() {
        let text = format!(
            "{SHA256_A} *ubuntu.img\n{}  debian.qcow2\nnot a line\n\n",
            "B".repeat(128)
        );
        let entries = parse_gnu(&text);
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0],
            Entry {
                algorithm: Algorithm::Sha256,
                file_name: "ubuntu.img".into(),
                digest: SHA256_A.into()
            }
        );
        assert_eq!(entries[1].algorithm, Algorithm::Sha512);
        assert_eq!(entries[1].digest, "b".repeat(128));
        assert_eq!(entries[1].file_name, "debian.qcow2");
    }

    #[test]
    fn bsd_format_clear_signed() {
        let text = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n# Fedora-Cloud-Base-Generic-41-1.4.x86_64.qcow2: 5 bytes\n\
             SHA256 (Fedora-Cloud-Base-Generic-41-1.4.x86_64.qcow2) = {SHA256_A}\n\
             SHA256 (short) = abc\n\
             -----BEGIN PGP SIGNATURE-----\n\nSHA256 (fake) = {SHA256_A}\n-----END PGP SIGNATURE-----\n"
        );
        let entries = parse_bsd(&text);
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(
            entries[0].file_name,
            "Fedora-Cloud-Base-Generic-41-1.4.x86_64.qcow2"
        );
    }

    #[test]
    fn versions() {
        assert_eq!(version_cmp("a-1.10", "a-1.9"), Ordering::Greater);
        assert_eq!(version_cmp("a-1.4", "a-1.4"), Ordering::Equal);
        assert_eq!(version_cmp("a-41-1.4", "a-40-1.14"), Ordering::Greater);
        assert_eq!(version_cmp("a-01", "a-1"), Ordering::Greater);
        assert_eq!(version_cmp("a-1", "a-1.0"), Ordering::Less);
        let mut names = vec![
            "F-41-1.10-CHECKSUM",
            "F-41-1.2-CHECKSUM",
            "F-41-1.9-CHECKSUM",
        ];
        names.sort_by(|a, b| version_cmp(a, b));
        assert_eq!(
            names,
            [
                "F-41-1.2-CHECKSUM",
                "F-41-1.9-CHECKSUM",
                "F-41-1.10-CHECKSUM"
            ]
        );
    }
}
