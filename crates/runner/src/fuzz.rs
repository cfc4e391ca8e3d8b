//! Fuzz targets for what the runner reads from programs and files it does not
//! control (see the `kennel-fuzz` crate): TAP and the unittest stream, both
//! streams of a producer read together, `meson.build`, and the journal.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use kennel_fuzz::{Rng, Target};

use crate::point_text::{failure_line, point_name, point_outcome, unittest_id};
use crate::qemu_tree::meson;
use crate::streams::{read_streams, Streams};
use crate::tap::TapReader;

#[global_allocator]
static ALLOCATOR: kennel_fuzz::CountingAllocator = kennel_fuzz::CountingAllocator;

const TAP_TOKENS: &[&[u8]] = &[
    b"TAP version 13\n",
    b"1..18446744073709551615\n",
    b"1..0 # SKIP no\n",
    b"ok 1 - a\n",
    b"not ok 2 - b # TODO later\n",
    b"ok 3 # skip why\n",
    b"Bail out! gone\n",
    b"  ---\n  message: x\n  ...\n",
    b"# diag\n",
    b"\\#",
    b"Traceback (most recent call last):\n",
    b"AssertionError: 1 != 2\n",
    b"test_x (test_mod.Class.test_x)",
];

/// TAP as pycotap and kennel write it, with the pieces out of order.
fn tap(rng: &mut Rng) -> Vec<u8> {
    const LINES: &[&str] = &[
        "TAP version 13",
        "1..3",
        "1..0 # SKIP nothing here",
        "ok 1 test_a.A.test_one",
        "not ok 2 test_a.A.test_two",
        "ok 3 - three # SKIP not here",
        "not ok 4 # TODO",
        "  ---",
        "  message: 'boom'",
        "  severity: fail",
        "  ...",
        "# Traceback (most recent call last):",
        "#   File \"test_a.py\", line 3, in test_two",
        "# AssertionError: 1 != 2",
        "Bail out! no QEMU",
        "ok",
        "not ok",
        "ok 18446744073709551616",
        "ok -1",
        "plain output",
    ];
    let mut text = String::new();
    for _ in 0..rng.below(30) {
        let line: &&str = rng.pick(LINES);
        text.push_str(line);
        text.push('\n');
    }
    text.into_bytes()
}

/// Reading TAP in chunks and turning every point into its name, verdict and
/// failure line never panics, and the reader keeps no line past its limit.
#[test]
fn fuzz_tap() {
    Target::new("tap")
        .dictionary(TAP_TOKENS)
        .generator(tap)
        .run(|input| {
            let mut reader = TapReader::default();
            let step = 1 + usize::from(input.first().copied().unwrap_or(0));
            let mut points = Vec::new();
            for chunk in input.chunks(step) {
                points.extend(reader.feed(chunk));
            }
            points.extend(reader.finish());
            let _ = reader.is_tap();
            // Each point gets its share of the input as its stderr, as a
            // producer that wrote all of it between its points would.
            let share = input.len() / points.len().max(1) + 1;
            let stderrs = input.chunks(share).chain(std::iter::repeat(&[][..]));
            for (point, stderr) in points.iter().zip(stderrs) {
                let name = point_name(point);
                let _ = unittest_id(&name);
                let _ = point_outcome(point, &String::from_utf8_lossy(stderr));
            }
            let _ = failure_line(&String::from_utf8_lossy(input));
        });
}

/// A producer's stdout (TAP) and stderr (its tracebacks), written by a real
/// process and read together: the points arrive, whatever the bytes.
#[test]
fn fuzz_tap_streams() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    Target::new("tap_streams")
        .dictionary(TAP_TOKENS)
        .generator(tap)
        .run(|input| {
            // The first NUL splits stdout from stderr.
            let cut = input.iter().position(|&b| b == 0).unwrap_or(input.len());
            std::fs::write(&out, &input[..cut]).expect("write stdout");
            std::fs::write(&err, input.get(cut + 1..).unwrap_or_default()).expect("write stderr");
            let mut child = Command::new("sh")
                .args(["-c", "cat \"$1\"; cat \"$2\" >&2; cat \"$1\"", "sh"])
                .args([&out, &err])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("sh");
            let log = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log");
            let streams = Streams {
                stdout: child.stdout.take(),
                stderr: child.stderr.take(),
                stdout_log: log("test.log"),
                stderr_log: log("stderr.log"),
            };
            let (tx, rx) = std::sync::mpsc::channel();
            let reader = read_streams(streams, Instant::now(), &tx);
            let _ = child.wait();
            drop(tx);
            assert_eq!(
                rx.iter().count(),
                reader.points.len(),
                "every point is handed out once"
            );
        });
}

