//! Issue 29, item 2: `kennel list --changed REF --why` (and `kennel run
//! --changed`) in a small git repository made here: a `MAINTAINERS` file whose
//! sections list tests, TOML tests with `covers`, and one commit per case: a
//! change under a section with listed tests, a change to a test file, a change
//! a `covers` pattern names, a global change, and a file no rule covers.

use std::path::Path;
use std::process::Command;

const MAINTAINERS: &str = "\
Project Maintainers
\tM: Mail patches to: FullName <address@domain>

Network devices
M: Someone <someone@example.org>
F: hw/net/
X: hw/net/rocker/
F: tests/kennel/net.toml

Block layer
F: block/
F: tests/kennel/block*.toml

Documentation
F: docs/

THE REST
F: *
F: */
";

/// A test that would run on no machine at all (only listed here).
fn test_file(name: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\n{extra}\n[machine]\ntype = \"none\"\n\n[[step]]\nqmp = \"query-status\"\n"
    )
}

fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=kennel",
            "-c",
            "user.email=kennel@example.org",
        ])
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(repo: &Path, rel: &str, text: &str) {
    let path = repo.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// The repository: its first commit holds everything.
fn repo() -> Option<tempfile::TempDir> {
    kennel_testkit::need_command("git", "git")?;
    let dir = tempfile::tempdir().expect("repo");
    let r = dir.path();
    git(r, &["init", "-q", "-b", "main"]);
    write(r, "MAINTAINERS", MAINTAINERS);
    write(r, "meson.build", "project('x')\n");
    write(r, "hw/net/e1000.c", "int e1000;\n");
    write(r, "hw/net/rocker/rocker.c", "int rocker;\n");
    write(r, "block/qcow2.c", "int qcow2;\n");
    write(r, "ui/vnc.c", "int vnc;\n");
    write(r, "docs/index.rst", "QEMU\n");
    write(r, "tests/kennel/net.toml", &test_file("net", ""));
    write(r, "tests/kennel/block.toml", &test_file("block", ""));
    write(
        r,
        "tests/kennel/ui.toml",
        &test_file("ui", "covers = [\"ui/*\"]"),
    );
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "base"]);
    Some(dir)
}

/// Commit `edits` on top, then `kennel list --changed HEAD~1 --why`: stdout.
fn listed_after(repo: &Path, edits: &[(&str, &str)]) -> String {
    for (rel, text) in edits {
        write(repo, rel, text);
    }
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "change"]);
    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["list", "tests/kennel", "--changed", "HEAD~1", "--why"])
        .current_dir(repo)
        .output()
        .expect("kennel list");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The names of the tests listed (the lines that are not `why:` lines).
fn names(listed: &str) -> Vec<&str> {
    listed
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split("  ").next())
        .collect()
}

#[test]
fn a_change_under_a_section_selects_the_tests_it_lists_and_says_which_rule() {
    let Some(repo) = repo() else {
        return;
    };

    let listed = listed_after(repo.path(), &[("hw/net/e1000.c", "int e1000 = 1;\n")]);

    assert_eq!(names(&listed), ["net"], "{listed}");
    assert!(
        listed.contains(
            "why: hw/net/e1000.c: MAINTAINERS \"Network devices\" (line 4): F: hw/net/; \
             its F: tests/kennel/net.toml lists the test"
        ),
        "{listed}"
    );
}

