//! qcow2 overlays, created with the real qemu-img.

use std::path::{Path, PathBuf};
use std::process::Command;

use kennel_cloud::{create_overlay, detect_format, find_qemu_img, CloudError, ImageFormat};

fn qemu_img(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let out = Command::new("qemu-img")
        .args(args)
        .output()
        .expect("qemu-img is installed");
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn info(path: &Path) -> serde_json::Value {
    let out = qemu_img(&["info".as_ref(), "--output=json".as_ref(), path.as_os_str()]);
    serde_json::from_slice(&out.stdout).expect("qemu-img info prints JSON")
}

fn bases(dir: &Path) -> (PathBuf, PathBuf) {
    let raw = dir.join("base.raw");
    std::fs::write(&raw, vec![0x5au8; 1024 * 1024]).expect("write raw base");
    let qcow2 = dir.join("base.qcow2");
    qemu_img(&[
        "create".as_ref(),
        "-q".as_ref(),
        "-f".as_ref(),
        "qcow2".as_ref(),
        qcow2.as_os_str(),
        "2M".as_ref(),
    ]);
    (raw, qcow2)
}

#[test]
fn formats_are_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (raw, qcow2) = bases(dir.path());
    assert_eq!(detect_format(&raw).expect("raw"), ImageFormat::Raw);
    assert_eq!(detect_format(&qcow2).expect("qcow2"), ImageFormat::Qcow2);
    let tiny = dir.path().join("tiny");
    std::fs::write(&tiny, b"QF").expect("write");
    assert_eq!(detect_format(&tiny).expect("tiny"), ImageFormat::Raw);
    let err = detect_format(&dir.path().join("missing")).expect_err("missing");
    assert!(matches!(err, CloudError::Io { .. }), "{err:?}");
    assert_eq!(ImageFormat::Qcow2.to_string(), "qcow2");
}

#[test]
fn overlays_record_their_backing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (raw, qcow2) = bases(dir.path());
    let raw_before = std::fs::read(&raw).expect("read");
    let qcow2_before = std::fs::read(&qcow2).expect("read");

    for (base, format) in [(&raw, "raw"), (&qcow2, "qcow2")] {
        let overlay = dir.path().join(format!("over-{format}.qcow2"));
        create_overlay(Path::new("qemu-img"), base, &overlay).expect("create overlay");
        let info = info(&overlay);
        assert_eq!(info["format"], "qcow2", "{info}");
        assert_eq!(
            info["backing-filename"],
            base.to_str().expect("utf-8 path"),
            "{info}"
        );
        assert_eq!(info["backing-filename-format"], format, "{info}");
        assert_eq!(
            detect_format(&overlay).expect("overlay"),
            ImageFormat::Qcow2
        );
    }
    assert_eq!(
        std::fs::read(&raw).expect("read"),
        raw_before,
        "raw base untouched"
    );
    assert_eq!(
        std::fs::read(&qcow2).expect("read"),
        qcow2_before,
        "qcow2 base untouched"
    );
}

#[test]
fn relative_base_is_recorded_absolute_and_directory_finds_qemu_img() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (raw, _) = bases(dir.path());
    let cwd = std::env::current_dir().expect("cwd");
    let relative: PathBuf = pathdiff(&raw, &cwd);
    assert!(relative.is_relative());
    let qemu_dir = which_dir("qemu-img");
    let overlay = dir.path().join("over.qcow2");
    create_overlay(&qemu_dir, &relative, &overlay).expect("create overlay via directory");
    let info = info(&overlay);
    let backing = PathBuf::from(info["backing-filename"].as_str().expect("backing file"));
    assert!(backing.is_absolute(), "{info}");
    assert_eq!(
        std::fs::canonicalize(&backing).expect("exists"),
        std::fs::canonicalize(&raw).expect("exists")
    );
}

#[test]
fn missing_base_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.qcow2");
    let overlay = dir.path().join("over.qcow2");
    let err = create_overlay(Path::new("qemu-img"), &missing, &overlay).expect_err("no base");
    assert!(matches!(err, CloudError::BaseMissing { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("base image {} does not exist", missing.display())
    );
    assert!(!overlay.exists());
}

#[test]
fn qemu_img_failure_includes_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (raw, _) = bases(dir.path());
    let overlay = dir.path().join("no-such-dir").join("over.qcow2");
    let err = create_overlay(Path::new("qemu-img"), &raw, &overlay).expect_err("no directory");
    let CloudError::QemuImg { ref stderr, .. } = err else {
        panic!("unexpected error {err:?}")
    };
    assert!(!stderr.is_empty());
    let message = err.to_string();
    assert!(
        message.contains("create -f qcow2 -F raw -b") && message.contains(stderr.as_str()),
        "{message}"
    );

    let err = create_overlay(
        Path::new("/nonexistent/qemu-img"),
        &raw,
        &dir.path().join("o.qcow2"),
    )
    .expect_err("no program");
    assert!(matches!(err, CloudError::QemuImgSpawn { .. }), "{err:?}");
}

#[test]
fn overlay_onto_its_own_base_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, qcow2) = bases(dir.path());
    let before = std::fs::read(&qcow2).expect("read");
    let err = create_overlay(Path::new("qemu-img"), &qcow2, &qcow2).expect_err("same file");
    assert!(matches!(err, CloudError::OverlayIsBase { .. }), "{err:?}");
    assert_eq!(std::fs::read(&qcow2).expect("read"), before);
}

#[test]
fn qemu_img_beside_qemu_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("mkdir");
    std::fs::write(bin.join("qemu-img"), b"").expect("write");
    let system = bin.join("qemu-system-x86_64");
    assert_eq!(find_qemu_img(Some(&system)), bin.join("qemu-img"));
    assert_eq!(
        find_qemu_img(Some(&dir.path().join("qemu-system-x86_64"))),
        PathBuf::from("qemu-img")
    );
    assert_eq!(find_qemu_img(None), PathBuf::from("qemu-img"));
}

/// The directory on PATH holding `program`.
fn which_dir(program: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).find(|dir| dir.join(program).is_file()))
        .expect("program on PATH")
}

/// `path` relative to `base` (both absolute), with as many `..` as needed.
fn pathdiff(path: &Path, base: &Path) -> PathBuf {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for c in &path[common..] {
        out.push(c);
    }
    out
}
