//! `kennel attach` and `kennel resume`: a person's way into a live test's
//! machine (its second QMP monitor, its HMP monitor, its console), and the end
//! of a pause on failure.

use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use kennel_layout::{JobDir, ResultsRoot, TestDir};
use kennel_results::{AttachRecord, AttachedMachine, ResultsError};
use serde_json::Value;

use crate::args::{AttachArgs, ResumeArgs};
use crate::exit::{CliError, Ending};

/// `kennel attach [JOB] TEST [--machine NAME] [--qmp|--hmp|--console|--shell]`.
pub fn attach(a: AttachArgs) -> Result<Ending, CliError> {
    let dir = match (a.first, a.second) {
        (job, Some(test)) => find_test(&JobDir::new(job), &test)?,
        (folder, None) if is_test_folder(Path::new(&folder)) => PathBuf::from(folder),
        (test, None) => find_test(
            &JobDir::new(ResultsRoot::new(&a.results_dir).latest()),
            &test,
        )?,
    };
    let machine = find_machine(&dir, a.machine.as_deref())?;
    let name = machine.name;
    if a.console {
        let log = machine.console_log;
        eprintln!("kennel: following the console of `{name}` ({log}), read-only; Ctrl-C ends");
        return follow(Path::new(&log)).map(|()| Ending::Ok);
    }
    if a.shell {
        return shell(&dir, &name);
    }
    if a.vnc {
        let socket = machine.vnc.ok_or_else(|| {
            CliError::usage(format!(
                "machine `{name}` has no VNC now: VNC listens only while a test with a display is paused on its failure (`kennel run --pause-on-failure`)"
            ))
        })?;
        print!("{}", vnc_help(&name, &socket));
        return Ok(Ending::Ok);
    }
    let socket = if a.hmp { machine.hmp } else { machine.qmp }
        .ok_or_else(|| CliError::usage(format!("machine `{name}` has no monitor to attach to")))?;
    let stream = UnixStream::connect(&socket).map_err(|e| {
        CliError::usage(format!(
            "cannot connect to {socket}: {e} (has the test ended? `kennel attach` reaches live machines only)"
        ))
    })?;
    if a.hmp {
        eprintln!("kennel: HMP of `{name}` ({socket}); Ctrl-] ends");
        hmp(stream)?;
    } else {
        eprintln!("kennel: QMP of `{name}` ({socket}); type a command (`query-status`) or a JSON object; Ctrl-D ends");
        qmp(stream)?;
    }
    Ok(Ending::Ok)
}

/// A test's own log folder (one `kennel attach` and `kennel resume` take
/// directly): it has the test's `attach.json` or its `paused` file.
fn is_test_folder(path: &Path) -> bool {
    let dir = TestDir::new(path);
    dir.attach_json().is_file() || dir.paused().is_file()
}

/// `kennel resume [JOB|TEST-FOLDER]`: let every paused test of the job finish
/// (or the test of that folder).
pub fn resume(a: ResumeArgs) -> Result<Ending, CliError> {
    let job = a
        .job
        .unwrap_or_else(|| ResultsRoot::new(&a.results_dir).latest());
    let resumed = if is_test_folder(&job) {
        let paused = TestDir::new(&job).paused();
        match std::fs::remove_file(paused) {
            Ok(()) => vec![job.clone()],
            Err(_) => Vec::new(),
        }
    } else {
        resume_job(&JobDir::new(&job))
    };
    if resumed.is_empty() {
        eprintln!("kennel: no paused test in {}", job.display());
        return Ok(Ending::Failed);
    }
    for t in resumed {
        println!("kennel: resumed {}", t.display());
    }
    Ok(Ending::Ok)
}

/// How to reach the VNC server of machine `name` listening on `socket`: a
/// UNIX socket in kennel's private folder, which viewers open directly or
/// through a forwarder of the person's choosing.
fn vnc_help(name: &str, socket: &str) -> String {
    let s = kennel_config::text::shell_word(socket);
    format!(
        "VNC of machine `{name}` listens on the UNIX socket {socket} while the test is paused \
         (only your user can open it):\n\
         \x20 vncviewer {s}    # TigerVNC 1.11 or later\n\
         \x20 remote-viewer vnc+unix://{socket}    # virt-viewer\n\
         \x20 ssh -L 5900:{s} THIS-HOST    # from another computer, then a viewer on localhost:5900\n\
         \x20 socat TCP-LISTEN:5900,bind=127.0.0.1,fork UNIX-CONNECT:{s}    \
         # a viewer that speaks only TCP, on 127.0.0.1:5900 (any local user can reach that port)\n"
    )
}

