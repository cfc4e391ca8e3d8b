//! Networks between machines (`[[network]]`, `networks`, `link`): built-in
//! guests reach each other over kennel's hub, a capture holds their frames,
//! and a pulled cable cuts a machine off until it is put back.

use std::path::{Path, PathBuf};

use crate::harness::*;

/// Two built-in guests on one captured link; `a` pings `b` by the address
/// the guest gave itself.
const TWO_PING: &str = r#"
name = "two ping"
timeout = "120s"

[[network]]
name = "lan"
capture = true

[machines.a]
guest = "busybox"
networks = ["lan"]

[machines.b]
guest = "busybox"
networks = ["lan"]

[[step]]
on = "a"
run = "ping -c 3 -W 5 192.168.1.2"
stdout_contains = "3 packets received"
"#;

/// The log folder of the test named `name`.
fn logdir(run: &Run, name: &str) -> PathBuf {
    let test = run.test(name);
    run.job_dir().join(test["logdir"].as_str().expect("logdir"))
}

/// An ICMP echo (request or reply) found in a captured Ethernet frame.
#[derive(Debug, PartialEq, Eq)]
struct Echo {
    request: bool,
    from: [u8; 4],
    to: [u8; 4],
}

/// The ICMP echoes of a pcap file, read field by field: the pcap records,
/// each frame's EtherType (IPv4), the IP header's protocol (ICMP) and
/// addresses, and the ICMP type (8 request, 0 reply).
fn echoes(pcap: &Path) -> Vec<Echo> {
    let bytes = std::fs::read(pcap).expect("the capture exists");
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    assert_eq!(u32_at(0), 0xa1b2_c3d4, "pcap magic");
    assert_eq!(u32_at(20), 1, "Ethernet link type");
    let mut found = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let len = u32_at(at + 8) as usize;
        let frame = &bytes[at + 16..at + 16 + len];
        at += 16 + len;
        if frame.len() < 14 + 20 + 8 || frame[12..14] != [0x08, 0x00] {
            continue;
        }
        let ip = &frame[14..];
        let header = usize::from(ip[0] & 0x0f) * 4;
        if ip[9] != 1 || ip.len() < header + 8 {
            continue;
        }
        let icmp_type = ip[header];
        if icmp_type != 8 && icmp_type != 0 {
            continue;
        }
        found.push(Echo {
            request: icmp_type == 8,
            from: ip[12..16].try_into().expect("source"),
            to: ip[16..20].try_into().expect("destination"),
        });
    }
    assert_eq!(at, bytes.len(), "the capture ends with a whole record");
    found
}

#[test]
fn two_built_in_guests_ping_each_other_and_the_capture_holds_the_echoes() {
    let dir = test_dir(&[("two.toml", TWO_PING)]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.statuses(), ["PASS"], "{}", run.stdout);
    let logs = logdir(&run, "two ping");
    let echoes = echoes(&logs.join("lan.pcap"));
    let (a, b) = ([192, 168, 1, 1], [192, 168, 1, 2]);
    let requests = echoes
        .iter()
        .filter(|e| {
            **e == Echo {
                request: true,
                from: a,
                to: b,
            }
        })
        .count();
    let replies = echoes
        .iter()
        .filter(|e| {
            **e == Echo {
                request: false,
                from: b,
                to: a,
            }
        })
        .count();
    assert_eq!((requests, replies), (3, 3), "{echoes:?}");
    let cmdline = std::fs::read_to_string(logs.join("cmdline")).expect("cmdline");
    assert!(cmdline.contains("mac=52:54:00:00:01:01"), "{cmdline}");
    assert!(cmdline.contains("mac=52:54:00:00:01:02"), "{cmdline}");
    let log = std::fs::read_to_string(logs.join("test.log")).expect("test.log");
    assert!(
        log.contains("machine `a` boots (cold): it joins the test's networks (lan)"),
        "{log}"
    );
    assert!(log.contains("network `lan`: "), "{log}");
}

#[test]
fn a_pulled_cable_cuts_a_machine_off_until_it_is_put_back() {
    let dir = test_dir(&[(
        "cable.toml",
        r#"
name = "cable"
timeout = "120s"

[[network]]
name = "lan"

[machines.a]
guest = "busybox"
networks = ["lan"]

[machines.b]
guest = "busybox"
networks = ["lan"]

[[step]]
on = "a"
run = "ping -c 1 -W 5 192.168.1.2"

[[step]]
link = { machine = "b", network = "lan", up = false }

[[step]]
on = "a"
run = "ping -c 2 -W 1 192.168.1.2"
exit_code = 1

[[step]]
link = { machine = "b", network = "lan", up = true }

[[step]]
on = "a"
run = "ping -c 3 -W 5 192.168.1.2"
stdout_contains = "bytes from 192.168.1.2"
"#,
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.statuses(), ["PASS"], "{}", run.stdout);
    let log = std::fs::read_to_string(logdir(&run, "cable").join("test.log")).expect("test.log");
    assert!(log.contains("link b on lan down): pass"), "{log}");
}

#[test]
fn three_built_in_guests_on_one_hub_each_reach_the_other_two() {
    let mut text =
        String::from("name = \"three\"\ntimeout = \"120s\"\n[[network]]\nname = \"lan\"\n");
    for m in ["a", "b", "c"] {
        text.push_str(&format!(
            "[machines.{m}]\nguest = \"busybox\"\nnetworks = [\"lan\"]\n"
        ));
    }
    for (m, others) in [("a", [2, 3]), ("b", [1, 3]), ("c", [1, 2])] {
        for other in others {
            text.push_str(&format!(
                "[[step]]\non = \"{m}\"\nrun = \"ping -c 1 -W 5 192.168.1.{other}\"\n"
            ));
        }
    }
    let dir = test_dir(&[("three.toml", &text)]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.statuses(), ["PASS"], "{}", run.stdout);
}

#[test]
fn a_machine_on_an_undeclared_network_is_a_load_error_naming_the_place() {
    let dir = test_dir(&[(
        "bad.toml",
        "[[network]]\nname = \"lan\"\n[machines.a]\nguest = \"busybox\"\nnetworks = [\"lan\"]\n\
         [machines.b]\nguest = \"busybox\"\nnetworks = [\"wan\"]\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_ne!(run.code, 0);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("bad.toml:8:13: network `wan` is not declared (declared: `lan`)"),
        "{all}"
    );
}
