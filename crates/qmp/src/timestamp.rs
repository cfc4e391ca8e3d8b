//! UTC timestamps for the transcript, without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// Format `time` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, millisecond precision).
///
/// Times before the Unix epoch are clamped to it.
pub(crate) fn format_utc(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let millis = since_epoch.subsec_millis();
    let days = secs / 86_400;
    let secs_of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60,
    )
}

/// Convert days since 1970-01-01 to a (year, month, day) civil date in the
/// proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`, for
/// non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64, millis: u64) -> String {
        format_utc(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
    }

    #[test]
    fn epoch_is_1970() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn leap_day_2024() {
        // 2024-02-29T12:34:56.789Z
        assert_eq!(at(1_709_210_096, 789), "2024-02-29T12:34:56.789Z");
    }

    #[test]
    fn end_of_century_non_leap_year() {
        // 2100-03-01T00:00:00Z; 2100 is not a leap year.
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000Z");
    }

    #[test]
    fn last_millisecond_of_a_year() {
        // 1999-12-31T23:59:59.999Z
        assert_eq!(at(946_684_799, 999), "1999-12-31T23:59:59.999Z");
    }
}