/// A `meson.build` as QEMU's tree has them, read for every variable: each
/// warning names a line of the file.
#[test]
fn fuzz_meson_build() {
    const TOKENS: &[&[u8]] = &[
        b"tests_x86_64_system_quick = [\n  'a',\n]\n",
        b"test_timeouts = {\n  'a' : 90,\n}\n",
        b" += ",
        b"'''",
        b"f'",
        b"#",
        b"[",
        b"{",
        b"18446744073709551616",
        b"\\'",
    ];
    Target::new("meson_build")
        .dictionary(TOKENS)
        .max_len(256 * 1024)
        .run(|input| {
            let text = String::from_utf8_lossy(input);
            let vars = meson::read(&text, |_| true);
            let lines = text.split('\n').count();
            for warning in &vars.warnings {
                let line: usize = warning
                    .split(':')
                    .next()
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or_else(|| panic!("a warning without its line: {warning}"));
                assert!(
                    (1..=lines).contains(&line),
                    "warning for line {line} of {lines}: {warning}"
                );
            }
        });
}

/// A journal as a runner that died, a full disk or a stray editor left it:
/// recovery reads what it can and hands out each planned test once at most
/// per line.
#[test]
fn fuzz_journal() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let path = dir.path().join("journal.jsonl");
    Target::new("journal")
        .dictionary(JOURNAL_TOKENS)
        .run(|input| {
            std::fs::File::create(&path)
                .and_then(|mut f| f.write_all(input))
                .expect("write the journal");
            let mut handed = 0usize;
            let recovered =
                crate::recover(&path, &mut |_| handed += 1).expect("a journal that exists reads");
            let lines = input.iter().filter(|&&b| b == b'\n').count();
            assert!(handed <= lines, "{handed} results from {lines} lines");
            assert!(recovered.unreadable.len() <= lines);
        });
}

/// Tokens of the journal's lines, shared with the report's rebuild target.
pub(crate) const JOURNAL_TOKENS: &[&[u8]] = &[
    b"{\"kind\":\"job\",\"job_id\":\"j\",\"started\":\"2026-12-07T21:57:55Z\",\"total\":18446744073709551615,\"options\":null}\n",
    b"{\"kind\":\"started\",\"index\":4294967296}\n",
    b"{\"kind\":\"ended\",\"index\":0}\n",
    b"{\"kind\":\"done\",\"interrupted\":false,\"duration_s\":1e308}\n",
    b"\"index\":",
    b"\"status\":\"FAIL\"",
    b"\"kind\":\"finished\"",
    b"\"kind\":\"planned\"",
];

/// Found by `fuzz_journal`: a `started` line for test 14294967295 made
/// recovery allocate 457 GB of progress records for the tests before it.
#[test]
fn a_journal_line_for_a_test_past_any_job_is_passed_over_saying_where() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let path = dir.path().join("journal.jsonl");
    let journal = concat!(
        "{\"kind\":\"job\",\"job_id\":\"j\",\"started\":\"2026-12-07T21:57:55Z\",\"total\":18446744073709551615}\n",
        "{\"kind\":\"started\",\"index\":14294967295}\n",
        "{\"kind\":\"done\",\"interrupted\":false,\"duration_s\":1.0}\n",
    );
    std::fs::write(&path, journal).expect("write the journal");
    let mut handed = 0;
    let recovered = crate::recover(&path, &mut |_| handed += 1).expect("recover");
    assert_eq!(handed, 0);
    assert_eq!(recovered.unreadable.len(), 1, "{:?}", recovered.unreadable);
    assert!(
        recovered.unreadable[0]
            .ends_with(":2: test index 14294967295 is past the 1048576 tests a job may have"),
        "{}",
        recovered.unreadable[0]
    );
}
