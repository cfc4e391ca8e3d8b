//! Fuzz target for console matching (see the `kennel-fuzz` crate): a
//! guest's console, cut into reads anywhere, against text and regex waits.

use std::time::{Duration, Instant};

use kennel_fuzz::{Rng, Target};
use regex::Regex;

use crate::capture::{Capture, Pattern};

#[global_allocator]
static ALLOCATOR: kennel_fuzz::CountingAllocator = kennel_fuzz::CountingAllocator;

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r",
    b"\n",
    b"login: ",
    b"Kernel panic",
    b"\xe2\x82",
    b"\xac",
    b"\xf0\x9f\x98",
    b"\x1b[2J",
    b"\x00",
];

/// A pattern line, then console text: boot lines, prompts, split
/// characters, bare carriage returns.
fn console(rng: &mut Rng) -> Vec<u8> {
    const PATTERNS: &[&str] = &[
        "login: ",
        "re:(?m)^Linux version (\\S+)",
        "re:(?P<n>\\d+) MB",
        "\u{e9}t\u{e9}",
        "\r",
        "re:.*",
    ];
    const PIECES: &[&str] = &[
        "[    0.000000] Linux version 6.1.0 (gcc)\r\n",
        "Memory: 512 MB\n",
        "login: ",
        "\r",
        "\n",
        "\r\n",
        "\u{e9}t\u{e9}",
        "Kernel panic - not syncing",
        "\u{1b}]0;title\u{7}",
        "\u{202e}",
    ];
    let mut out = String::from(*rng.pick(PATTERNS));
    out.push('\n');
    for _ in 0..rng.below(40) {
        let piece: &&str = rng.pick(PIECES);
        out.push_str(piece);
    }
    let mut bytes = out.into_bytes();
    if rng.one_in(3) {
        let cut = rng.below(bytes.len());
        bytes.insert(cut, *rng.pick(&[0xe2, 0x82, 0xff, b'\r']));
    }
    bytes
}

/// However the stream is cut into reads, the kept text is the same (CRLF
/// folded, split UTF-8 kept whole, invalid bytes replaced); a wait that
/// runs while the text arrives finds every occurrence of a text pattern,
/// each only once, and ends when the stream does.
#[test]
fn fuzz_console() {
    Target::new("console")
        .dictionary(TOKENS)
        .generator(console)
        .run(|input| {
            let (head, stream) = match input.iter().position(|&b| b == b'\n') {
                Some(at) => (&input[..at], &input[at + 1..]),
                None => (&input[..0], input),
            };
            let head = String::from_utf8_lossy(head);
            let pattern = match head.strip_prefix("re:") {
                Some(re) => match Regex::new(re) {
                    Ok(re) => Pattern::Regex(re),
                    Err(_) => return,
                },
                None if head.is_empty() => Pattern::Text("login: ".into()),
                None => Pattern::Text(head.into_owned()),
            };
            let whole = Capture::new("console", vec!["Kernel panic".into()]);
            whole.push(stream);
            whole.close();
            let cut = Capture::new("console", Vec::new());
            let waiter = {
                let (cut, pattern) = (cut.clone(), pattern.clone());
                std::thread::spawn(move || {
                    let deadline = Instant::now() + Duration::from_secs(8);
                    let mut found = Vec::new();
                    while let Ok(m) = cut.wait_for(&pattern, deadline) {
                        found.push(m.text);
                        if found.len() > 1000 {
                            break;
                        }
                    }
                    found
                })
            };
            let step = 1 + usize::from(stream.first().copied().unwrap_or(0) % 7);
            for chunk in stream.chunks(step) {
                cut.push(chunk);
            }
            cut.close();
            let found = waiter.join().expect("the waiter");
            assert_eq!(
                cut.text(),
                whole.text(),
                "the text depends on how the stream was cut"
            );
            if let Pattern::Text(text) = &pattern {
                if !text.is_empty() {
                    assert!(
                        found.iter().all(|f| f == text),
                        "a text wait matched other text"
                    );
                    assert_eq!(
                        found.len(),
                        whole.text().matches(text.as_str()).count().min(1001)
                    );
                }
            }
            let _ = (whole.failed(), cut.last_lines(12));
        });
}

/// Found by `fuzz_console`: a wait searched all text since the last match
/// again on every read, so a boot log arriving a few bytes at a time took
/// minutes. A wait now resumes where it stopped; what it finds must not
/// change: a text split across reads, a `^` anchor, a match that began
/// before the last search ended.
#[test]
fn a_wait_that_resumes_still_finds_matches_that_straddle_reads() {
    let soon = || Instant::now() + Duration::from_millis(50);
    let console = Capture::new("console", Vec::new());
    let login = Pattern::Text("login: ".into());
    console.push(b"boot\nlog");
    assert!(console.wait_for(&login, soon()).is_err());
    console.push(b"in: ");
    assert_eq!(
        console.wait_for(&login, soon()).expect("login").text,
        "login: "
    );

    let version = Pattern::Regex(Regex::new(r"(?m)^Linux version (\S+) ").expect("regex"));
    console.push(b"not Linux version 1 \nLinux vers");
    assert!(console.wait_for(&version, soon()).is_err());
    console.push(b"ion 6.1");
    assert!(console.wait_for(&version, soon()).is_err());
    console.push(b".0 up");
    let found = console.wait_for(&version, soon()).expect("version");
    assert_eq!(found.groups[1], ("1".to_string(), "6.1.0".to_string()));
}
