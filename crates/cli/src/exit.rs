//! Exit statuses, as in the results contract.

/// Every test passed or was skipped.
pub const OK: i32 = 0;
/// At least one test FAILed, ERRORed or was INTERRUPTED.
pub const TESTS_FAILED: i32 = 1;
/// Nothing could run: bad arguments, unreadable or invalid test files.
pub const USAGE: i32 = 2;
/// The user interrupted the job (results are still written).
pub const INTERRUPTED: i32 = 130;
