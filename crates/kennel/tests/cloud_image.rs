//! One cloud-image rule for both kinds of test: a Rust test's
//! `.cloud_image(..)` that is not cached while downloads are off SKIPs, with
//! the reason a TOML test gives (`crates/cli/tests/run/cloud.rs` pins the
//! same reason for a TOML test). Its own test binary: the configuration is
//! read once per process, so the variables are set before anything reads it.

use std::time::Duration;

use kennel::prelude::*;

const IMAGE: &str = "debian 12 amd64 genericcloud";

#[test]
fn an_uncached_cloud_image_with_downloads_off_skips_the_test_with_the_shared_reason() {
    let cache = tempfile::tempdir().expect("cache");
    let mirror = tempfile::tempdir().expect("empty mirror");
    std::env::set_var("KENNEL_CACHE_DIR", cache.path());
    std::env::set_var("KENNEL_NO_DOWNLOAD", "1");
    std::env::set_var(
        "KENNEL_IMAGE_MIRROR",
        format!("file://{}", mirror.path().display()),
    );
    let mut t = Test::new("cloud-image-offline", &[], Duration::from_secs(30)).expect("context");
    let logdir = t.logdir().to_path_buf();

    let launched = t.machine().cloud_image(IMAGE).cloud_init().launch();

    let err = launched.err().expect("no machine without its image");
    assert_eq!(
        err.skip_reason(),
        Some(
            format!(
                "asset `image` is not cached and downloads are off: cannot resolve image {IMAGE} \
                 offline: it is not in the resolution cache {}",
                cache.path().join("images").display()
            )
            .as_str()
        ),
        "{}",
        err.chain()
    );
    drop(t);
    let _ = std::fs::remove_dir_all(logdir);
}
