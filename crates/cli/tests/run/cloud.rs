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
    // At once: on the panic line or on QEMU's exit after it (panic=-1,
    // -no-reboot), whichever kennel sees first; not at the end of a wait.
    let reason = test["reason"].as_str().expect("reason");
    assert!(
        reason.contains("\"Kernel panic - not syncing\" before the guest phoned home")
            || reason.contains("QEMU exited before the guest phoned home"),
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
