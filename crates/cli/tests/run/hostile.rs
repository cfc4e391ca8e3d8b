//! Hostile guests, end to end (issue 28): output without end, and the like.
//! Each ends as FAIL or ERROR with a clear reason, in bounded memory (the
//! peak of every kennel process is measured, [`crate::peaks`]), and the job
//! goes on.

use crate::harness::*;
use crate::peaks::{assert_peaks_below, kennel_with_peaks};

/// What no kennel process may hold at its peak while a guest prints 500 MB:
/// each output stream keeps 4 MiB (`kennel_config::text::KEPT_OUTPUT`); the
/// rest is the process itself (about 20 MiB for the runner, 50 for a test
/// process). Before the bound a test process held the whole output, twice.
const PEAK_LIMIT_MIB: u64 = 128;

/// A test whose guest command prints 500 MB of `x`, then `THE-END`, and whose
/// check looks for `want` in its stdout.
fn printing_500_mb(name: &str, want: &str) -> String {
    format!(
        r#"
name = "{name}"
tags = ["arch:x86_64"]
timeout = "1200s"

[machine]
guest = "busybox"

[[step]]
run = "echo THE-START; head -c 500000000 /dev/zero | tr '\\0' x; echo; echo THE-END"
stdout_contains = "{want}"
timeout = "1000s"
"#
    )
}

#[test]
fn a_guest_command_printing_500_mb_passes_or_fails_in_bounded_memory() {
    let dir = test_dir(&[
        ("tail.toml", &printing_500_mb("end found", "THE-END")),
        (
            "missing.toml",
            &printing_500_mb("word missing", "NOT-PRINTED"),
        ),
    ]);

    let (run, peaks) = kennel_with_peaks(&[path_str(dir.path()), "-j", "2"], &[]);

    assert_eq!(run.test("end found")["status"], "PASS", "{}", run.stdout);
    let missing = run.test("word missing");
    assert_eq!(missing["status"], "FAIL", "{missing}");
    let detail = missing["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("stdout lacks \"NOT-PRINTED\""), "{detail}");
    assert!(detail.contains("THE-START"), "{detail}");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_peaks_below(&peaks, PEAK_LIMIT_MIB);
}

/// A guest command that stops the real agent and writes `bytes` to the
/// agent's virtio-serial port itself, then does `then`: the host sees them
/// where it waits for the command's reply.
fn impostor_agent(name: &str, bytes: &[u8], then: &str) -> String {
    let octal: String = bytes.iter().map(|b| format!("\\{b:03o}")).collect();
    format!(
        r#"
name = "{name}"
tags = ["arch:x86_64"]
timeout = "600s"

[machine]
guest = "busybox"

[[step]]
run = '''
exec >/dev/null 2>&1
for p in /sys/class/virtio-ports/*; do [ "$(cat $p/name)" = org.kennel.agent ] && port=/dev/$(basename $p); done
kill -9 $PPID
sleep 1
printf '{octal}' > $port
{then}
'''
timeout = "60s"
"#
    )
}

/// A frame as the agent protocol has it: length (u32 BE), kind, payload.
fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = u32::try_from(payload.len())
        .expect("small")
        .to_be_bytes()
        .to_vec();
    bytes.push(kind);
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn an_impostor_agent_ends_its_test_with_the_protocol_error_and_the_job_goes_on() {
    let never_asked = br#"{"type":"exit","id":4000000000,"exit_code":0,"signal":null,"duration_us":1,"timed_out":false}"#;
    let mut mid_frame = frame(b'O', &[0, 0, 0, 1, b'a', b'b', b'c']);
    mid_frame[3] = 100;
    let dir = test_dir(&[
        (
            "a.toml",
            &impostor_agent("4 GiB frame", b"\xff\xff\xff\xffO", "sleep 600"),
        ),
        (
            "b.toml",
            &impostor_agent("invalid JSON", &frame(b'J', b"{nope"), "sleep 600"),
        ),
        (
            "c.toml",
            &impostor_agent(
                "reply never asked for",
                &frame(b'J', never_asked),
                "sleep 600",
            ),
        ),
        (
            "d.toml",
            &impostor_agent(
                "closed mid frame",
                &mid_frame,
                "echo o >/proc/sysrq-trigger; sleep 600",
            ),
        ),
        (
            "e.toml",
            r#"
name = "endless output"
tags = ["arch:x86_64"]
timeout = "600s"

[machine]
guest = "busybox"

[[step]]
run = "yes"
timeout = "20s"
"#,
        ),
        (
            "f.toml",
            r#"
name = "well behaved"
tags = ["arch:x86_64"]
timeout = "600s"

[machine]
guest = "busybox"

[[step]]
run = "echo fine"
stdout = "fine"
"#,
        ),
    ]);

    let (run, peaks) = kennel_with_peaks(&[path_str(dir.path()), "-j", "2"], &[]);

    let reason = |name: &str| {
        let test = run.test(name);
        let text = |key: &str| test[key].as_str().unwrap_or_default().to_string();
        format!("{} {}\n{}", text("status"), text("reason"), text("detail"))
    };
    for name in [
        "4 GiB frame",
        "invalid JSON",
        "reply never asked for",
        "closed mid frame",
        "endless output",
    ] {
        let said: Vec<String> = reason(name)
            .lines()
            .filter(|l| l.contains("agent") || l.contains("timed out") || l.contains("QEMU"))
            .map(str::to_string)
            .collect();
        println!("{name}: {}", said.join(" / "));
    }
    for (name, want) in [
        ("4 GiB frame", "ERROR"),
        ("invalid JSON", "ERROR"),
        ("reply never asked for", "ERROR"),
    ] {
        assert!(reason(name).starts_with(want), "{name}: {}", reason(name));
    }
    assert!(
        reason("4 GiB frame").contains("frame of 4294967295 bytes exceeds the limit"),
        "{}",
        reason("4 GiB frame")
    );
    assert!(
        reason("invalid JSON").contains("invalid message"),
        "{}",
        reason("invalid JSON")
    );
    assert!(
        reason("reply never asked for")
            .contains("a reply for request 4000000000, which was never sent"),
        "{}",
        reason("reply never asked for")
    );
    let closed = reason("closed mid frame");
    // The guest powers off with half a frame sent: QEMU exits, the channel closes.
    assert!(closed.starts_with("ERROR"), "{closed}");
    assert!(closed.contains("closed the channel"), "{closed}");
    assert!(closed.contains("(in the middle of a frame: "), "{closed}");
    let endless = reason("endless output");
    assert!(
        endless.starts_with("FAIL") && endless.contains("timed out"),
        "{endless}"
    );
    assert_eq!(run.test("well behaved")["status"], "PASS", "{}", run.stdout);
    assert_peaks_below(&peaks, PEAK_LIMIT_MIB);
}
