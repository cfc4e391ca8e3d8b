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

use kennel_machine::{Machine, Pattern};

use crate::channel::{ChannelError, ChannelKind, CommandResult, CommandStatus};

/// The shell text that runs `command` with framed output, for command number `seq`.
pub(crate) fn framed(command: &str, seq: u64) -> String {
    let tag = format!("KENNEL{seq}");
    format!(
        "( {command}\n) >/tmp/.kennel.out 2>/tmp/.kennel.err </dev/null; \
         echo \"{tag}B $?\"; cat /tmp/.kennel.out; printf '\\n{tag}M\\n'; \
         cat /tmp/.kennel.err; printf '\\n{tag}E\\n'\n"
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
    let re = regex::RegexBuilder::new(&format!(r"^{tag}B (\d+)\n(.*?)\n{tag}M\n(.*?)\n{tag}E$"))
        .multi_line(true)
        .dot_matches_new_line(true)
        .build()
        .map_err(|e| failed(e.to_string()))?;
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
    // The shell reports a command killed by signal N as 128 + N: that is all a
    // console shell can tell, so it stays an exit code.
    let code = group("1")
        .parse()
        .map_err(|_| failed(format!("unreadable exit status {:?}", group("1"))))?;
    Ok(CommandResult {
        stdout: group("2"),
        stderr: group("3"),
        status: CommandStatus::Exited(code),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the framing through a real shell, as the guest's would.
    #[test]
    fn framing_separates_streams_and_status_in_a_real_shell() {
        let script = framed(
            "echo out; echo err >&2; exit_code() { return 3; }; exit_code",
            7,
        )
        .replace(
            "/tmp/.kennel",
            &format!("/tmp/.kennel-test-{}", std::process::id()),
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("sh");
        let text = String::from_utf8_lossy(&out.stdout);
        let re = regex::RegexBuilder::new(r"^KENNEL7B (\d+)\n(.*?)\nKENNEL7M\n(.*?)\nKENNEL7E$")
            .multi_line(true)
            .dot_matches_new_line(true)
            .build()
            .expect("regex");
        let caps = re.captures(&text).expect("framed output");
        assert_eq!(&caps[1], "3");
        assert_eq!(&caps[2], "out\n");
        assert_eq!(&caps[3], "err\n");
    }
}
