//! Several kennel processes sharing one cache, and one killed mid-download.
//! The "processes" are this test binary, re-run with only `child_resolve`.

use std::env;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kennel_assets::{no_progress, FetchEvent, FetchPolicy};
use kennel_spec::AssetHash;

use crate::server::{Behavior, Server};
use crate::{cache_in, content_files, payload, sha256, sha256_hash, url_asset};

const CACHE_VAR: &str = "KENNEL_ASSETS_TEST_CHILD_CACHE";
const URL_VAR: &str = "KENNEL_ASSETS_TEST_CHILD_URL";
const HASH_VAR: &str = "KENNEL_ASSETS_TEST_CHILD_SHA256";

/// The child's side: resolve one asset, print the outcome.
#[test]
#[ignore = "run as a child process by the other tests of this module"]
fn child_resolve() {
    let (Ok(cache), Ok(url), Ok(hash)) =
        (env::var(CACHE_VAR), env::var(URL_VAR), env::var(HASH_VAR))
    else {
        return;
    };
    let asset = url_asset("child", &url, Some(AssetHash::Sha256(hash)));
    let mut waited = false;
    let result = cache_in(Path::new(&cache)).resolve(
        &asset,
        Path::new(&cache),
        &FetchPolicy::default(),
        &mut |e| {
            if matches!(e, FetchEvent::Waiting { .. }) {
                waited = true;
            }
        },
    );
    match result {
        Ok(path) => println!("RESOLVED {} waited={waited}", path.display()),
        Err(error) => println!("FAILED {error}"),
    }
}

fn spawn_child(cache: &Path, url: &str, body: &[u8]) -> Child {
    Command::new(env::current_exe().expect("test binary"))
        .args([
            "processes::child_resolve",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CACHE_VAR, cache)
        .env(URL_VAR, url)
        .env(HASH_VAR, sha256(body).hex())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child")
}

fn wait_until(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn eight_processes_asking_for_one_asset_download_it_once() {
    let server = Server::start();
    let body = payload(512 * 1024);
    let behavior = Behavior::Slow {
        chunk: 32 * 1024,
        delay: Duration::from_millis(60),
        ranges: true,
    };
    let url = server.route("/shared", &body, behavior);
    let dir = tempfile::tempdir().expect("tempdir");

    let children: Vec<Child> = (0..8)
        .map(|_| spawn_child(dir.path(), &url, &body))
        .collect();
    let outputs: Vec<String> = children
        .into_iter()
        .map(|c| {
            String::from_utf8_lossy(&c.wait_with_output().expect("child output").stdout)
                .into_owned()
        })
        .collect();

    let expected = dir.path().join("assets/sha256").join(sha256(&body).hex());
    // libtest prints `test ... ` before the child's own line: take the marker on.
    let results: Vec<&str> = outputs
        .iter()
        .map(|o| {
            let start = o
                .find("RESOLVED ")
                .or_else(|| o.find("FAILED "))
                .unwrap_or(0);
            o[start..].lines().next().unwrap_or("")
        })
        .collect();
    for result in &results {
        assert!(
            result.starts_with(&format!("RESOLVED {} ", expected.display())),
            "{result}"
        );
    }
    assert!(
        results.iter().any(|r| r.ends_with("waited=true")),
        "{results:?}"
    );
    assert_eq!(fs::read(&expected).expect("read"), body);
    assert_eq!(server.requests("/shared").len(), 1);
    assert_eq!(server.sent("/shared"), body.len() as u64);
}

/// Kill a child downloading `body` once the server has sent `after` bytes.
fn kill_mid_download(server: &Server, dir: &Path, url: &str, body: &[u8], after: u64) {
    let mut child = spawn_child(dir, url, body);
    wait_until(
        "the child has received some bytes",
        Duration::from_secs(10),
        || server.sent("/k") >= after,
    );
    child.kill().expect("kill -9");
    child.wait().expect("reap");
}

#[test]
fn a_download_killed_with_sigkill_is_resumed_by_the_next_run() {
    let server = Server::start();
    let body = payload(512 * 1024);
    let slow = Behavior::Slow {
        chunk: 16 * 1024,
        delay: Duration::from_millis(20),
        ranges: true,
    };
    let url = server.route("/k", &body, slow);
    let dir = tempfile::tempdir().expect("tempdir");
    kill_mid_download(&server, dir.path(), &url, &body, 128 * 1024);
    let final_path = dir.path().join("assets/sha256").join(sha256(&body).hex());
    let partial = dir
        .path()
        .join("assets/sha256")
        .join(format!("{}.partial", sha256(&body).hex()));
    let kept = fs::metadata(&partial).expect("partial kept").len();
    assert!(
        !final_path.exists(),
        "no file under its final name before it is complete"
    );
    assert!(kept > 0 && kept < body.len() as u64, "{kept}");
    server.route("/k", &body, Behavior::Normal { ranges: true });

    let path = cache_in(dir.path())
        .resolve(
            &url_asset("k", &url, sha256_hash(&body)),
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("resolve after the kill");

    assert_eq!(path, final_path);
    assert_eq!(fs::read(&path).expect("read"), body);
    let last = server.requests("/k").pop().expect("a request");
    assert_eq!((last.range, last.status), (Some(kept), 206));
    assert_eq!(content_files(dir.path()).len(), 1);
}

#[test]
fn a_download_killed_with_sigkill_starts_over_when_the_server_has_no_ranges() {
    let server = Server::start();
    let body = payload(512 * 1024);
    let slow = Behavior::Slow {
        chunk: 16 * 1024,
        delay: Duration::from_millis(20),
        ranges: false,
    };
    let url = server.route("/k", &body, slow);
    let dir = tempfile::tempdir().expect("tempdir");
    kill_mid_download(&server, dir.path(), &url, &body, 128 * 1024);
    server.route("/k", &body, Behavior::Normal { ranges: false });

    let path = cache_in(dir.path())
        .resolve(
            &url_asset("k", &url, sha256_hash(&body)),
            dir.path(),
            &FetchPolicy::default(),
            &mut no_progress,
        )
        .expect("resolve after the kill");

    assert_eq!(fs::read(&path).expect("read"), body);
    let last = server.requests("/k").pop().expect("a request");
    assert_eq!(last.status, 200);
    assert_eq!(content_files(dir.path()).len(), 1);
}
