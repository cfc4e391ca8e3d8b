//! `list` and `purge`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kennel_assets::{no_progress, EntryKind, FetchPolicy, PurgeRule};

use crate::{cache_in, path_asset, payload, sha256, sha256_hash};

/// Cache `bytes` as a verified asset called `name`; returns its path.
fn cached(cache_dir: &Path, name: &str, bytes: &[u8], uncompress: bool) -> PathBuf {
    let tests = tempfile::tempdir().expect("tempdir");
    fs::write(tests.path().join(name), bytes).expect("write");
    let asset = kennel_spec::AssetSpec {
        uncompress,
        ..path_asset(name, name, sha256_hash(bytes))
    };
    cache_in(cache_dir)
        .resolve(
            &asset,
            tests.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("resolve")
}

/// Another process (util-linux `flock`) holding the exclusive lock on a file
/// until dropped; `None` (a skip) without `flock`.
struct LockHolder(std::process::Child);

impl LockHolder {
    fn start(lock: &str) -> Option<LockHolder> {
        use std::io::BufRead;
        kennel_testkit::need_command("flock", "util-linux")?;
        // The shell opens the lock file, flock(1) locks that open file, and
        // the shell becomes `sleep` keeping it: one process to kill.
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "exec 9<\"$1\" && flock --exclusive 9 && echo held && exec sleep 600",
                "sh",
                lock,
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn flock");
        let stdout = child.stdout.take();
        let holder = LockHolder(child);
        // Wait for the event, not for a while: flock prints once it holds the lock.
        let mut line = String::new();
        std::io::BufReader::new(stdout.expect("flock's stdout"))
            .read_line(&mut line)
            .expect("read flock's stdout");
        assert_eq!(line.trim(), "held", "flock did not take the lock");
        Some(holder)
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Pretend `path` was last used `ago` ago (edits its record).
fn last_used_ago(path: &Path, ago: Duration) {
    let record = PathBuf::from(format!("{}.json", path.display()));
    let mut json: serde_json::Value =
        serde_json::from_slice(&fs::read(&record).expect("record")).expect("json");
    let then = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .saturating_sub(ago);
    json["last_used"] = then.as_secs().into();
    fs::write(&record, serde_json::to_vec(&json).expect("json")).expect("write record");
}

#[test]
fn list_shows_verified_and_derived_entries_with_their_origin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"hello").expect("gzip");
    let compressed = gz.finish().expect("gzip");
    let derived = cached(dir.path(), "greeting", &compressed, true);

    let entries = cache_in(dir.path()).list().expect("list");

    let mut kinds: Vec<_> = entries
        .iter()
        .map(|e| (e.kind.clone(), e.size, e.name.clone()))
        .collect();
    kinds.sort_by_key(|(_, size, _)| *size);
    assert_eq!(
        kinds,
        [
            (
                EntryKind::Derived {
                    source: Some(sha256(&compressed)),
                    operation: "uncompress".to_owned()
                },
                5,
                Some("greeting".to_owned())
            ),
            (
                EntryKind::Verified(sha256(&compressed)),
                compressed.len() as u64,
                Some("greeting".to_owned())
            ),
        ]
    );
    assert!(entries.iter().any(|e| e.path == derived));
}

#[test]
fn purge_by_age_removes_entries_unused_for_that_long() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = cached(dir.path(), "old", &payload(1000), false);
    let new = cached(dir.path(), "new", &payload(999), false);
    last_used_ago(&old, Duration::from_secs(10 * 24 * 3600));
    let rule = PurgeRule {
        older_than: Some(Duration::from_secs(24 * 3600)),
        max_total_size: None,
    };

    let report = cache_in(dir.path()).purge(&rule).expect("purge");

    assert_eq!(
        report
            .removed
            .iter()
            .map(|e| e.path.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&old)
    );
    assert_eq!(report.freed, 1000);
    assert!(!old.exists());
    assert!(new.exists());
}

#[test]
fn purge_to_a_size_removes_the_least_recently_used_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = cached(dir.path(), "a", &payload(1000), false);
    let b = cached(dir.path(), "b", &payload(1001), false);
    let c = cached(dir.path(), "c", &payload(1002), false);
    last_used_ago(&a, Duration::from_secs(300));
    last_used_ago(&b, Duration::from_secs(3000));
    last_used_ago(&c, Duration::from_secs(30));
    let rule = PurgeRule {
        older_than: None,
        max_total_size: Some(2100),
    };

    let report = cache_in(dir.path()).purge(&rule).expect("purge");

    assert_eq!(
        report
            .removed
            .iter()
            .map(|e| e.path.clone())
            .collect::<Vec<_>>(),
        [b]
    );
    assert!(a.exists() && c.exists());
}

#[test]
fn purge_keeps_an_entry_another_process_holds_locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let busy = cached(dir.path(), "busy", b"busy", false);
    let free = cached(dir.path(), "free", b"free", false);
    let Some(holder) = LockHolder::start(&format!("{}.lock", busy.display())) else {
        return;
    };

    let report = cache_in(dir.path())
        .purge(&PurgeRule::everything())
        .expect("purge");
    drop(holder);

    assert_eq!(
        report
            .busy
            .iter()
            .map(|e| e.path.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&busy)
    );
    assert_eq!(
        report
            .removed
            .iter()
            .map(|e| e.path.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&free)
    );
    assert!(busy.exists());
    assert!(!free.exists());
}

#[test]
fn a_purged_asset_is_fetched_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = cached(dir.path(), "x", b"content", false);
    cache_in(dir.path())
        .purge(&PurgeRule::everything())
        .expect("purge");
    assert!(crate::files_under(dir.path())
        .iter()
        .all(|p| !p.to_string_lossy().contains(sha256(b"content").hex())));

    let again = cached(dir.path(), "x", b"content", false);

    assert_eq!(again, path);
    assert_eq!(fs::read(again).expect("read"), b"content");
}
