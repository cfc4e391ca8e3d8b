use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::*;

/// A QEMU source tree in a temporary folder: `tests/functional` with a
/// `qemu_test` package, the given `meson.build` and empty `test_NAME.py` files.
fn tree(meson: &str, tests: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let functional = dir.path().join("tests").join("functional");
    std::fs::create_dir_all(functional.join("qemu_test")).expect("mkdir");
    std::fs::write(functional.join("qemu_test").join("__init__.py"), "").expect("write");
    std::fs::write(functional.join("meson.build"), meson).expect("write");
    for t in tests {
        std::fs::write(functional.join(format!("test_{t}.py")), "").expect("write");
    }
    (dir, functional)
}

const MESON: &str = "
test_timeouts = {
  'x86_64_replay' : 480,
}
tests_generic_system = [
  'version',
]
tests_ppc_system_quick = [
  'migration',
]
tests_x86_64_system_quick = [
  'migration',
]
tests_x86_64_system_thorough = [
  'x86_64_replay',
]
tests_arm_linuxuser_thorough = [
  'arm_bflt',
]
";

fn names(tree: &Tree) -> Vec<String> {
    tree.tests
        .iter()
        .map(|t| {
            format!(
                "{} {} {} {}s",
                t.arch,
                t.name,
                t.speed.tag(),
                t.timeout.as_secs()
            )
        })
        .collect()
}

#[test]
fn a_flat_tree_is_every_listed_test_per_architecture_with_generic_tests_in_the_quick_set() {
    let (_d, functional) = tree(
        MESON,
        &["version", "migration", "x86_64_replay", "arm_bflt"],
    );

    let tree = load(&functional);

    assert_eq!(
        names(&tree),
        [
            "arm arm_bflt thorough 90s",
            "ppc migration quick 90s",
            "ppc version quick 90s",
            "x86_64 migration quick 90s",
            "x86_64 version quick 90s",
            "x86_64 x86_64_replay thorough 480s",
        ]
    );
    assert!(tree.warnings.is_empty(), "{:?}", tree.warnings);
    let replay = &tree.tests[5];
    assert_eq!(replay.tags(), ["thorough", "arch:x86_64"]);
    assert_eq!(replay.file, functional.join("test_x86_64_replay.py"));
    assert_eq!(tree.tests[0].tags(), ["thorough", "arch:arm", "linuxuser"]);
}

#[test]
fn per_architecture_folders_have_their_own_lists_files_and_timeouts() {
    let (_d, functional) = tree("subdir('x86_64')\n", &[]);
    let x86 = functional.join("x86_64");
    std::fs::create_dir_all(&x86).expect("mkdir");
    std::fs::write(
        x86.join("meson.build"),
        "test_x86_64_timeouts = {'replay' : 480}\ntests_x86_64_system_quick = ['replay', 'gone']\n",
    )
    .expect("write");
    std::fs::write(x86.join("test_replay.py"), "").expect("write");

    let tree = load(&functional);

    assert_eq!(names(&tree), ["x86_64 replay quick 480s"]);
    assert_eq!(tree.tests[0].file, x86.join("test_replay.py"));
    assert_eq!(tree.warnings.len(), 1, "{:?}", tree.warnings);
    assert!(
        tree.warnings[0].contains("no test_gone.py"),
        "{:?}",
        tree.warnings
    );
}

#[test]
fn what_meson_build_says_that_cannot_be_read_is_a_warning_and_the_rest_is_read() {
    let meson =
        "tests_x86_64_system_quick = ['version']\ntests_x86_64_system_thorough = some_list\n";
    let (_d, functional) = tree(meson, &["version"]);

    let tree = load(&functional);

    assert_eq!(names(&tree), ["x86_64 version quick 90s"]);
    assert_eq!(tree.warnings.len(), 1, "{:?}", tree.warnings);
    assert!(tree.warnings[0].contains("meson.build:2: tests_x86_64_system_thorough"));
}