/// Remove the `paused` file of every test of `job`; the folders of the tests
/// this resumed.
pub fn resume_job(job: &JobDir) -> Vec<PathBuf> {
    let mut resumed = Vec::new();
    for entry in std::fs::read_dir(job.tests_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let paused = TestDir::new(entry.path()).paused();
        if std::fs::remove_file(&paused).is_ok() {
            resumed.push(entry.path());
        }
    }
    resumed
}

/// The test folder `test` names: its folder name (`001-boots`), its number, or
/// its name's slug.
pub(crate) fn find_test(job: &JobDir, test: &str) -> Result<PathBuf, CliError> {
    let slug = kennel_layout::slug(test);
    let mut found: Vec<PathBuf> = std::fs::read_dir(job.tests_dir())
        .map_err(|e| CliError::usage(format!("no job at {}: {e}", job.root().display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            n == test
                || n.split_once('-').is_some_and(|(num, rest)| {
                    num.trim_start_matches('0') == test.trim_start_matches('0') || rest == slug
                })
        })
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(CliError::usage(format!(
            "no test `{test}` in {}",
            job.tests_dir().display()
        ))),
        _ => Err(CliError::usage(format!(
            "`{test}` names several tests: {}",
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The machine's entry of the test's `attach.json` (the first without `--machine`).
fn find_machine(dir: &Path, wanted: Option<&str>) -> Result<AttachedMachine, CliError> {
    let path = TestDir::new(dir).attach_json();
    let no_machine = || {
        CliError::usage(format!(
            "the test in {} has started no machine (no {})",
            dir.display(),
            kennel_layout::ATTACH_JSON
        ))
    };
    let all = match AttachRecord::read(dir) {
        Ok(Some(all)) => all,
        Ok(None) | Err(ResultsError::Read { .. }) => return Err(no_machine()),
        Err(e) => return Err(CliError::usage(kennel_runner::error_chain(&e))),
    };
    all.machine(wanted).cloned().ok_or_else(|| {
        CliError::usage(format!(
            "no machine {} in {}",
            wanted.map(|w| format!("`{w}`")).unwrap_or_default(),
            path.display()
        ))
    })
}

/// A QMP prompt: the greeting, capabilities, then one command per line.
fn qmp(stream: UnixStream) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::usage(format!("QMP connection: {e}"));
    let mut out = stream.try_clone().map_err(io)?;
    let mut replies = BufReader::new(stream);
    let mut line = String::new();
    replies.read_line(&mut line).map_err(io)?;
    print!("{line}");
    writeln!(out, "{{\"execute\":\"qmp_capabilities\"}}").map_err(io)?;
    read_reply(&mut replies)?;
    let stdin = std::io::stdin();
    let prompt = stdin.is_terminal();
    loop {
        if prompt {
            print!("(qmp) ");
            let _ = std::io::stdout().flush();
        }
        let mut input = String::new();
        if stdin.read_line(&mut input).map_err(io)? == 0 {
            return Ok(());
        }
        let input = input.trim();
        if input.is_empty() {
            continue;
        }
        let message = match qmp_message(input) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("kennel: {e}");
                continue;
            }
        };
        writeln!(out, "{message}").map_err(io)?;
        print!("{}", read_reply(&mut replies)?);
        let _ = std::io::stdout().flush();
    }
}

/// Why a line typed at `kennel attach --qmp` is not a QMP message (shown
/// with serde's reason, on one line, to the person typing).
#[derive(Debug, thiserror::Error)]
enum BadQmpLine {
    /// A line starting with `{` that is not JSON.
    #[error("not JSON: {0}")]
    Message(serde_json::Error),
    /// A command whose arguments are not JSON.
    #[error("arguments are not JSON: {0}")]
    Arguments(serde_json::Error),
}

/// `query-status` or `block_resize {"device": "d", "size": 1}` or a whole
/// JSON object, as the line QMP gets.
fn qmp_message(input: &str) -> Result<String, BadQmpLine> {
    if input.starts_with('{') {
        let v: Value = serde_json::from_str(input).map_err(BadQmpLine::Message)?;
        return Ok(v.to_string());
    }
    let (command, args) = input.split_once(' ').unwrap_or((input, ""));
    let mut message = serde_json::json!({ "execute": command });
    if !args.trim().is_empty() {
        let args: Value = serde_json::from_str(args).map_err(BadQmpLine::Arguments)?;
        message["arguments"] = args;
    }
    Ok(message.to_string())
}

/// Lines up to the reply (events that come first included), pretty-printed.
fn read_reply(replies: &mut impl BufRead) -> Result<String, CliError> {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        let n = replies
            .read_line(&mut line)
            .map_err(|e| CliError::usage(format!("QMP connection: {e}")))?;
        if n == 0 {
            text.push_str("(QEMU closed the monitor)\n");
            return Ok(text);
        }
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::String(line.clone()));
        text.push_str(&serde_json::to_string_pretty(&v).unwrap_or(line));
        text.push('\n');
        if v.get("return").is_some() || v.get("error").is_some() {
            return Ok(text);
        }
    }
}

