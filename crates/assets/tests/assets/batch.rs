//! Many assets at once (`kennel assets fetch`): results in order, one event stream each.

use std::sync::Mutex;

use kennel_assets::{BatchEvent, BatchItem, FetchPolicy};

use crate::server::{Behavior, Server};
use crate::{cache_in, path_asset, payload, sha256_hash, url_asset};

#[test]
fn a_batch_resolves_every_item_and_reports_each_in_order() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = cache_in(dir.path());
    let items: Vec<BatchItem> = (0..5)
        .map(|i| {
            let body = payload(1000 + i);
            let url = server.route(&format!("/a{i}"), &body, Behavior::Normal { ranges: true });
            BatchItem {
                label: format!("a{i}"),
                spec: url_asset(&format!("a{i}"), &url, sha256_hash(&body)),
                base_dir: dir.path().to_path_buf(),
            }
        })
        .chain([BatchItem {
            label: "missing".into(),
            spec: path_asset("missing", "no-such-file", None),
            base_dir: dir.path().to_path_buf(),
        }])
        .collect();
    let seen = Mutex::new(Vec::new());

    let results = cache.resolve_all(
        &items,
        &FetchPolicy {
            offline: false,
            allow_unverified: true,
        },
        3,
        &|e| {
            let step = match e {
                BatchEvent::Started { index, .. } => (index, "started"),
                BatchEvent::Finished { index, .. } => (index, "finished"),
                _ => return,
            };
            seen.lock().expect("lock").push(step);
        },
    );

    assert_eq!(results.len(), 6);
    assert!(results[..5].iter().all(Result::is_ok), "{results:?}");
    assert!(results[5].is_err());
    let seen = seen.into_inner().expect("lock");
    for i in 0..6 {
        let of_i: Vec<&str> = seen.iter().filter(|s| s.0 == i).map(|s| s.1).collect();
        assert_eq!(of_i, ["started", "finished"], "item {i}");
    }
}
