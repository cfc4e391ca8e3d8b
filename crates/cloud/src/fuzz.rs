//! Fuzz targets for what a cloud guest and an image site send kennel (see
//! the `kennel-fuzz` crate): the phone-home request, and checksum lists.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use kennel_fuzz::{Rng, Target};

use crate::checksums::{parse_bsd, parse_gnu, version_cmp};
use crate::phone_home::{parse_form, PhoneHome};

#[global_allocator]
static ALLOCATOR: kennel_fuzz::CountingAllocator = kennel_fuzz::CountingAllocator;

/// The token every generated request uses; the server's own is put in its
/// place before sending.
const TOKEN: &str = "TOKEN";

const HTTP_TOKENS: &[&[u8]] = &[
    b"POST /TOKEN/kennel-1-main HTTP/1.1\r\n",
    b"GET / HTTP/1.0\r\n",
    b"Content-Length: 18446744073709551616\r\n",
    b"Content-Length: 5\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Expect: 100-continue\r\n",
    b"\r\n\r\n",
    b"ffffffffffffffff\r\n",
    b"%ff%00%",
    b"pub_key_ed25519=",
    b"&hostname=",
];

/// A phone-home POST as cloud-init sends it, or one bent out of shape.
fn request(rng: &mut Rng) -> Vec<u8> {
    let id = *rng.pick(&["kennel-1-main", "%2e%2e%2f", "", "a%ZZ", "k/../../x"]);
    let body = format!(
        "instance_id={id}&hostname=debian{}&pub_key_ed25519=ssh-ed25519+AAAA%2B%2F{}",
        *rng.pick(&["", "%00", "%ff", "&&&", "=="]),
        "A".repeat(rng.below(200))
    );
    let method = *rng.pick(&["POST", "POST", "GET", "PUT", "POS"]);
    let length = if rng.one_in(4) {
        rng.edgy_u64().to_string()
    } else {
        body.len().to_string()
    };
    let mut text = format!("{method} /{TOKEN}/{id} HTTP/1.1\r\nHost: 10.0.2.2\r\n");
    if rng.one_in(3) {
        text.push_str("Transfer-Encoding: chunked\r\n\r\n");
        text.push_str(&format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()));
    } else {
        text.push_str(&format!("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n{body}"));
    }
    text.into_bytes()
}

/// Whatever one client sends, the server answers or hangs up, and a proper
/// phone home right after it still arrives.
#[test]
fn fuzz_phone_home() {
    let phone = PhoneHome::start().expect("the phone-home server");
    let addr = phone.local_addr();
    let token = phone.token().to_string();
    let mut n = 0u64;
    Target::new("phone_home").dictionary(HTTP_TOKENS).generator(request).max_len(16 * 1024).run(|input| {
        let _ = parse_form(input);
        let _ = crate::http::read_request(&mut &input[..], 64 * 1024);
        let text = String::from_utf8_lossy(input).replace(TOKEN, &token);
        if let Ok(mut stream) = TcpStream::connect(addr) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.write_all(text.as_bytes());
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let _ = stream.read_to_end(&mut Vec::new());
        }
        n += 1;
        let instance = format!("after-{n}");
        let mut good = TcpStream::connect(addr).expect("connect");
        let body = "hostname=h";
        write!(
            good,
            "POST /{token}/{instance} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let started = Instant::now();
        let report = phone.wait(&instance, started + Duration::from_secs(8), &mut || false);
        assert!(report.is_ok(), "a proper phone home after this input did not arrive: {report:?}");
    });
}

/// A distribution's checksum list, signed or not, in GNU or BSD form: the
/// entries come out, never a panic, and version order is a total order.
#[test]
fn fuzz_checksums() {
    const TOKENS: &[&[u8]] = &[
        b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n",
        b"-----BEGIN PGP SIGNATURE-----\n",
        b"-----END PGP SIGNATURE-----\n",
        b"SHA256 (debian-12-genericcloud-amd64-20250101-1.qcow2) = ",
        b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  ",
        b" *",
        b"- ",
    ];
    Target::new("checksums").dictionary(TOKENS).run(|input| {
        let text = String::from_utf8_lossy(input);
        let mut names: Vec<String> = parse_gnu(&text).into_iter().map(|e| e.file_name).collect();
        names.extend(parse_bsd(&text).into_iter().map(|e| e.file_name));
        names.truncate(50);
        for a in &names {
            assert_eq!(
                version_cmp(a, a),
                std::cmp::Ordering::Equal,
                "{a:?} is not equal to itself"
            );
            for b in &names {
                assert_eq!(
                    version_cmp(a, b),
                    version_cmp(b, a).reverse(),
                    "{a:?} against {b:?}"
                );
            }
        }
    });
}

/// Found by `fuzz_phone_home`: `Content-Length: 18446744073709551615` made
/// the HTTP crate the server used allocate the declared length when it
/// drained the body, and the server thread died; no guest could phone home
/// after it. The request is now refused unread, and the next one arrives.
#[test]
fn a_huge_declared_length_is_refused_and_the_server_goes_on() {
    let phone = PhoneHome::start().expect("the phone-home server");
    let token = phone.token().to_string();
    let mut hostile = TcpStream::connect(phone.local_addr()).expect("connect");
    write!(
        hostile,
        "POST /{token}/x HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\nabc"
    )
    .expect("send");
    let mut answer = String::new();
    let _ = hostile.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");

    let mut good = TcpStream::connect(phone.local_addr()).expect("connect");
    write!(
        good,
        "POST /{token}/kennel-1-main HTTP/1.1\r\nContent-Length: 10\r\n\r\nhostname=h"
    )
    .expect("send");
    let report = phone.wait(
        "kennel-1-main",
        Instant::now() + Duration::from_secs(10),
        &mut || false,
    );
    assert_eq!(report.expect("the report").hostname.as_deref(), Some("h"));
}
