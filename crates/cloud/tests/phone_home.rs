//! The phone-home server, driven with real HTTP requests over loopback.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use kennel_cloud::{CloudError, PhoneHome};

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG+/x= root@vm1";

fn form() -> String {
    // As cloud-init's url_helper posts it: '+' for spaces, %XX for the rest.
    "pub_key_ed25519=ssh-ed25519+AAAAC3NzaC1lZDI1NTE5AAAAIG%2B%2Fx%3D+root%40vm1%0A&instance_id=vm-1&hostname=vm1".into()
}

fn post(url: &str, body: &str) -> Result<u16, String> {
    match ureq::post(url)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(body)
    {
        Ok(response) => Ok(response.status()),
        Err(ureq::Error::Status(code, _)) => Ok(code),
        Err(e) => Err(e.to_string()),
    }
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

#[test]
fn token_and_urls() {
    let server = PhoneHome::start().expect("start");
    let token = server.token();
    assert_eq!(token.len(), 32);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{token}"
    );
    let other = PhoneHome::start().expect("start");
    assert_ne!(server.token(), other.token(), "tokens are random");
    assert_eq!(
        server.guest_url(),
        format!("http://10.0.2.2:{}/{token}/$INSTANCE_ID", server.port())
    );
    assert_eq!(
        server.host_url("vm-1"),
        format!("http://127.0.0.1:{}/{token}/vm-1", server.port())
    );
}

#[test]
fn listens_on_127_0_0_1_only() {
    let server = PhoneHome::start().expect("start");
    let addr = server.local_addr();
    assert_eq!(addr, SocketAddr::from(([127, 0, 0, 1], server.port())));
    TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("reachable on 127.0.0.1");
    // 127.0.0.2 is loopback too: a server bound to 0.0.0.0 would accept there.
    let elsewhere = SocketAddr::from(([127, 0, 0, 2], server.port()));
    assert!(
        TcpStream::connect_timeout(&elsewhere, Duration::from_secs(5)).is_err(),
        "server answers on 127.0.0.2"
    );
}

#[test]
fn good_post_is_reported() {
    let server = PhoneHome::start().expect("start");
    let url = server.host_url("vm-1");
    let before = Instant::now();
    let poster = std::thread::spawn(move || post(&url, &form()));
    let report = server.wait("vm-1", soon(), &mut || false).expect("report");
    assert_eq!(poster.join().expect("poster thread").expect("post"), 200);
    assert!(report.at >= before);
    assert_eq!(report.instance_id, "vm-1");
    assert_eq!(report.hostname.as_deref(), Some("vm1"));
    assert_eq!(report.host_key_ed25519.as_deref(), Some(KEY));
    assert_eq!(report.fields["instance_id"], "vm-1");
    assert_eq!(report.fields["pub_key_ed25519"], format!("{KEY}\n"));
    assert_eq!(report.fields.len(), 3);
}

#[test]
fn early_arrival_and_several_instances() {
    let server = PhoneHome::start().expect("start");
    assert_eq!(
        post(&server.host_url("vm-2"), "hostname=two").expect("post"),
        200
    );
    assert_eq!(post(&server.host_url("vm-1"), &form()).expect("post"), 200);
    let one = server
        .wait("vm-1", Instant::now(), &mut || false)
        .expect("vm-1 arrived before wait");
    assert_eq!(one.hostname.as_deref(), Some("vm1"));
    let two = server
        .wait("vm-2", Instant::now(), &mut || false)
        .expect("vm-2 arrived before wait");
    assert_eq!(two.hostname.as_deref(), Some("two"));
    assert_eq!(two.host_key_ed25519, None);
    assert!(two.at <= one.at);
}

