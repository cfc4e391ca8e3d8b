//! Issue 27, item 6: `kennel completions SHELL` and `kennel man`.

use std::path::Path;
use std::process::{Command, Output};

use kennel_testkit::{need_command, OutputWithin, RUN_BOUND};

fn kennel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(args)
        .output_within(RUN_BOUND)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The completion script for `shell`, written into `dir`.
fn script(shell: &str, dir: &Path) -> std::path::PathBuf {
    let out = kennel(&["completions", shell]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let path = dir.join(format!("kennel.{shell}"));
    std::fs::write(&path, &out.stdout).expect("write the script");
    path
}

#[test]
fn the_bash_completion_script_parses_and_completes_a_subcommand_and_a_flag() {
    let Some(bash) = need_command("bash", "bash") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let script = script("bash", dir.path());

    let syntax = Command::new(&bash)
        .arg("-n")
        .arg(&script)
        .output_within(RUN_BOUND);
    // As bash calls a completion function: the command, the word, the word before.
    let complete = |words: &str, cword: usize, cur: &str, prev: &str| {
        let probe = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; \
             _kennel kennel {cur} {prev}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new(&bash)
            .args(["-c", &probe])
            .output_within(RUN_BOUND);
        assert!(out.status.success(), "{out:?}");
        stdout(&out)
    };
    let subcommands = complete("kennel ru", 1, "ru", "kennel");
    let flags = complete("kennel run --sha", 2, "--sha", "run");

    assert!(syntax.status.success(), "bash -n: {syntax:?}");
    assert_eq!(subcommands.trim(), "run", "{subcommands}");
    assert!(flags.lines().any(|l| l == "--shard"), "{flags}");
    assert!(flags.lines().any(|l| l == "--shard-history"), "{flags}");
}

#[test]
fn zsh_and_fish_scripts_name_every_subcommand() {
    let dir = tempfile::tempdir().expect("temp dir");

    for shell in ["zsh", "fish"] {
        let text = std::fs::read_to_string(script(shell, dir.path())).expect("script");
        for sub in [
            "run",
            "list",
            "replay",
            "attach",
            "doctor",
            "completions",
            "man",
        ] {
            assert!(text.contains(sub), "{shell} script lacks `{sub}`");
        }
    }
}

#[test]
fn an_unknown_shell_is_refused_naming_the_ones_there_are() {
    let out = kennel(&["completions", "tcsh"]);

    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bash") && err.contains("zsh") && err.contains("fish"),
        "{err}"
    );
}

#[test]
fn the_manual_page_renders_with_man() {
    let Some(man) = need_command("man", "man-db") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("kennel.1");
    let roff = kennel(&["man"]);
    std::fs::write(&page, &roff.stdout).expect("write the page");

    let shown = Command::new(man)
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output_within(RUN_BOUND);

    assert_eq!(roff.status.code(), Some(0), "{roff:?}");
    assert!(
        stdout(&roff).starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        stdout(&roff)
    );
    assert!(shown.status.success(), "{shown:?}");
    let text = stdout(&shown);
    assert!(text.contains("NAME"), "{text}");
    assert!(
        text.contains("kennel - Functional tests for QEMU and virtual machines"),
        "{text}"
    );
    assert!(text.contains("kennel-run(1)"), "{text}");
}

#[test]
fn man_with_a_dir_writes_a_page_per_command() {
    let dir = tempfile::tempdir().expect("temp dir");

    let out = kennel(&["man", "--dir", dir.path().to_str().expect("UTF-8")]);

    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for page in [
        "kennel.1",
        "kennel-run.1",
        "kennel-completions.1",
        "kennel-report-merge.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH "), "{page}");
    }
}

#[test]
fn completions_and_man_work_beside_a_broken_kennel_toml() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("kennel.toml"), "this is = = not toml").expect("write");

    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["completions", "bash"])
        .current_dir(dir.path())
        .output_within(RUN_BOUND);

    assert_eq!(out.status.code(), Some(0), "{out:?}");
}
