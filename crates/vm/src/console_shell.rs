//! The fallback guest channel: a shell on the serial console, with framing that
//! keeps a command's stdout, stderr and exit status apart.
//!
//! The command runs in a subshell (an `exit` in it must not end the console's
//! shell, which may be the guest's init) with its stdout and stderr redirected to
//! files in the guest;
//! then the shell prints a begin marker with the exit status, the stdout file, a
//! middle marker, the stderr file and an end marker, each marker alone on a line
//! and numbered per command. The echo of the typed line never matches, because
//! there the markers are not at the start of a line.

use std::time::Instant;

use kennel_config::text::{left_out_marker, KEPT_OUTPUT};
use kennel_machine::{Machine, Pattern};

use crate::channel::{ChannelError, ChannelKind, CommandResult, CommandStatus};

/// How many bytes of each stream's head and of its tail come back through the
/// console: a quarter of [`KEPT_OUTPUT`], so that both streams together stay
/// well inside what the console's capture keeps.
const HALF_KEPT: usize = KEPT_OUTPUT / 4;

/// The shell text that runs `command` with framed output, for command number `seq`.
///
/// The begin marker carries the exit status and the sizes of stdout and
/// stderr; a stream longer than twice [`HALF_KEPT`] comes back as its head, a
/// cut marker line and its tail.
pub(crate) fn framed(command: &str, seq: u64) -> String {
    let tag = format!("KENNEL{seq}");
    let kept = |file: &str| {
        format!(
            "if [ \"$(wc -c <{file})\" -gt {whole} ]; then head -c {HALF_KEPT} {file}; \
             printf '\\n{tag}C\\n'; tail -c {HALF_KEPT} {file}; else cat {file}; fi",
            whole = 2 * HALF_KEPT
        )
    };
    format!(
        "( {command}\n) >/tmp/.kennel.out 2>/tmp/.kennel.err </dev/null; kennel_status=$?; \
         echo \"{tag}B $kennel_status $(wc -c </tmp/.kennel.out) $(wc -c </tmp/.kennel.err)\"; \
         {}; printf '\\n{tag}M\\n'; {}; printf '\\n{tag}E\\n'\n",
        kept("/tmp/.kennel.out"),
        kept("/tmp/.kennel.err"),
    )
}

/// Run `command` through the console shell of `m` and wait for its framed output.
/// `seq` numbers the command (each needs its own markers).
pub(crate) fn run(
    m: &mut Machine,
    command: &str,
    seq: u64,
    deadline: Instant,
) -> Result<CommandResult, ChannelError> {
    let failed = |why: String| ChannelError::Failed {
        channel: ChannelKind::Console,
        why,
    };
    let console = m.console().map_err(|e| failed(e.to_string()))?.clone();
    console.skip_to_end();
    m.console_write(framed(command, seq).as_bytes())
        .map_err(|e| failed(e.to_string()))?;
    let tag = format!("KENNEL{seq}");
    let re = frame_regex(&tag).map_err(|e| failed(e.to_string()))?;
    let found = console
        .wait_for(&Pattern::Regex(re), deadline)
        .map_err(|e| ChannelError::from_wait(e, m))?;
    let group = |i: &str| {
        found
            .groups
            .iter()
            .find(|(k, _)| k == i)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let number = |i: &str| {
        group(i)
            .parse::<u64>()
            .map_err(|_| failed(format!("unreadable number {:?} in the frame", group(i))))
    };
    // The shell reports a command killed by signal N as 128 + N: that is all a
    // console shell can tell, so it stays an exit code.
    let code = i32::try_from(number("1")?)
        .map_err(|_| failed(format!("unreadable exit status {:?}", group("1"))))?;
    Ok(CommandResult {
        stdout: uncut(group("4"), number("2")?, &tag),
        stderr: uncut(group("5"), number("3")?, &tag),
        status: CommandStatus::Exited(code),
    })
}

/// The regex of command `tag`'s framed output: status, sizes, stdout, stderr.
fn frame_regex(tag: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!(
        r"^{tag}B (\d+) +(\d+) +(\d+)\n(.*?)\n{tag}M\n(.*?)\n{tag}E$"
    ))
    .multi_line(true)
    .dot_matches_new_line(true)
    .build()
}

/// A stream's text with its cut marker line (if the guest cut it) replaced by
/// kennel's one marker for bytes left out.
fn uncut(text: String, size: u64, tag: &str) -> String {
    let cut = format!("\n{tag}C\n");
    let left_out = size.saturating_sub(2 * HALF_KEPT as u64);
    match text.split_once(&cut) {
        Some((head, tail)) if left_out > 0 => {
            let marker = left_out_marker(left_out, HALF_KEPT as u64);
            format!("{head}{marker}{tail}")
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The framed text of `command` (number 7) run by a real shell, as the
    /// guest's would, and the frame's groups.
    fn through_a_real_shell(command: &str) -> (String, u64, String, u64, String) {
        let script = framed(command, 7).replace(
            "/tmp/.kennel",
            &format!("/tmp/.kennel-test-{}", std::process::id()),
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("sh");
        let text = String::from_utf8_lossy(&out.stdout);
        let caps = frame_regex("KENNEL7")
            .expect("regex")
            .captures(&text)
            .map(|c| {
                let n = |i: usize| c[i].parse::<u64>().expect("number");
                (
                    c[1].to_string(),
                    n(2),
                    c[4].to_string(),
                    n(3),
                    c[5].to_string(),
                )
            })
            .expect("framed output");
        caps
    }

    #[test]
    fn framing_separates_streams_and_status_in_a_real_shell() {
        let (status, out_size, stdout, err_size, stderr) =
            through_a_real_shell("echo out; echo err >&2; exit_code() { return 3; }; exit_code");

        assert_eq!(status, "3");
        assert_eq!((out_size, stdout.as_str()), (4, "out\n"));
        assert_eq!((err_size, stderr.as_str()), (4, "err\n"));
    }

    #[test]
    fn a_long_stream_comes_back_as_its_ends_and_the_size_left_out() {
        let (_, out_size, stdout, _, _) = through_a_real_shell(
            "printf HEAD; head -c 5000000 /dev/zero | tr '\\0' x; printf TAIL",
        );
        let text = uncut(stdout, out_size, "KENNEL7");

        assert_eq!(out_size, 5_000_008);
        assert!(text.len() < 2 * HALF_KEPT + 200, "{}", text.len());
        assert!(text.starts_with("HEADxxx") && text.ends_with("xxxTAIL"));
        let left_out = 5_000_008 - 2 * HALF_KEPT as u64;
        assert!(text.contains(&left_out_marker(left_out, HALF_KEPT as u64)));
    }
}