/// The HMP monitor on this terminal, raw, so that QEMU's own line editing
/// and history work; Ctrl-] ends.
fn hmp(stream: UnixStream) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::usage(format!("HMP connection: {e}"));
    let mut from = stream.try_clone().map_err(io)?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdout = std::io::stdout();
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || stdout.write_all(&buf[..n]).is_err() {
                break;
            }
            let _ = stdout.flush();
        }
    });
    let _raw = RawTerminal::enter();
    let mut to = stream;
    let mut buf = [0u8; 1024];
    let mut stdin = std::io::stdin();
    loop {
        let n = stdin.read(&mut buf).map_err(io)?;
        if n == 0 {
            // Input from a file or pipe: give the last command's output a moment.
            std::thread::sleep(std::time::Duration::from_millis(500));
            return Ok(());
        }
        if let Some(at) = buf[..n].iter().position(|b| *b == 0x1d) {
            let _ = to.write_all(&buf[..at]);
            return Ok(());
        }
        to.write_all(&buf[..n]).map_err(io)?;
    }
}

/// The terminal in raw mode while this lives (nothing when stdin is no terminal).
struct RawTerminal(Option<libc::termios>);

impl RawTerminal {
    fn enter() -> RawTerminal {
        if !std::io::stdin().is_terminal() {
            return RawTerminal(None);
        }
        // SAFETY: termios is plain data; tcgetattr fills it for fd 0.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 is a terminal (checked above) and `saved` is valid.
        if unsafe { libc::tcgetattr(0, &mut saved) } != 0 {
            return RawTerminal(None);
        }
        let mut raw = saved;
        // SAFETY: `raw` is a valid termios; fd 0 is a terminal.
        unsafe {
            libc::cfmakeraw(&mut raw);
            libc::tcsetattr(0, libc::TCSANOW, &raw);
        }
        RawTerminal(Some(saved))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            // SAFETY: restores the settings read from fd 0 in `enter`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, saved);
            }
        }
    }
}

/// Print the console log as it grows, until interrupted.
fn follow(log: &Path) -> Result<(), CliError> {
    let mut f = std::fs::File::open(log)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", log.display())))?;
    let mut buf = [0u8; 8192];
    let mut stdout = std::io::stdout();
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| CliError::usage(format!("reading {}: {e}", log.display())))?;
        if n == 0 {
            std::thread::sleep(std::time::Duration::from_millis(200));
            continue;
        }
        let _ = stdout.write_all(&buf[..n]);
        let _ = stdout.flush();
    }
}

/// A shell in the guest: the `ssh` command of a cloud-init machine; other
/// channels belong to the test (one client each).
fn shell(dir: &Path, name: &str) -> Result<Ending, CliError> {
    let cmdline = std::fs::read_to_string(TestDir::new(dir).cmdline()).unwrap_or_default();
    let Some(ssh) = cmdline
        .lines()
        .filter_map(|l| l.strip_prefix("# ssh "))
        .next_back()
    else {
        return Err(CliError::usage(format!(
            "machine `{name}` has no SSH: its guest channel (agent or console shell) is the \
             test's own; use --hmp, --qmp or --console"
        )));
    };
    let args = shlex::split(ssh).unwrap_or_default();
    let status = std::process::Command::new("ssh")
        .args(&args)
        .status()
        .map_err(|e| CliError::usage(format!("cannot run ssh: {e}")))?;
    Ok(if status.success() {
        Ending::Ok
    } else {
        Ending::Failed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_command_and_json_arguments_make_one_qmp_message() {
        assert_eq!(
            qmp_message("query-status").ok().as_deref(),
            Some(r#"{"execute":"query-status"}"#)
        );
        assert_eq!(
            qmp_message(r#"query-cpu-model-expansion {"type": "static"}"#)
                .ok()
                .as_deref(),
            Some(r#"{"execute":"query-cpu-model-expansion","arguments":{"type":"static"}}"#)
        );
        assert!(qmp_message("stop {oops").is_err());
    }
}
