//! cloud-init guests (the full boot is tests/functional/cloud).

use crate::harness::*;

#[test]
fn guest_that_never_phones_home_fails_before_the_deadline_with_its_console() {
    let run = kennel(&[&fixture("cloud-fail/never_phones_home.toml")], &[]);

    let test = run.test("expected-fail: a guest that never phones home");
    assert_eq!(test["status"], "FAIL", "{test}");
    let reason = test["reason"].as_str().expect("reason");
    assert!(reason.contains("did not come up"), "{reason}");
    assert!(reason.contains("no phone-home"), "{reason}");
    // The busybox guest came up on the console, which the failure shows.
    let detail = test["detail"].as_str().expect("detail");
    assert!(detail.contains("last console lines"), "{detail}");
    assert!(detail.contains("kennel-guest"), "{detail}");
    // FAIL (not INTERRUPTED, which the test's own 25 s timeout gives): it
    // gave up before the deadline.
    // The job made its SSH key, private to the user.
    use std::os::unix::fs::PermissionsExt;
    let key = run.job_dir().join("ssh/id_ed25519");
    let mode = std::fs::metadata(&key)
        .expect("job key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn cloud_init_guest_that_panics_fails_at_once() {
    let run = kennel(&[&fixture("cloud-fail/guest_panics.toml")], &[]);

    let test = run.test("expected-fail: a cloud-init guest that panics");
    assert_eq!(test["status"], "FAIL", "{test}");
    let detail = test["detail"].as_str().expect("detail");
    assert!(detail.contains("Kernel panic"), "{detail}");
    // At once: on the console's panic line or on QEMU's exit after it
    // (panic=-1, -no-reboot), whichever kennel sees first; not at the end of
    // the wait for the phone-home.
    let reason = test["reason"].as_str().expect("reason");
    assert!(
        reason.contains("QEMU exited before the guest phoned home")
            || reason.contains("the console showed \"Kernel panic"),
        "{reason}"
    );
    assert!(!reason.contains("timed out"), "{reason}");
}

#[test]
fn kennel_toml_image_mirror_feeds_the_image_provider() {
    let dir = test_dir(&[
        ("kennel.toml", "image_mirror = \"mirror\"\n"),
        (
            "cloud.toml",
            "[assets.img]\ncloud = \"debian 12 amd64\"\n[machine]\nimage = \"${asset:img}\"\n",
        ),
    ]);
    let latest = dir.path().join("mirror/debian/bookworm/latest");
    std::fs::create_dir_all(&latest).expect("mirror");
    let image = latest.join("debian-12-genericcloud-amd64.qcow2");
    std::fs::write(&image, b"QFI\xfb a small stand-in image").expect("image");
    let sum = Command::new("sha512sum")
        .arg(&image)
        .output()
        .expect("sha512sum");
    let hex = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .expect("hash")
        .to_string();
    std::fs::write(
        latest.join("SHA512SUMS"),
        format!("{hex}  debian-12-genericcloud-amd64.qcow2\n"),
    )
    .expect("sums");
    let cache = tempfile::tempdir().expect("cache");

    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["assets", "fetch", "cloud.toml"])
        .current_dir(dir.path())
        .env("KENNEL_CACHE_DIR", cache.path())
        .env_remove("KENNEL_IMAGE_MIRROR")
        .output()
        .expect("kennel assets fetch");

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(&hex), "{stdout}");
}

/// The Debian cloud image scripts/build-cloud-image.sh builds, where the
/// Makefile's `KENNEL_IMAGE_MIRROR` (or the checkout's `build/cloud`) has it.
fn built_cloud_image() -> Option<std::path::PathBuf> {
    let mirror = std::env::var("KENNEL_IMAGE_MIRROR")
        .ok()
        .and_then(|m| m.strip_prefix("file://").map(std::path::PathBuf::from))
        .unwrap_or_else(|| workspace().join("build/cloud/mirror"));
    let image = mirror.join("debian/bookworm/latest/debian-12-genericcloud-amd64.qcow2");
    image.is_file().then_some(image)
}

/// A cloud-init test on `image` that finds `/var/tmp/mark` absent and writes
/// it, then shows the guest's clock, 16 random bytes and the keys that may
/// log in.
fn cloud_identity_test(name: &str, image: &Path) -> String {
    format!(
        "name = \"{name}\"\ntags = [\"arch:x86_64\"]\ntimeout = \"10m\"\n\
         [machine]\nmemory = \"1G\"\nimage = \"{}\"\ncloud_init = true\n\
         [[step]]\nrun = \"test ! -e /var/tmp/mark && echo {name} | sudo tee /var/tmp/mark\"\n\
         [[step]]\nrun = \"echo clock=$(date +%s)\"\n\
         [[step]]\nrun = \"echo random=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\\\n')\"\n\
         [[step]]\nrun = \"cat ~/.ssh/authorized_keys\"\n",
        image.display()
    )
}

