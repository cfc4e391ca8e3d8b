//! How long and how hard a run fuzzes, from the environment.

use std::path::PathBuf;
use std::time::Duration;

/// Seconds each target mutates after replaying its corpus (a decimal number).
pub const SECONDS_ENV: &str = "FUZZ_SECONDS";
/// The seed of a run; without it a short run uses a fixed seed and a long
/// one (with [`SECONDS_ENV`]) the clock.
pub const SEED_ENV: &str = "FUZZ_SEED";
/// Seconds one input may take before the run is aborted as a hang.
pub const INPUT_SECONDS_ENV: &str = "FUZZ_INPUT_SECONDS";
/// MiB one input may hold at once, and the largest single allocation.
pub const MEMORY_MB_ENV: &str = "FUZZ_MEMORY_MB";

/// The budget of one target's run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Time spent mutating after the corpus replay.
    pub duration: Duration,
    /// Whether the run was asked for at length (`make fuzz`): then the
    /// summary is appended to `target/fuzz-summary.txt`.
    pub long: bool,
    /// The random seed.
    pub seed: u64,
    /// The time one input may take.
    pub input_limit: Duration,
    /// The bytes one input may hold at once.
    pub memory_limit: usize,
}

impl Settings {
    /// The settings the environment asks for: by default one second of
    /// mutation per target, 10 s per input, 256 MiB per input.
    pub fn from_env() -> Settings {
        let number = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        let seconds = number(SECONDS_ENV);
        let seed = std::env::var(SEED_ENV)
            .ok()
            .and_then(|v| v.trim().parse().ok());
        let clock = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        };
        Settings {
            duration: Duration::from_secs_f64(seconds.unwrap_or(1.0).max(0.0)),
            long: seconds.is_some(),
            seed: seed.unwrap_or_else(|| if seconds.is_some() { clock() } else { 28 }),
            input_limit: Duration::from_secs_f64(
                number(INPUT_SECONDS_ENV).unwrap_or(10.0).max(0.1),
            ),
            memory_limit: (number(MEMORY_MB_ENV).unwrap_or(256.0).max(1.0) * 1024.0 * 1024.0)
                as usize,
        }
    }
}

/// The workspace's root folder.
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(|p| p.parent())
        .map_or(here.clone(), PathBuf::from)
}

/// `fuzz/corpus/<target>`: the inputs a target replays first, committed.
pub fn corpus_dir(target: &str) -> PathBuf {
    workspace_root().join("fuzz").join("corpus").join(target)
}

/// The build's target folder (`CARGO_TARGET_DIR`, or `target/`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}
