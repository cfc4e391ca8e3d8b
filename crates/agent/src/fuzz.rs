//! Fuzz targets for what a guest's agent sends the host (see the
//! `kennel-fuzz` crate): frames through the decoder, and whole sessions
//! through the client.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use kennel_fuzz::{Rng, Target};

use crate::frame::{encode_data, encode_json, FrameDecoder, Kind};
use crate::protocol::{AgentMessage, ReadyInfo, MAX_PAYLOAD, PROTOCOL_VERSION};
use crate::AgentClient;

#[global_allocator]
static ALLOCATOR: kennel_fuzz::CountingAllocator = kennel_fuzz::CountingAllocator;

const TOKENS: &[&[u8]] = &[
    b"\xff\xff\xff\xffJ",
    b"\x00\x10\x00\x00O",
    b"\x00\x00\x00\x04E\x00\x00\x00\x01",
    b"\x00\x00\x00\x00F",
    b"{\"type\":\"exit\",\"id\":1,\"exit_code\":0,\"signal\":null,\"duration_us\":1,\"timed_out\":false}",
    b"{\"type\":\"done\",\"id\":2,\"bytes\":18446744073709551615}",
    b"{\"type\":\"pong\",\"id\":3}",
    b"{\"type\":\"error\",\"id\":1,\"message\":\"\"}",
    b"\"type\":\"ready\"",
];

fn ready(rng: &mut Rng) -> Vec<u8> {
    encode_json(&AgentMessage::Ready(ReadyInfo {
        protocol: if rng.one_in(8) { 2 } else { PROTOCOL_VERSION },
        version: "fuzz".into(),
        kernel_release: "6.1".into(),
        uptime: Duration::from_millis(rng.below(1000) as u64),
        features: vec!["refresh".into()],
    }))
}

/// One frame an agent might send during a session: right, for another
/// request, or with a header that lies.
fn frame(rng: &mut Rng) -> Vec<u8> {
    let id = rng.below(5) as u32;
    let bytes: Vec<u8> = (0..rng.below(64)).map(|_| rng.byte()).collect();
    let mut frame = match rng.below(7) {
        0 => {
            let kind = *rng.pick(&[Kind::Stdout, Kind::Stderr, Kind::File, Kind::Stdin]);
            encode_data(kind, id, &bytes)
        }
        1 => encode_json(&AgentMessage::Exit {
            id,
            exit_code: Some(rng.edgy_u64() as i32),
            signal: rng.one_in(4).then_some(9),
            duration_us: rng.edgy_u64(),
            timed_out: rng.one_in(4),
        }),
        2 => encode_json(&AgentMessage::Done {
            id,
            bytes: rng.edgy_u64(),
        }),
        3 => encode_json(&AgentMessage::Pong { id }),
        4 => encode_json(&AgentMessage::Error {
            id,
            message: String::from_utf8_lossy(&bytes).into_owned(),
        }),
        5 => ready(rng),
        _ => {
            let len = rng.below(3 * MAX_PAYLOAD / 2).min(MAX_PAYLOAD - 4);
            encode_data(Kind::File, id, &vec![b'x'; len])
        }
    };
    if rng.one_in(6) {
        let any = rng.next_u64() as u32;
        let len = *rng.pick(&[u32::MAX, 0x8000_0000, MAX_PAYLOAD as u32 + 1, 0, 3, any]);
        frame[..4].copy_from_slice(&len.to_be_bytes());
    }
    frame
}

/// A session as an agent might speak it to a client that connects, runs a
/// command (request 1), copies a file out (request 2) and pings (request 3).
fn session(rng: &mut Rng) -> Vec<u8> {
    let mut out = if rng.one_in(8) {
        Vec::new()
    } else {
        ready(rng)
    };
    for _ in 0..rng.below(10) {
        out.extend(frame(rng));
    }
    out
}

/// Cutting a stream into frames never panics and never buffers a frame the
/// header claims is larger than the limit.
#[test]
fn fuzz_agent_frames() {
    Target::new("agent_frames")
        .dictionary(TOKENS)
        .generator(session)
        .max_len(2 * MAX_PAYLOAD)
        .run(|input| {
            let mut decoder = FrameDecoder::new();
            // Cut the stream where the input's first byte says, as reads would.
            let step = 1 + usize::from(input.first().copied().unwrap_or(0)) * 97;
            for chunk in input.chunks(step) {
                decoder.push(chunk);
                loop {
                    match decoder.next_frame() {
                        Ok(Some(frame)) => {
                            let _ = frame.summary();
                            let _ = frame.parse_json::<AgentMessage>();
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = e.to_string();
                            return;
                        }
                    }
                }
                assert!(
                    decoder.pending().len() <= MAX_PAYLOAD + 64 + step,
                    "the decoder holds {} bytes",
                    decoder.pending().len()
                );
            }
        });
}

/// A whole session against the client: connecting, a command, a copy out
/// and a ping each end with a value or an error, promptly, once the agent's
/// side has said its piece and closed, and a failed copy leaves no file.
#[test]
fn fuzz_agent_session() {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let host_file = scratch.path().join("copied");
    Target::new("agent_session")
        .dictionary(TOKENS)
        .generator(session)
        .max_len(2 * MAX_PAYLOAD)
        .run(|input| {
            let (client, agent) = UnixStream::pair().expect("a socket pair");
            let script = input.to_vec();
            let speaker = std::thread::spawn(move || {
                let mut agent = agent;
                let _ = agent.write_all(&script);
                let _ = agent.shutdown(std::net::Shutdown::Write);
                let _ = std::io::copy(&mut agent, &mut std::io::sink());
            });
            let started = Instant::now();
            let deadline = started + Duration::from_secs(5);
            let _ = std::fs::remove_file(&host_file);
            if let Ok(mut client) = AgentClient::connect(client, deadline) {
                client.set_response_timeout(Duration::from_secs(5));
                client.set_run_grace(Duration::from_secs(1));
                let _ = client.run("true", Duration::from_secs(1));
                if client.copy_out("/etc/hostname", &host_file).is_err() {
                    assert!(
                        !host_file.exists(),
                        "a failed copy_out left {}",
                        host_file.display()
                    );
                }
                let _ = client.ping();
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the session waited for its deadline after the agent closed"
            );
            let _ = speaker.join();
        });
}
