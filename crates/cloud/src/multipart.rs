//! MIME multipart/mixed documents, the form cloud-init accepts for user-data
//! made of several parts.

use kennel_config::text::hex;
use sha2::{Digest, Sha256};

/// One part of a multipart document.
pub(crate) struct Part<'a> {
    /// The part's `Content-Type`, e.g. `text/cloud-config`.
    pub content_type: &'a str,
    /// The file name given in `Content-Disposition`.
    pub filename: &'a str,
    /// Further headers, e.g. `Merge-Type`.
    pub headers: &'a [(&'a str, &'a str)],
    /// The part's text.
    pub body: &'a str,
}

/// Assemble `parts` into a `multipart/mixed` document.
///
/// The boundary is derived from a hash of the bodies. A body is sent as is
/// (`7bit`) when it is ASCII and does not contain the boundary, and in base64
/// otherwise, so no content can ever break the document's structure.
pub(crate) fn multipart(parts: &[Part<'_>]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.body.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    let boundary = format!("===============kennel{}==", hex(&digest[..12]));

    let mut out =
        format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\nMIME-Version: 1.0\n\n");
    for part in parts {
        out.push_str("--");
        out.push_str(&boundary);
        out.push('\n');
        out.push_str(&format!(
            "Content-Type: {}; charset=\"utf-8\"\n",
            part.content_type
        ));
        out.push_str("MIME-Version: 1.0\n");
        let plain = part.body.is_ascii() && !part.body.contains(&boundary);
        let encoding = if plain { "7bit" } else { "base64" };
        out.push_str(&format!("Content-Transfer-Encoding: {encoding}\n"));
        out.push_str(&format!(
            "Content-Disposition: attachment; filename=\"{}\"\n",
            part.filename
        ));
        for (name, value) in part.headers {
            out.push_str(&format!("{name}: {value}\n"));
        }
        out.push('\n');
        let body = if plain {
            part.body.to_string()
        } else {
            base64_lines(part.body.as_bytes())
        };
        out.push_str(&body);
        if !body.ends_with('\n') {
            out.push('\n');
        }
    }
    out.push_str(&format!("--{boundary}--\n"));
    out
}

/// Standard base64 with padding, in lines of 76 characters (as MIME wants).
fn base64_lines(data: &[u8]) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 + 1);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(
                base64_lines(input.as_bytes()).trim_end(),
                want,
                "input {input:?}"
            );
        }
        let long = base64_lines(&[0u8; 100]);
        assert!(long.lines().all(|l| l.len() <= 76));
        assert_eq!(long.lines().count(), 2);
    }

    #[test]
    fn non_ascii_body_is_base64() {
        let doc = multipart(&[Part {
            content_type: "text/plain",
            filename: "a",
            headers: &[],
            body: "é",
        }]);
        assert!(doc.contains("Content-Transfer-Encoding: base64\n"), "{doc}");
        assert!(doc.contains("\nw6k=\n"), "{doc}");
    }
}
