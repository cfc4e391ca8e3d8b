//! Sizes for people.

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
    fn each_unit_starts_at_1024_of_the_one_below() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1 KiB");
        assert_eq!(human_bytes(1100), "1.1 KiB");
        assert_eq!(human_bytes(5 << 30), "5 GiB");
        assert_eq!(human_bytes(u64::MAX), "16384.0 PiB");
    }
}
