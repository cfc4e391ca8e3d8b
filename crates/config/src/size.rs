//! Sizes for people: read (`2G`, as `KENNEL_WARM_CACHE_SIZE` and
//! `warm_cache_size` in `kennel.toml` take them) and shown.

/// A size in bytes as a person writes it: digits with an optional `K`, `M`,
/// `G` or `T` suffix (powers of 1024, either case); `None` when `text` is not
/// one or the bytes do not fit in a `u64`.
///
/// # Examples
///
/// ```
/// use kennel_config::parse_size;
/// assert_eq!(parse_size("2G"), Some(2 << 30));
/// assert_eq!(parse_size(" 500m "), Some(500 << 20));
/// assert_eq!(parse_size("4096"), Some(4096));
/// assert_eq!(parse_size("2 GB"), None);
/// ```
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last() {
        Some((i, 'K' | 'k')) => (&text[..i], 10),
        Some((i, 'M' | 'm')) => (&text[..i], 20),
        Some((i, 'G' | 'g')) => (&text[..i], 30),
        Some((i, 'T' | 't')) => (&text[..i], 40),
        _ => (text, 0),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
}

/// What a size must look like, for error messages.
pub(crate) const SIZE_EXPECTED: &str =
    "expected a size in bytes, optionally with K, M, G or T (2G)";

/// A size in `kennel.toml`: a string [`parse_size`] reads, or a whole number
/// of bytes. A bad value is an error at its line and column, showing it.
pub(crate) fn deserialize_size<'de, D>(de: D) -> Result<Option<u64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    de.deserialize_any(SizeVisitor).map(Some)
}

struct SizeVisitor;

impl serde::de::Visitor<'_> for SizeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(SIZE_EXPECTED.trim_start_matches("expected "))
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<u64, E> {
        Ok(n)
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<u64, E> {
        u64::try_from(n).map_err(|_| E::custom(format!("{n}: {SIZE_EXPECTED}")))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<u64, E> {
        parse_size(text).ok_or_else(|| E::custom(format!("{text:?}: {SIZE_EXPECTED}")))
    }
}

/// A byte count in binary units: `512 B`, `64 KiB`, `1.5 MiB`, `3.2 GiB`
/// (one decimal unless the value is a whole number of the unit).
///
/// # Examples
///
/// ```
/// use kennel_config::human_bytes;
/// assert_eq!(human_bytes(512), "512 B");
/// assert_eq!(human_bytes(64 * 1024), "64 KiB");
/// assert_eq!(human_bytes(1536 * 1024), "1.5 MiB");
/// ```
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut unit = 0;
    let mut scale = 1u64;
    while unit + 1 < UNITS.len() && n / scale >= 1024 {
        scale *= 1024;
        unit += 1;
    }
    if n.is_multiple_of(scale) {
        format!("{} {}", n / scale, UNITS[unit])
    } else {
        format!("{:.1} {}", n as f64 / scale as f64, UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_digits_with_an_optional_binary_suffix() {
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("3T"), Some(3 << 40));
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("G"), None);
        assert_eq!(parse_size("-1G"), None);
        assert_eq!(parse_size("1.5G"), None);
        assert_eq!(parse_size("99999999999T"), None);
    }

    #[test]
    fn each_unit_starts_at_1024_of_the_one_below() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1 KiB");
        assert_eq!(human_bytes(1100), "1.1 KiB");
        assert_eq!(human_bytes(5 << 30), "5 GiB");
        assert_eq!(human_bytes(u64::MAX), "16384.0 PiB");
    }
}