#[test]
fn wrong_token_is_rejected_and_counted() {
    let server = PhoneHome::start().expect("start");
    let base = format!("http://127.0.0.1:{}", server.port());
    let wrong = format!("{base}/{}/vm-1", "0".repeat(32));
    assert_eq!(post(&wrong, &form()).expect("post"), 404);
    assert_eq!(
        post(&format!("{base}/{}/", server.token()), &form()).expect("post"),
        404
    );
    let get = ureq::get(&server.host_url("vm-1")).call();
    assert!(matches!(get, Err(ureq::Error::Status(405, _))), "{get:?}");

    let started = Instant::now();
    let err = server
        .wait(
            "vm-1",
            Instant::now() + Duration::from_millis(500),
            &mut || false,
        )
        .expect_err("nothing valid");
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "waited until the deadline"
    );
    assert!(
        matches!(
            err,
            CloudError::PhoneHomeTimeout {
                wrong_token: 2,
                other_rejected: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "no phone-home from instance vm-1 within 500ms (2 requests with a wrong token, 1 other rejected request)"
    );
}

#[test]
fn timeout_message_counts_one_wrong_token() {
    let server = PhoneHome::start().expect("start");
    let wrong = format!("http://127.0.0.1:{}/nottoken/vm-1", server.port());
    assert_eq!(post(&wrong, &form()).expect("post"), 404);
    let err = server
        .wait("vm-1", Instant::now() + Duration::from_secs(1), &mut || {
            false
        })
        .expect_err("timeout");
    assert_eq!(
        err.to_string(),
        "no phone-home from instance vm-1 within 1s (1 request with a wrong token)"
    );
}

#[test]
fn other_instance_does_not_satisfy_wait() {
    let server = PhoneHome::start().expect("start");
    assert_eq!(post(&server.host_url("vm-2"), &form()).expect("post"), 200);
    let err = server
        .wait(
            "vm-1",
            Instant::now() + Duration::from_millis(300),
            &mut || false,
        )
        .expect_err("timeout");
    assert_eq!(
        err.to_string(),
        "no phone-home from instance vm-1 within 300ms"
    );
}

#[test]
fn cancel_stops_waiting() {
    let server = PhoneHome::start().expect("start");
    let started = Instant::now();
    let mut calls = 0;
    let err = server
        .wait(
            "vm-1",
            Instant::now() + Duration::from_secs(30),
            &mut || {
                calls += 1;
                calls >= 3
            },
        )
        .expect_err("cancelled");
    assert!(
        matches!(err, CloudError::Cancelled { ref instance_id } if instance_id == "vm-1"),
        "{err:?}"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(30),
        "polled about every 100 ms: {elapsed:?}"
    );
    assert_eq!(calls, 3);
}

#[test]
fn dropping_stops_the_server() {
    let server = PhoneHome::start().expect("start");
    let addr = server.local_addr();
    let started = Instant::now();
    drop(server);
    // Prompt: a drop that waited on the blocked accept would never return.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "drop is prompt"
    );
    let status = post(&format!("http://{addr}/x/y"), "");
    assert!(status.is_err(), "nobody listens after drop: {status:?}");
}

/// This process's peak resident memory (`VmHWM`), in MiB.
fn peak_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number");
    kib / 1024
}

/// POST `total` bytes to `path` on the server by hand, with a
/// `Content-Length` header or chunked; the status line of the answer, if any.
fn post_flood(server: &PhoneHome, path: &str, total: usize, chunked: bool) -> String {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = TcpStream::connect(server.local_addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let length = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {total}")
    };
    let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\n{length}\r\n\r\n");
    let _ = stream.write_all(head.as_bytes());
    let block = vec![b'a'; 1 << 20];
    for _ in 0..total / block.len() {
        let sent = if chunked {
            stream
                .write_all(format!("{:x}\r\n", block.len()).as_bytes())
                .and_then(|()| stream.write_all(&block))
                .and_then(|()| stream.write_all(b"\r\n"))
        } else {
            stream.write_all(&block)
        };
        if sent.is_err() {
            break; // The server refused and closed: what is tested.
        }
    }
    let mut status = String::new();
    let _ = BufReader::new(stream).read_line(&mut status);
    status
}

#[test]
fn a_100_mb_phone_home_is_refused_unread_and_never_a_report() {
    let server = PhoneHome::start().expect("start");
    let path = format!("/{}/vm-1", server.token());

    let declared = post_flood(&server, &path, 100 << 20, false);
    let chunked = post_flood(&server, &path, 100 << 20, true);

    println!(
        "peak memory of the test process with the server: {} MiB",
        peak_mib()
    );
    assert!(
        declared.is_empty() || declared.contains(" 413 "),
        "{declared:?}"
    );
    assert!(
        chunked.is_empty() || chunked.contains(" 411 "),
        "{chunked:?}"
    );
    let err = server
        .wait(
            "vm-1",
            Instant::now() + Duration::from_millis(300),
            &mut || false,
        )
        .expect_err("no report");
    assert!(
        err.to_string().ends_with("(2 other rejected requests)"),
        "{err}"
    );
    assert!(peak_mib() < 64, "{} MiB", peak_mib());
}

#[test]
fn a_second_client_reporting_for_the_same_instance_is_refused_and_the_first_report_stands() {
    let server = PhoneHome::start().expect("start");
    let url = server.host_url("vm-1");
    let impostor = "pub_key_ed25519=ssh-ed25519+AAAAimpostor&hostname=impostor";

    assert_eq!(post(&url, &form()).expect("first"), 200);
    assert_eq!(post(&url, impostor).expect("second"), 409);

    let report = server.wait("vm-1", soon(), &mut || false).expect("report");
    assert_eq!(report.hostname.as_deref(), Some("vm1"));
    assert_eq!(report.host_key_ed25519.as_deref(), Some(KEY));
}