#[test]
fn an_excluded_file_only_the_catch_all_section_covers_is_global() {
    let Some(repo) = repo() else {
        return;
    };

    // hw/net/rocker/ is X: of "Network devices": only THE REST is about it.
    write(repo.path(), "hw/net/rocker/rocker.c", "int rocker = 1;\n");
    git(repo.path(), &["commit", "-q", "-am", "rocker"]);
    let listed = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["list", "tests/kennel", "--changed", "HEAD~1", "--why"])
        .current_dir(repo.path())
        .output()
        .expect("kennel list");
    let stdout = String::from_utf8_lossy(&listed.stdout);

    assert_eq!(names(&stdout), ["block", "net", "ui"], "{stdout}");
    assert!(
        stdout.contains("why: a global change runs every test"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(
        stderr.contains("no rule covers hw/net/rocker/rocker.c"),
        "{stderr}"
    );
}

#[test]
fn a_changed_test_file_selects_itself_and_its_sections_tests() {
    let Some(repo) = repo() else {
        return;
    };

    let listed = listed_after(
        repo.path(),
        &[("tests/kennel/block.toml", &test_file("block", "# edited"))],
    );

    assert_eq!(names(&listed), ["block"], "{listed}");
    assert!(
        listed.contains("why: tests/kennel/block.toml: the test file changed"),
        "{listed}"
    );
}

#[test]
fn a_covers_pattern_selects_its_test() {
    let Some(repo) = repo() else {
        return;
    };

    let listed = listed_after(repo.path(), &[("ui/vnc.c", "int vnc = 1;\n")]);

    assert_eq!(names(&listed), ["ui"], "{listed}");
    assert!(
        listed.contains("why: ui/vnc.c: covers \"ui/*\""),
        "{listed}"
    );
}

#[test]
fn a_documentation_change_selects_no_test() {
    let Some(repo) = repo() else {
        return;
    };

    let listed = listed_after(repo.path(), &[("docs/index.rst", "QEMU docs\n")]);

    assert_eq!(names(&listed), Vec::<&str>::new(), "{listed}");
}

#[test]
fn a_build_file_change_is_global_and_runs_everything() {
    let Some(repo) = repo() else {
        return;
    };

    let listed = listed_after(repo.path(), &[("meson.build", "project('y')\n")]);

    assert_eq!(names(&listed), ["block", "net", "ui"], "{listed}");
    assert!(
        listed.contains("why: a global change runs every test"),
        "{listed}"
    );
}

#[test]
fn without_an_upstream_the_default_base_is_the_last_commit_and_says_so() {
    let Some(repo) = repo() else {
        return;
    };
    write(repo.path(), "hw/net/e1000.c", "int e1000 = 2;\n");
    git(repo.path(), &["commit", "-q", "-am", "net"]);

    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["list", "tests/kennel", "--changed"])
        .current_dir(repo.path())
        .output()
        .expect("kennel list");

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the branch has no upstream"), "{stderr}");
    assert_eq!(names(&String::from_utf8_lossy(&out.stdout)), ["net"]);
}

/// A QEMU tree: `tests/functional` with its `meson.build` lists, and a
/// `MAINTAINERS` in QEMU's shape (headings underlined, the catch-all first).
const QEMU_MAINTAINERS: &str = "\
QEMU Maintainers
================
\tF: Files and directories with wildcard patterns.

General Project Administration
------------------------------
M: Someone <someone@example.org>

All patches CC here
L: qemu-devel@nongnu.org
F: *
F: */

Guest CPU cores (TCG)
---------------------
PowerPC TCG CPUs
M: Someone <someone@example.org>
F: target/ppc/
F: hw/ppc/ppc.c
F: tests/functional/test_ppc_74xx.py

ARM Machines
------------
ARM Virt
F: hw/arm/virt*
F: tests/functional/test_aarch64_virt.py
";

const QEMU_MESON: &str = "\
tests_generic_system = ['version']
tests_ppc_system_quick = ['ppc_74xx']
tests_aarch64_system_quick = ['aarch64_virt']
";

#[test]
fn in_a_qemu_tree_a_change_selects_the_functional_tests_its_sections_list() {
    if kennel_testkit::need_command("git", "git").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("repo");
    let r = dir.path();
    git(r, &["init", "-q", "-b", "main"]);
    write(r, "MAINTAINERS", QEMU_MAINTAINERS);
    write(r, "tests/functional/meson.build", QEMU_MESON);
    write(r, "tests/functional/qemu_test/__init__.py", "");
    for t in ["version", "ppc_74xx", "aarch64_virt"] {
        write(
            r,
            &format!("tests/functional/test_{t}.py"),
            "print('1..0')\n",
        );
    }
    write(r, "target/ppc/translate.c", "int t;\n");
    write(r, "hw/arm/virt.c", "int v;\n");
    git(r, &["add", "-A"]);
    git(r, &["commit", "-q", "-m", "base"]);
    write(r, "target/ppc/translate.c", "int t = 1;\n");
    git(r, &["commit", "-q", "-am", "ppc"]);

    // No path: in a QEMU tree kennel takes its tests/functional.
    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["list", "--changed", "HEAD~1", "--why"])
        .current_dir(r)
        .output()
        .expect("kennel list");

    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        names(&listed),
        ["tests/functional/test_ppc_74xx.py [ppc]"],
        "{listed}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        listed.contains(
            "why: target/ppc/translate.c: MAINTAINERS \"PowerPC TCG CPUs\" (line 16): F: target/ppc/"
        ),
        "{listed}"
    );
}