#[test]
fn a_tree_is_recognised_by_its_qemu_test_package_and_meson_build_only() {
    let (_d, functional) = tree(MESON, &["version"]);
    let other = tempfile::tempdir().expect("tempdir");
    std::fs::write(other.path().join("meson.build"), "").expect("write");

    assert_eq!(functional_dir_of(&functional), Some(functional.clone()));
    assert_eq!(
        functional_dir_of(&functional.join("test_version.py")),
        Some(functional.clone())
    );
    assert_eq!(
        functional_dir_of(&functional.join("qemu_test")),
        Some(functional.clone())
    );
    assert_eq!(functional_dir_of(other.path()), None);
    let tests_folder = functional.parent().expect("tests/");
    assert_eq!(functional_dir_of(tests_folder), None);
}

/// A folder with executables (links to `/bin/true`) of these names.
fn bin_dir(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for n in names {
        std::os::unix::fs::symlink("/bin/true", dir.path().join(n)).expect("symlink");
    }
    dir
}

fn env_of(cmd: &QemuTestCommand) -> HashMap<&str, &str> {
    cmd.env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn a_build_directory_gives_the_binary_venv_and_variables_meson_would() {
    let (_d, functional) = tree(
        MESON,
        &["version", "migration", "x86_64_replay", "arm_bflt"],
    );
    let build = bin_dir(&["qemu-system-x86_64", "qemu-system-ppc", "qemu-img"]);
    std::fs::write(build.path().join("build.ninja"), "").expect("write");
    let venv = build.path().join("pyvenv").join("bin");
    std::fs::create_dir_all(&venv).expect("mkdir");
    std::os::unix::fs::symlink("/bin/true", venv.join("python3")).expect("symlink");
    let tree = load(&functional);
    let logdir = tempfile::tempdir().expect("tempdir");
    let var = |n: &str| match n {
        "KENNEL_CACHE_DIR" => Some(OsString::from("/cache")),
        "KENNEL_KEEP_TMP" => Some(OsString::from("yes")),
        _ => None,
    };
    let ctx = RunContext {
        qemu: Some(build.path()),
        qemu_arch: &[],
        offline: true,
        keep_tmp: true,
        logdir: logdir.path(),
        var: &var,
    };
    let ppc = tree
        .tests
        .iter()
        .find(|t| t.arch == "ppc")
        .expect("ppc test");

    let cmd = command(ppc, &ctx).expect("runs");

    let env = env_of(&cmd);
    let b = build.path().display().to_string();
    assert_eq!(cmd.program, venv.join("python3"));
    assert_eq!(cmd.args, [ppc.file.display().to_string()]);
    assert_eq!(env["QEMU_TEST_QEMU_BINARY"], format!("{b}/qemu-system-ppc"));
    assert_eq!(env["QEMU_TEST_QEMU_IMG"], format!("{b}/qemu-img"));
    assert_eq!(env["QEMU_BUILD_ROOT"], b);
    let source = functional.parent().and_then(Path::parent).expect("source");
    assert_eq!(
        env["PYTHONPATH"],
        format!(
            "{}:{}",
            source.join("python").display(),
            functional.display()
        )
    );
    assert_eq!(env["QEMU_TEST_NO_DOWNLOAD"], "1");
    assert_eq!(env["QEMU_TEST_CACHE_DIR"], "/cache/qemu");
    assert_eq!(env["QEMU_TEST_KEEP_SCRATCH"], "1");
}

#[test]
fn a_binary_outside_a_build_tree_runs_with_python3_and_the_log_folder_as_build_root() {
    let (_d, functional) = tree(MESON, &["version", "migration"]);
    let bin = bin_dir(&["qemu-system-x86_64", "qemu-system-ppc"]);
    let tree = load(&functional);
    let logdir = tempfile::tempdir().expect("tempdir");
    let var = |n: &str| (n == "QEMU_TEST_CACHE_DIR").then(|| OsString::from("/mine"));
    let x86 = bin.path().join("qemu-system-x86_64");
    let ctx = RunContext {
        qemu: Some(&x86),
        qemu_arch: &[],
        offline: false,
        keep_tmp: false,
        logdir: logdir.path(),
        var: &var,
    };
    let ppc = tree
        .tests
        .iter()
        .find(|t| t.arch == "ppc")
        .expect("ppc test");

    let cmd = command(ppc, &ctx).expect("runs");

    let env = env_of(&cmd);
    let python3 = kennel_config::which("python3").unwrap_or_else(|| PathBuf::from("python3"));
    assert_eq!(cmd.program, python3);
    assert_eq!(
        env["QEMU_TEST_QEMU_BINARY"],
        bin.path().join("qemu-system-ppc").display().to_string()
    );
    assert_eq!(env["QEMU_BUILD_ROOT"], logdir.path().display().to_string());
    for unset in [
        "QEMU_TEST_NO_DOWNLOAD",
        "QEMU_TEST_CACHE_DIR",
        "QEMU_TEST_KEEP_SCRATCH",
        "QEMU_TEST_QEMU_IMG",
    ] {
        assert!(!env.contains_key(unset), "{unset} is set: {env:?}");
    }
}

#[test]
fn an_architecture_without_a_binary_and_user_mode_tests_say_why_they_cannot_run() {
    let (_d, functional) = tree(
        MESON,
        &["version", "migration", "x86_64_replay", "arm_bflt"],
    );
    let build = bin_dir(&["qemu-system-x86_64"]);
    let tree = load(&functional);
    let var = |_: &str| None;
    let ctx = RunContext {
        qemu: Some(build.path()),
        qemu_arch: &[],
        offline: false,
        keep_tmp: false,
        logdir: build.path(),
        var: &var,
    };
    let why = |arch: &str| {
        let t = tree.tests.iter().find(|t| t.arch == arch).expect("test");
        kennel_machine::error_chain(&command(t, &ctx).expect_err("cannot run"))
    };

    assert!(
        why("ppc").contains("no QEMU binary for ppc"),
        "{}",
        why("ppc")
    );
    assert!(
        why("arm").contains("linuxuser test: no QEMU binary for arm"),
        "{}",
        why("arm")
    );
}

#[test]
fn a_user_mode_test_runs_the_builds_qemu_arch() {
    let (_d, functional) = tree(MESON, &["version", "migration", "arm_bflt"]);
    let build = bin_dir(&["qemu-system-x86_64", "qemu-arm"]);
    let tree = load(&functional);
    let var = |_: &str| None;
    let ctx = RunContext {
        qemu: Some(build.path()),
        qemu_arch: &[],
        offline: false,
        keep_tmp: false,
        logdir: build.path(),
        var: &var,
    };
    let arm = tree.tests.iter().find(|t| t.arch == "arm").expect("arm");

    let cmd = command(arm, &ctx).expect("runs");

    assert_eq!(arm.mode, Mode::LinuxUser);
    assert_eq!(
        env_of(&cmd)["QEMU_TEST_QEMU_BINARY"],
        build.path().join("qemu-arm").display().to_string()
    );
}

#[test]
fn a_per_architecture_folder_includes_the_generic_tests_of_its_architecture() {
    let (_d, functional) = tree(
        "tests_generic_system = ['version']\ntests_ppc_system_quick = ['migration']\n",
        &["version", "migration"],
    );
    let x86 = functional.join("x86_64");
    std::fs::create_dir_all(&x86).expect("mkdir");
    std::fs::write(
        x86.join("meson.build"),
        "tests_x86_64_system_quick = ['acpi']\n",
    )
    .expect("write");
    std::fs::write(x86.join("test_acpi.py"), "").expect("write");

    let found =
        crate::discover(std::slice::from_ref(&x86), &Default::default()).expect("discovers");

    let mut names: Vec<String> = found
        .qemu_tests
        .iter()
        .map(|t| format!("{} {}", t.arch, t.name))
        .collect();
    names.sort();
    assert_eq!(names, ["x86_64 acpi", "x86_64 version"]);
}

#[test]
fn a_build_directory_names_its_source_tree_through_meson_info() {
    let (d, functional) = tree(MESON, &["version"]);
    let build = tempfile::tempdir().expect("build");
    std::fs::create_dir_all(build.path().join("meson-info")).expect("mkdir");
    let info = format!(
        "{{\"directories\": {{\"source\": \"{}\", \"build\": \"{}\"}}}}",
        d.path().display(),
        build.path().display()
    );
    std::fs::write(build.path().join("meson-info/meson-info.json"), info).expect("write");

    assert_eq!(functional_dir_of_build(build.path()), Some(functional));
    assert_eq!(functional_dir_of_build(d.path()), None);
}