/// The value a guest command printed as `label=VALUE` in the test's log.
fn printed(run: &Run, test: &str, label: &str) -> String {
    let logdir = run.test(test)["logdir"]
        .as_str()
        .expect("logdir")
        .to_string();
    let log = std::fs::read_to_string(run.job_dir().join(logdir).join("test.log")).expect("log");
    let needle = format!("stdout: {label}=");
    let at = log
        .find(&needle)
        .unwrap_or_else(|| panic!("no {label} in:\n{log}"));
    log[at + needle.len()..]
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn cloud_guests_start_warm_with_their_own_disk_clock_entropy_and_the_jobs_key() {
    let Some(image) = built_cloud_image() else {
        kennel_testkit::missing("the cloud image (sudo scripts/build-cloud-image.sh)");
        return;
    };
    let cache = kennel_testkit::private_cache();
    let dir = test_dir(&[
        ("a.toml", &cloud_identity_test("a", &image)),
        ("b.toml", &cloud_identity_test("b", &image)),
    ]);

    let run = kennel(
        &[path_str(dir.path()), "-j", "1"],
        &[("KENNEL_CACHE_DIR", path_str(cache.path()))],
    );

    assert_eq!(run.statuses(), ["PASS", "PASS"], "{}", run.stdout);
    let (a, b) = (run.test("a"), run.test("b"));
    assert_eq!(a["start"], "warm", "{a}");
    assert_eq!(b["start"], "warm", "{b}");
    assert_eq!(a["template"], b["template"]);
    // One after the other: b found a's mark absent (each writes its own
    // overlay over the template's disk), drew other random bytes, and had its
    // clock set to the host's.
    assert_ne!(printed(&run, "a", "random"), printed(&run, "b", "random"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    for test in ["a", "b"] {
        let clock: u64 = printed(&run, test, "clock").parse().expect("seconds");
        assert!(
            now.abs_diff(clock) < 600,
            "{test}: guest clock {clock}, host {now}"
        );
    }
    let logdir = b["logdir"].as_str().expect("logdir");
    let log = std::fs::read_to_string(run.job_dir().join(logdir).join("test.log")).expect("log");
    assert!(log.contains("is up (warm, template"), "{log}");
    assert!(
        log.contains("clock set, 64 random bytes credited, generator reseeded"),
        "{log}"
    );
    // The job's key (the one cmdline's `ssh` line names) may log in.
    let job_key = std::fs::read_to_string(run.job_dir().join("ssh/id_ed25519.pub")).expect("key");
    let logdir = a["logdir"].as_str().expect("logdir");
    let log = std::fs::read_to_string(run.job_dir().join(logdir).join("test.log")).expect("log");
    let key_body = job_key.split_whitespace().nth(1).expect("key body");
    assert!(log.contains(key_body), "{log}");
}

/// One cloud-image rule for both kinds of test: a TOML test whose cloud image
/// is not cached while downloads are off SKIPs, with the reason a Rust test's
/// `.cloud_image(..)` gives (`crates/kennel/tests/cloud_image.rs`).
#[test]
fn an_uncached_cloud_image_with_downloads_off_skips_with_the_shared_reason() {
    let cache = tempfile::tempdir().expect("cache");
    let mirror = tempfile::tempdir().expect("empty mirror");
    let mirror_url = format!("file://{}", path_str(mirror.path()));
    let dir = test_dir(&[(
        "cloud.toml",
        "name = \"uncached cloud image\"\n\
         [assets.image]\ncloud = \"debian 12 amd64 genericcloud\"\n\
         [machine]\nimage = \"${asset:image}\"\ncloud_init = true\n\
         [[step]]\nrun = \"true\"\n",
    )]);

    let run = kennel(
        &[path_str(dir.path())],
        &[
            ("KENNEL_CACHE_DIR", path_str(cache.path())),
            ("KENNEL_NO_DOWNLOAD", "1"),
            ("KENNEL_IMAGE_MIRROR", &mirror_url),
        ],
    );

    let test = run.test("uncached cloud image");
    assert_eq!(test["status"], "SKIP", "{test}");
    assert_eq!(
        test["reason"],
        format!(
            "asset `image` is not cached and downloads are off: cannot resolve image debian 12 \
             amd64 genericcloud offline: it is not in the resolution cache {}",
            cache.path().join("images").display()
        ),
        "{test}"
    );
}
