//! Fetching over HTTP from a server that misbehaves, and from local files.

use std::fs;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use kennel_assets::{
    no_progress, AssetError, FetchEvent, FetchOptions, FetchPolicy, TransferError,
};
use kennel_spec::AssetHash;

use crate::server::{Behavior, Server};
use crate::{
    cache_in, content_files, fast_options, path_asset, payload, sha256, sha256_hash, url_asset,
};

const SIZE: usize = 300 * 1024;

fn normal() -> Behavior {
    Behavior::Normal { ranges: true }
}

#[test]
fn an_asset_is_downloaded_verified_and_then_served_from_the_cache() {
    let server = Server::start();
    let body = payload(SIZE);
    let url = server.route("/disk.img", &body, normal());
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = cache_in(dir.path());
    let asset = url_asset("disk", &url, sha256_hash(&body));

    let first = cache
        .resolve(
            &asset,
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("first resolve");
    let second = cache
        .resolve(
            &asset,
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("second resolve");

    assert_eq!(
        first,
        dir.path().join("assets/sha256").join(sha256(&body).hex())
    );
    assert_eq!(second, first);
    assert_eq!(fs::read(&first).expect("read"), body);
    assert_eq!(server.requests("/disk.img").len(), 1);
    assert_eq!(
        content_files(dir.path()),
        [first.strip_prefix(dir.path()).expect("in cache")]
    );
}

#[test]
fn a_sha512_asset_is_stored_under_sha512() {
    let server = Server::start();
    let body = payload(1000);
    let url = server.route("/a", &body, normal());
    let dir = tempfile::tempdir().expect("tempdir");
    let digest = kennel_assets::Digest::of_bytes(kennel_assets::HashAlgo::Sha512, &body);
    let asset = url_asset(
        "a",
        &url,
        Some(AssetHash::Sha512(digest.hex().to_uppercase())),
    );

    let path = cache_in(dir.path())
        .resolve(
            &asset,
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("resolve");

    assert_eq!(path, dir.path().join("assets/sha512").join(digest.hex()));
}

#[test]
fn a_dropped_connection_is_resumed_with_a_range_request() {
    let server = Server::start();
    let body = payload(SIZE);
    let behavior = Behavior::DropAfter {
        bytes: 100_000,
        times: 1,
        ranges: true,
    };
    let url = server.route("/k", &body, behavior);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut retries = 0;

    let path = cache_in(dir.path())
        .resolve(
            &url_asset("k", &url, sha256_hash(&body)),
            dir.path(),
            &FetchPolicy::default(),
            &mut |e| {
                if matches!(e, FetchEvent::Retrying { .. }) {
                    retries += 1;
                }
            },
        )
        .expect("resolve");

    assert_eq!(fs::read(path).expect("read"), body);
    let requests = server.requests("/k");
    assert_eq!(
        requests
            .iter()
            .map(|r| (r.range, r.status))
            .collect::<Vec<_>>(),
        [(None, 200), (Some(100_000), 206)]
    );
    assert_eq!(server.sent("/k"), SIZE as u64);
    assert_eq!(retries, 1);
}

#[test]
fn without_range_support_an_interrupted_download_starts_over() {
    let server = Server::start();
    let body = payload(SIZE);
    let behavior = Behavior::DropAfter {
        bytes: 100_000,
        times: 1,
        ranges: false,
    };
    let url = server.route("/k", &body, behavior);
    let dir = tempfile::tempdir().expect("tempdir");

    let path = cache_in(dir.path())
        .resolve(
            &url_asset("k", &url, sha256_hash(&body)),
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("resolve");

    assert_eq!(fs::read(path).expect("read"), body);
    let statuses: Vec<u16> = server.requests("/k").iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200]);
}

#[test]
fn a_content_length_longer_than_the_body_still_gives_the_right_file() {
    let server = Server::start();
    let body = payload(SIZE);
    let url = server.route("/k", &body, Behavior::WrongLength { delta: 1000 });
    let dir = tempfile::tempdir().expect("tempdir");

    let path = cache_in(dir.path())
        .resolve(
            &url_asset("k", &url, sha256_hash(&body)),
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("resolve");

    assert_eq!(fs::read(path).expect("read"), body);
    assert_eq!(server.requests("/k").len(), 1);
}

#[test]
fn a_content_length_shorter_than_the_body_is_a_hash_mismatch_naming_the_bytes() {
    let server = Server::start();
    let body = payload(SIZE);
    let url = server.route("/k", &body, Behavior::WrongLength { delta: -10 });
    let dir = tempfile::tempdir().expect("tempdir");

    let error = cache_in(dir.path())
        .resolve(
            &url_asset("k", &url, sha256_hash(&body)),
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect_err("short body");

    assert!(
        matches!(error, AssetError::HashMismatch { bytes, .. } if bytes == SIZE as u64 - 10),
        "{error:?}"
    );
    assert_eq!(content_files(dir.path()), Vec::<std::path::PathBuf>::new());
}

#[test]
fn different_bytes_are_a_final_hash_mismatch_and_leave_nothing_in_the_cache() {
    let server = Server::start();
    let declared = payload(SIZE);
    let served = payload(SIZE - 1);
    let url = server.route("/k", &served, normal());
    let dir = tempfile::tempdir().expect("tempdir");

    let error = cache_in(dir.path())
        .resolve(
            &url_asset("k", &url, sha256_hash(&declared)),
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect_err("mismatch");

    assert_eq!(
        error.to_string(),
        format!(
            "asset `k`: hash mismatch for {url}: expected {}, got {} ({} bytes received)",
            sha256(&declared),
            sha256(&served),
            SIZE - 1
        )
    );
    assert_eq!(server.requests("/k").len(), 1);
    assert_eq!(content_files(dir.path()), Vec::<std::path::PathBuf>::new());
}

#[test]
fn not_found_is_final_after_one_request() {
    let server = Server::start();
    let url = server.url("/missing");
    let dir = tempfile::tempdir().expect("tempdir");

    let error = cache_in(dir.path())
        .resolve(
            &url_asset("k", &url, sha256_hash(b"x")),
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect_err("404");

    assert_eq!(
        error.to_string(),
        format!("asset `k`: {url} does not exist (HTTP 404 Not Found)")
    );
    assert_eq!(server.requests("/missing").len(), 1);
    assert_eq!(content_files(dir.path()), Vec::<std::path::PathBuf>::new());
}

#[test]
fn forbidden_is_final_after_one_request() {
    let server = Server::start();
    let url = server.route("/k", b"", Behavior::Status(403));
    let dir = tempfile::tempdir().expect("tempdir");

    let error = cache_in(dir.path())
        .resolve(
            &url_asset("k", &url, sha256_hash(b"x")),
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect_err("403");

    assert!(
        matches!(error, AssetError::HttpStatus { status: 403, .. }),
        "{error:?}"
    );
    assert_eq!(server.requests("/k").len(), 1);
}

#[test]
fn server_errors_are_retried_with_backoff() {
    let server = Server::start();
    let body = payload(1000);
    let url = server.route(
        "/k",
        &body,
        Behavior::StatusThen {
            status: 503,
            times: 2,
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut delays = Vec::new();

    let path = cache_in(dir.path())
        .resolve(
            &url_asset("k", &url, sha256_hash(&body)),
            dir.path(),
            &FetchPolicy::default(),
            &mut |e| {
                if let FetchEvent::Retrying { delay, .. } = e {
                    delays.push(*delay);
                }
            },
        )
        .expect("resolve");

    assert_eq!(fs::read(path).expect("read"), body);
    assert_eq!(server.requests("/k").len(), 3);
    assert_eq!(
        delays,
        [Duration::from_millis(10), Duration::from_millis(20)]
    );
}

#[test]
fn persistent_server_errors_give_up_after_the_attempt_limit() {
    let server = Server::start();
    let url = server.route("/k", b"", Behavior::Status(500));
    let dir = tempfile::tempdir().expect("tempdir");

    let error = cache_in(dir.path())
        .resolve(
            &url_asset("k", &url, sha256_hash(b"x")),
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect_err("500");

    assert_eq!(
        error.to_string(),
        format!("asset `k`: downloading {url} failed after 4 attempts")
    );
    let source = std::error::Error::source(&error)
        .expect("a cause")
        .to_string();
    assert_eq!(source, "the server answered HTTP 500");
    assert_eq!(server.requests("/k").len(), 4);
}

#[test]
fn a_slow_server_within_the_read_timeout_is_fine() {
    let server = Server::start();
    let body = payload(64 * 1024);
    let behavior = Behavior::Slow {
        chunk: 8 * 1024,
        delay: Duration::from_millis(30),
        ranges: true,
    };
    let url = server.route("/k", &body, behavior);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = kennel_assets::Cache::with_options(
        dir.path(),
        FetchOptions {
            read_timeout: Duration::from_millis(500),
            ..fast_options()
        },
    );
    let mut seen = Vec::new();

    let path = cache
        .resolve(
            &url_asset("k", &url, sha256_hash(&body)),
            dir.path(),
            &FetchPolicy::default(),
            &mut |e| {
                if let FetchEvent::Progress { bytes, total, .. } = e {
                    seen.push((*bytes, *total));
                }
            },
        )
        .expect("resolve");

    assert_eq!(fs::read(path).expect("read"), body);
    assert_eq!(
        seen.last(),
        Some(&(body.len() as u64, Some(body.len() as u64)))
    );
    assert!(seen.len() >= 8, "{seen:?}");
}

#[test]
fn a_stalled_server_times_out_cleanly_and_keeps_the_partial_download() {
    let server = Server::start();
    let body = payload(SIZE);
    let url = server.route("/k", &body, Behavior::Stall { bytes: 50_000 });
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = kennel_assets::Cache::with_options(
        dir.path(),
        FetchOptions {
            attempts: 2,
            read_timeout: Duration::from_millis(300),
            ..fast_options()
        },
    );

    let error = cache
        .resolve(
            &url_asset("k", &url, sha256_hash(&body)),
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect_err("stall");

    let AssetError::Download {
        attempts, source, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(*attempts, 2);
    assert!(
        matches!(source, TransferError::Body { bytes: 50_000, .. }),
        "{source:?}"
    );
    let partial = dir
        .path()
        .join("assets/sha256")
        .join(format!("{}.partial", sha256(&body).hex()));
    assert_eq!(fs::metadata(partial).expect("partial kept").len(), 50_000);
}

#[test]
fn a_refused_connection_is_retried_then_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}/k");
    let dir = tempfile::tempdir().expect("tempdir");

    let error = cache_in(dir.path())
        .resolve(
            &url_asset("k", &url, sha256_hash(b"x")),
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect_err("refused");

    assert!(
        matches!(
            error,
            AssetError::Download {
                attempts: 4,
                source: TransferError::Transport(_),
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_corrupted_cached_file_is_detected_and_fetched_again() {
    let server = Server::start();
    let body = payload(SIZE);
    let url = server.route("/k", &body, normal());
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = cache_in(dir.path());
    let asset = url_asset("k", &url, sha256_hash(&body));
    let path = cache
        .resolve(
            &asset,
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("first resolve");
    let mut corrupt = body.clone();
    corrupt[1000] ^= 0xFF;
    let modified = fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    fs::write(&path, &corrupt).expect("corrupt the cached file");
    fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(modified))
        .expect("restore the mtime");

    let again = cache
        .resolve(
            &asset,
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("second resolve");

    assert_eq!(again, path);
    assert_eq!(fs::read(&again).expect("read"), body);
    assert_eq!(server.requests("/k").len(), 2);
}

#[test]
fn a_cached_file_whose_record_is_lost_is_rehashed_not_refetched() {
    let server = Server::start();
    let body = payload(1000);
    let url = server.route("/k", &body, normal());
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = cache_in(dir.path());
    let asset = url_asset("k", &url, sha256_hash(&body));
    let path = cache
        .resolve(
            &asset,
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("first resolve");
    fs::remove_file(format!("{}.json", path.display())).expect("remove record");

    cache
        .resolve(
            &asset,
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("second resolve");

    assert_eq!(server.requests("/k").len(), 1);
}

#[test]
fn offline_a_missing_asset_is_not_cached_and_names_the_fetch_command() {
    let server = Server::start();
    let url = server.route("/k", b"data", normal());
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = FetchPolicy {
        offline: true,
        ..FetchPolicy::default()
    };

    let error = cache_in(dir.path())
        .resolve(
            &url_asset("kernel", &url, sha256_hash(b"data")),
            dir.path(),
            &policy,
            &mut no_progress,
        )
        .expect_err("offline");

    assert_eq!(
        error.to_string(),
        format!(
            "asset `kernel` is not in the cache and downloads are off; \
             fetch it first with `kennel assets fetch <test file>` (it comes from {url})"
        )
    );
    assert!(server.requests("/k").is_empty());
}

#[test]
fn offline_a_cached_asset_resolves() {
    let server = Server::start();
    let url = server.route("/k", b"data", normal());
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = cache_in(dir.path());
    let asset = url_asset("k", &url, sha256_hash(b"data"));
    cache
        .resolve(
            &asset,
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("online");
    let policy = FetchPolicy {
        offline: true,
        ..FetchPolicy::default()
    };

    let path = cache
        .resolve(&asset, dir.path(), &policy, &mut no_progress)
        .expect("offline");

    assert_eq!(fs::read(path).expect("read"), b"data");
}

#[test]
fn an_unverified_asset_is_refused_unless_allowed() {
    let server = Server::start();
    let url = server.route("/k", b"data", normal());
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = cache_in(dir.path());
    let asset = url_asset("k", &url, None);
    let allowed = FetchPolicy {
        allow_unverified: true,
        ..FetchPolicy::default()
    };

    let refused = cache
        .resolve(
            &asset,
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect_err("refused");
    let first = cache
        .resolve(&asset, dir.path(), &allowed, &mut no_progress)
        .expect("allowed");
    let second = cache
        .resolve(&asset, dir.path(), &allowed, &mut no_progress)
        .expect("cached");

    assert_eq!(
        refused.to_string(),
        "asset `k` has no sha256 or sha512 to verify it with; add one, or run with `--allow-unverified`"
    );
    assert_eq!(fs::read(&first).expect("read"), b"data");
    assert_eq!(second, first);
    assert_eq!(server.requests("/k").len(), 1);
}

#[test]
fn a_local_path_is_relative_to_the_test_directory_and_copied_into_the_cache() {
    let tests = tempfile::tempdir().expect("tempdir");
    let cache_dir = tempfile::tempdir().expect("tempdir");
    fs::create_dir(tests.path().join("images")).expect("mkdir");
    fs::write(tests.path().join("images/fw.bin"), b"firmware").expect("write");
    let cache = cache_in(cache_dir.path());

    let relative = cache
        .resolve(
            &path_asset("fw", "images/fw.bin", sha256_hash(b"firmware")),
            tests.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("relative path");
    let templated = cache
        .resolve(
            &path_asset("fw", "${dir}/images/fw.bin", sha256_hash(b"firmware")),
            tests.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("${dir} path");

    assert_eq!(
        relative,
        cache_dir
            .path()
            .join("assets/sha256")
            .join(sha256(b"firmware").hex())
    );
    assert_eq!(templated, relative);
}

#[test]
fn a_file_url_is_read_even_offline() {
    let tests = tempfile::tempdir().expect("tempdir");
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let file = tests.path().join("a b.bin");
    fs::write(&file, b"bytes").expect("write");
    let url = format!("file://{}", file.display().to_string().replace(' ', "%20"));
    let policy = FetchPolicy {
        offline: true,
        ..FetchPolicy::default()
    };

    let path = cache_in(cache_dir.path())
        .resolve(
            &url_asset("f", &url, sha256_hash(b"bytes")),
            tests.path(),
            &policy,
            &mut no_progress,
        )
        .expect("resolve");

    assert_eq!(fs::read(path).expect("read"), b"bytes");
}

#[test]
fn a_local_file_with_other_content_is_a_hash_mismatch() {
    let tests = tempfile::tempdir().expect("tempdir");
    fs::write(tests.path().join("x"), b"other").expect("write");

    let error = cache_in(tests.path())
        .resolve(
            &path_asset("x", "x", sha256_hash(b"expected")),
            tests.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect_err("mismatch");

    assert!(
        matches!(error, AssetError::HashMismatch { bytes: 5, .. }),
        "{error:?}"
    );
}

#[test]
fn an_unsupported_url_scheme_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");

    let error = cache_in(dir.path())
        .resolve(
            &url_asset("x", "ftp://example.org/x", sha256_hash(b"x")),
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect_err("ftp");

    assert!(
        matches!(error, AssetError::UnsupportedUrl { .. }),
        "{error:?}"
    );
}

#[test]
fn eight_threads_asking_for_one_asset_download_it_once() {
    let server = Server::start();
    let body = payload(SIZE);
    let behavior = Behavior::Slow {
        chunk: 32 * 1024,
        delay: Duration::from_millis(20),
        ranges: true,
    };
    let url = server.route("/k", &body, behavior);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = Arc::new(cache_in(dir.path()));
    let asset = Arc::new(url_asset("k", &url, sha256_hash(&body)));

    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (cache, asset, base) = (cache.clone(), asset.clone(), dir.path().to_owned());
            thread::spawn(move || {
                cache.resolve(&asset, &base, &FetchPolicy::default(), &mut no_progress)
            })
        })
        .collect();
    let paths: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread").expect("resolve"))
        .collect();

    assert!(paths.iter().all(|p| *p == paths[0]));
    assert_eq!(fs::read(&paths[0]).expect("read"), body);
    assert_eq!(server.requests("/k").len(), 1);
}
