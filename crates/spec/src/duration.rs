//! Duration strings: `"30s"`, `"2m"`, `"1500ms"`, `"1m30s"`.

use std::time::Duration;

/// A duration string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad duration {input:?}: {reason} (expected e.g. \"30s\", \"2m\", \"1500ms\", \"1m30s\")")]
pub struct DurationError {
    input: String,
    reason: String,
}

/// Parse a duration such as `"30s"`, `"2m"`, `"1500ms"` or `"1m30s"`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert_eq!(kennel_spec::parse_duration("1m30s").unwrap(), Duration::from_secs(90));
/// assert!(kennel_spec::parse_duration("30").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    humantime::parse_duration(s.trim()).map_err(|e| DurationError {
        input: s.to_owned(),
        reason: e.to_string(),
    })
}
