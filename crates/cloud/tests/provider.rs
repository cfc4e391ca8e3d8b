//! Image resolution against a local mirror: a tiny_http server on loopback
//! serving a temporary directory laid out like the distributions' sites.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kennel_cloud::{CloudError, Distro, ImageRef, Provider, Resolved};
use sha2::{Digest, Sha256, Sha512};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn sha512(data: &[u8]) -> String {
    hex(&Sha512::digest(data))
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, data).expect("write");
}

/// The fake images, for checking hashes.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    debian: Vec<u8>,
    ubuntu: Vec<u8>,
    fedora: Vec<u8>,
}

const FEDORA_DIR: &str = "fedora/releases/41/Cloud/x86_64/images";
const FEDORA_IMAGE: &str = "Fedora-Cloud-Base-Generic-41-1.10.x86_64.qcow2";

fn tree() -> Tree {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();

    // Debian: SHA512SUMS, "<hex>  <name>".
    let debian = b"QFI\xfbfake debian 12 genericcloud".to_vec();
    let generic = b"fake debian generic".to_vec();
    let latest = root.join("debian/bookworm/latest");
    write(&latest.join("debian-12-genericcloud-amd64.qcow2"), &debian);
    write(&latest.join("debian-12-generic-amd64.qcow2"), &generic);
    let sums = format!(
        "{}  debian-12-generic-amd64.qcow2\n{}  debian-12-genericcloud-amd64.qcow2\n{}  debian-12-genericcloud-amd64.json\n",
        sha512(&generic),
        sha512(&debian),
        sha512(b"{}"),
    );
    write(&latest.join("SHA512SUMS"), sums.as_bytes());

    // Ubuntu: SHA256SUMS, "<hex> *<name>".
    let ubuntu = b"fake ubuntu 24.04 amd64".to_vec();
    let release = root.join("ubuntu/releases/24.04/release");
    write(
        &release.join("ubuntu-24.04-server-cloudimg-amd64.img"),
        &ubuntu,
    );
    let sums = format!(
        "{} *ubuntu-24.04-server-cloudimg-arm64.img\n{} *ubuntu-24.04-server-cloudimg-amd64.img\n{} *ubuntu-24.04-server-cloudimg-amd64.manifest\n",
        sha256(b"arm"),
        sha256(&ubuntu),
        sha256(b"manifest"),
    );
    write(&release.join("SHA256SUMS"), sums.as_bytes());

    // Fedora: an autoindex page linking two CHECKSUM files; 1.10 is the newest.
    let fedora = b"QFI\xfbfake fedora 41".to_vec();
    let images = root.join(FEDORA_DIR);
    write(&images.join(FEDORA_IMAGE), &fedora);
    let checksum = format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n\
         # Fedora-Cloud-Base-AmazonEC2-41-1.10.x86_64.raw.xz: 1 bytes\n\
         SHA256 (Fedora-Cloud-Base-AmazonEC2-41-1.10.x86_64.raw.xz) = {}\n\
         # Fedora-Cloud-Base-Generic-41-1.10.x86_64.raw.xz: 1 bytes\n\
         SHA256 (Fedora-Cloud-Base-Generic-41-1.10.x86_64.raw.xz) = {}\n\
         # {FEDORA_IMAGE}: {} bytes\n\
         SHA256 ({FEDORA_IMAGE}) = {}\n\
         -----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCAAdFiEE+fake+signature+lines==\n=AbCd\n-----END PGP SIGNATURE-----\n",
        sha256(b"ec2"),
        sha256(b"raw"),
        fedora.len(),
        sha256(&fedora),
    );
    write(
        &images.join("Fedora-Cloud-41-1.10-x86_64-CHECKSUM"),
        checksum.as_bytes(),
    );
    let old = format!(
        "SHA256 (Fedora-Cloud-Base-Generic-41-1.2.x86_64.qcow2) = {}\n",
        sha256(b"old")
    );
    write(
        &images.join("Fedora-Cloud-41-1.2-x86_64-CHECKSUM"),
        old.as_bytes(),
    );
    write(
        &images.join("index.html"),
        autoindex(
            "/pub/fedora/linux/releases/41/Cloud/x86_64/images/",
            &[
                "Fedora-Cloud-41-1.10-x86_64-CHECKSUM",
                "Fedora-Cloud-41-1.2-x86_64-CHECKSUM",
                FEDORA_IMAGE,
            ],
        )
        .as_bytes(),
    );

    // Fedora aarch64: an index without CHECKSUM; ppc64le: a CHECKSUM without a Generic qcow2.
    let arm = root.join("fedora/releases/41/Cloud/aarch64/images");
    write(
        &arm.join("index.html"),
        autoindex("/x/", &["Fedora-Cloud-Base-Generic-41-1.4.aarch64.qcow2"]).as_bytes(),
    );
    let ppc = root.join("fedora/releases/41/Cloud/ppc64le/images");
    write(
        &ppc.join("Fedora-Cloud-41-1.4-ppc64le-CHECKSUM"),
        format!(
            "SHA256 (Fedora-Cloud-Base-Generic-41-1.4.ppc64le.raw.xz) = {}\n",
            sha256(b"p")
        )
        .as_bytes(),
    );
    write(
        &ppc.join("index.html"),
        autoindex("/x/", &["Fedora-Cloud-41-1.4-ppc64le-CHECKSUM"]).as_bytes(),
    );

    Tree {
        _dir: dir,
        root,
        debian,
        ubuntu,
        fedora,
    }
}

/// A directory page the way Apache's mod_autoindex writes it.
fn autoindex(path: &str, names: &[&str]) -> String {
    let mut html = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html>\n <head>\n  <title>Index of {path}</title>\n </head>\n <body>\n<h1>Index of {path}</h1>\n<pre><img src=\"/icons/blank.gif\" alt=\"Icon \"> <a href=\"?C=N;O=D\">Name</a>                    <a href=\"?C=M;O=A\">Last modified</a>      <a href=\"?C=S;O=A\">Size</a>  <hr><img src=\"/icons/back.gif\" alt=\"[PARENTDIR]\"> <a href=\"/pub/fedora/linux/releases/41/Cloud/x86_64/\">Parent Directory</a>                             -   \n"
    );
    for name in names {
        html.push_str(&format!("<img src=\"/icons/unknown.gif\" alt=\"[   ]\"> <a href=\"{name}\">{name}</a> 2024-10-24 13:36  1.2K  \n"));
    }
    html.push_str("<hr></pre>\n</body></html>\n");
    html
}

/// A static file server for `root` on 127.0.0.1, counting requests.
struct Mirror {
    server: Arc<tiny_http::Server>,
    port: u16,
    requests: Arc<AtomicUsize>,
    paths: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mirror {
    fn start(root: &Path) -> Mirror {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind mirror"));
        let port = server.server_addr().to_ip().expect("ip").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (server, requests, paths, root) = (
                Arc::clone(&server),
                Arc::clone(&requests),
                Arc::clone(&paths),
                root.to_path_buf(),
            );
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    requests.fetch_add(1, Ordering::SeqCst);
                    let url = request.url().split('?').next().unwrap_or("/").to_string();
                    paths.lock().expect("lock").push(url.clone());
                    let mut file = root.join(url.trim_start_matches('/'));
                    if url.ends_with('/') {
                        file = file.join("index.html");
                    }
                    let response = match std::fs::read(&file) {
                        Ok(data) => tiny_http::Response::from_data(data),
                        Err(_) => {
                            tiny_http::Response::from_string("not found").with_status_code(404)
                        }
                    };
                    let _ = request.respond(response);
                }
            })
        };
        Mirror {
            server,
            port,
            requests,
            paths,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn provider(&self, cache: &Path) -> Provider {
        Distro::ALL
            .into_iter()
            .fold(Provider::new(), |p, d| {
                p.with_base(d, &format!("{}/{}", self.url(), d.name()))
            })
            .with_cache(cache.to_path_buf())
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn image(s: &str) -> ImageRef {
    s.parse().expect("valid image reference")
}

fn check_all(provider: &Provider, base: &str, tree: &Tree) {
    let debian = provider
        .resolve(&image("debian 12 amd64 genericcloud"))
        .expect("debian");
    assert_eq!(
        debian,
        Resolved {
            url: format!("{base}/debian/bookworm/latest/debian-12-genericcloud-amd64.qcow2"),
            file_name: "debian-12-genericcloud-amd64.qcow2".into(),
            sha256: None,
            sha512: Some(sha512(&tree.debian)),
        }
    );
    let ubuntu = provider
        .resolve(&image("ubuntu 24.04 x86_64"))
        .expect("ubuntu");
    assert_eq!(
        ubuntu,
        Resolved {
            url: format!(
                "{base}/ubuntu/releases/24.04/release/ubuntu-24.04-server-cloudimg-amd64.img"
            ),
            file_name: "ubuntu-24.04-server-cloudimg-amd64.img".into(),
            sha256: Some(sha256(&tree.ubuntu)),
            sha512: None,
        }
    );
    let fedora = provider.resolve(&image("fedora 41 amd64")).expect("fedora");
    assert_eq!(
        fedora,
        Resolved {
            url: format!("{base}/{FEDORA_DIR}/{FEDORA_IMAGE}"),
            file_name: FEDORA_IMAGE.into(),
            sha256: Some(sha256(&tree.fedora)),
            sha512: None,
        }
    );
}

#[test]
fn resolves_every_distro_over_http() {
    let tree = tree();
    let mirror = Mirror::start(&tree.root);
    let cache = tempfile::tempdir().expect("tempdir");
    check_all(&mirror.provider(cache.path()), &mirror.url(), &tree);
    let paths = mirror.paths.lock().expect("lock").clone();
    assert!(
        paths.contains(&format!(
            "/{FEDORA_DIR}/Fedora-Cloud-41-1.10-x86_64-CHECKSUM"
        )),
        "{paths:?}"
    );
    assert!(
        !paths.iter().any(|p| p.contains("1.2-x86_64")),
        "older CHECKSUM fetched: {paths:?}"
    );

    // The resolved URL serves bytes with the resolved hash.
    let resolved = mirror
        .provider(cache.path())
        .resolve(&image("debian 12 amd64"))
        .expect("debian");
    let mut body = Vec::new();
    std::io::Read::read_to_end(
        &mut ureq::get(&resolved.url)
            .call()
            .expect("download")
            .into_reader(),
        &mut body,
    )
    .expect("read");
    assert_eq!(Some(sha512(&body)), resolved.sha512);
}

#[test]
fn resolves_every_distro_from_file_urls() {
    let tree = tree();
    let base = format!("file://{}", tree.root.display());
    let cache = tempfile::tempdir().expect("tempdir");
    let provider = Distro::ALL
        .into_iter()
        .fold(Provider::new(), |p, d| {
            p.with_base(d, &format!("{base}/{}/", d.name()))
        })
        .with_cache(cache.path().to_path_buf());
    check_all(&provider, &base, &tree);
}

#[test]
fn mirror_from_environment() {
    let tree = tree();
    let mirror = Mirror::start(&tree.root);
    let url = format!("{}/", mirror.url());
    let env = |name: &str| (name == "KENNEL_IMAGE_MIRROR").then(|| url.clone().into());
    let nowhere = tempfile::tempdir().expect("tempdir");
    let config = kennel_config::Config::load_in(nowhere.path(), env).expect("config");
    let provider = Provider::from_config(&config);
    assert_eq!(
        provider.base(Distro::Ubuntu),
        format!("{}/ubuntu", mirror.url())
    );
    let cache = tempfile::tempdir().expect("tempdir");
    check_all(
        &provider.with_cache(cache.path().to_path_buf()),
        &mirror.url(),
        &tree,
    );
    assert_eq!(
        Provider::new().base(Distro::Debian),
        "https://cloud.debian.org/images/cloud"
    );
}

/// Issue 11: `cargo test -p kennel-examples` (working directory
/// crates/examples-rust) ignored the repository's `image_mirror`. The
/// provider now takes the mirror of the nearest `kennel.toml`, a folder
/// relative to the file.
#[test]
fn mirror_folder_from_kennel_toml_above_the_working_directory() {
    let tree = tree();
    let project = tempfile::tempdir().expect("tempdir");
    let mirror = project.path().join("build/cloud/mirror");
    std::fs::create_dir_all(mirror.parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink(&tree.root, &mirror).expect("link the tree");
    std::fs::write(
        project.path().join("kennel.toml"),
        "image_mirror = \"build/cloud/mirror\"\n",
    )
    .expect("write kennel.toml");
    let package = project.path().join("crates/examples-rust");
    std::fs::create_dir_all(&package).expect("mkdir");

    let config = kennel_config::Config::load_in(&package, |_| None).expect("config");
    let provider = Provider::from_config(&config);

    let base = format!(
        "file://{}",
        std::fs::canonicalize(&tree.root).expect("root").display()
    );
    assert_eq!(provider.base(Distro::Debian), format!("{base}/debian"));
    let cache = tempfile::tempdir().expect("tempdir");
    check_all(
        &provider.with_cache(cache.path().to_path_buf()),
        &base,
        &tree,
    );
}

#[test]
fn second_resolve_comes_from_the_cache() {
    let tree = tree();
    let mirror = Mirror::start(&tree.root);
    let cache = tempfile::tempdir().expect("tempdir");
    let provider = mirror.provider(cache.path());
    let fedora = image("fedora 41 x86_64");
    let first = provider.resolve(&fedora).expect("first");
    let after_first = mirror.requests();
    assert_eq!(after_first, 2, "index and CHECKSUM");
    let second = Provider::new()
        .with_base(Distro::Fedora, &format!("{}/fedora", mirror.url()))
        .with_cache(cache.path().to_path_buf())
        .resolve(&fedora)
        .expect("second");
    assert_eq!(first, second);
    assert_eq!(
        mirror.requests(),
        after_first,
        "no request for a fresh cache entry"
    );

    // The cache is keyed by base too: another mirror asks again.
    let other = Mirror::start(&tree.root);
    other
        .provider(cache.path())
        .resolve(&fedora)
        .expect("other base");
    assert_eq!(other.requests(), 2);

    // A stale entry is refreshed.
    age_cache_entries(cache.path());
    provider.resolve(&fedora).expect("stale");
    assert_eq!(mirror.requests(), after_first + 2);
}

/// Make every cache entry two days old.
fn age_cache_entries(dir: &Path) {
    let two_days_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        - 2 * 24 * 3600;
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("cache dir") {
        let path = entry.expect("entry").path();
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        json["fetched_at"] = two_days_ago.into();
        std::fs::write(&path, serde_json::to_vec(&json).expect("json")).expect("write");
        n += 1;
    }
    assert!(n > 0, "cache entries were written");
}

#[test]
fn offline_uses_the_cache_only() {
    let tree = tree();
    let mirror = Mirror::start(&tree.root);
    let cache = tempfile::tempdir().expect("tempdir");
    let ubuntu = image("ubuntu 24.04 amd64");

    let err = mirror
        .provider(cache.path())
        .offline(true)
        .resolve(&ubuntu)
        .expect_err("empty cache");
    assert!(matches!(err, CloudError::Offline { .. }), "{err:?}");
    assert!(err.to_string().contains("ubuntu 24.04 amd64"), "{err}");
    assert_eq!(mirror.requests(), 0);

    let online = mirror
        .provider(cache.path())
        .resolve(&ubuntu)
        .expect("online");
    let requests = mirror.requests();
    age_cache_entries(cache.path());
    let offline = mirror
        .provider(cache.path())
        .offline(true)
        .resolve(&ubuntu)
        .expect("stale entry is fine offline");
    assert_eq!(online, offline);
    assert_eq!(mirror.requests(), requests);
}

#[test]
fn missing_entry_names_file_and_checksum_url() {
    let tree = tree();
    let mirror = Mirror::start(&tree.root);
    let cache = tempfile::tempdir().expect("tempdir");
    let err = mirror
        .provider(cache.path())
        .resolve(&image("debian 12 arm64"))
        .expect_err("no arm64");
    assert!(matches!(err, CloudError::ChecksumMissing { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("no checksum for debian-12-genericcloud-arm64.qcow2 in {}/debian/bookworm/latest/SHA512SUMS", mirror.url())
    );

    let err = mirror
        .provider(cache.path())
        .resolve(&image("fedora 41 ppc64el"))
        .expect_err("no generic qcow2");
    assert!(
        err.to_string()
            .starts_with("no checksum for Fedora-Cloud-Base-Generic*.qcow2 in "),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("/ppc64le/images/Fedora-Cloud-41-1.4-ppc64le-CHECKSUM"),
        "{err}"
    );

    let err = mirror
        .provider(cache.path())
        .resolve(&image("fedora 41 arm64"))
        .expect_err("no CHECKSUM link");
    assert!(matches!(err, CloudError::NoChecksumFile { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("/fedora/releases/41/Cloud/aarch64/images/"),
        "{err}"
    );
}

#[test]
fn http_errors_name_url_and_status() {
    let tree = tree();
    let mirror = Mirror::start(&tree.root);
    let cache = tempfile::tempdir().expect("tempdir");
    let err = mirror
        .provider(cache.path())
        .resolve(&image("ubuntu 22.04 amd64"))
        .expect_err("404");
    assert!(
        matches!(err, CloudError::HttpStatus { status: 404, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "GET {}/ubuntu/releases/22.04/release/SHA256SUMS failed with HTTP status 404",
            mirror.url()
        )
    );
    assert!(
        std::fs::read_dir(cache.path())
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "errors are not cached"
    );

    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let provider = Provider::new()
        .with_base(Distro::Debian, &format!("http://127.0.0.1:{port}"))
        .with_cache(cache.path().to_path_buf());
    let err = provider
        .resolve(&image("debian 12 amd64"))
        .expect_err("refused");
    assert!(matches!(err, CloudError::Http { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{port}/bookworm/latest/SHA512SUMS")),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());

    let provider = Provider::new()
        .with_base(Distro::Debian, "ftp://example.invalid")
        .with_cache(cache.path().to_path_buf());
    assert!(matches!(
        provider.resolve(&image("debian 12 amd64")),
        Err(CloudError::UnsupportedUrl { .. })
    ));
}

#[test]
fn image_references_parse() {
    let ubuntu = image("ubuntu 24.04 amd64");
    assert_eq!(
        ubuntu,
        ImageRef {
            distro: Distro::Ubuntu,
            release: "24.04".into(),
            arch: "amd64".into(),
            variant: None
        }
    );
    let fedora = image("fedora 41 aarch64");
    assert_eq!(
        fedora,
        ImageRef {
            distro: Distro::Fedora,
            release: "41".into(),
            arch: "aarch64".into(),
            variant: None
        }
    );
    assert_eq!(image("Fedora 41 arm64").arch, "aarch64");
    assert_eq!(image("fedora 41 ppc64el").arch, "ppc64le");
    assert_eq!(image("ubuntu 24.04 ppc64le").arch, "ppc64el");
    assert_eq!(image("debian 12 aarch64").arch, "arm64");
    assert_eq!(image("debian 12 s390x").arch, "s390x");
    let debian = image("  debian   trixie  x86_64   nocloud ");
    assert_eq!(
        debian,
        ImageRef {
            distro: Distro::Debian,
            release: "13".into(),
            arch: "amd64".into(),
            variant: Some("nocloud".into())
        }
    );
    assert_eq!(debian.to_string(), "debian 13 amd64 nocloud");

    for bad in [
        "",
        "debian",
        "debian 12",
        "arch 1 amd64",
        "debian 10 amd64",
        "ubuntu 24 amd64",
        "ubuntu noble amd64",
        "fedora rawhide x86_64",
        "fedora 41 x86_64 generic",
        "debian 12 amd64 a b",
        "debian 12 ../x",
        "debian 12 amd64 Gen/eric",
    ] {
        let err = bad.parse::<ImageRef>().expect_err(bad);
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("invalid image reference {bad:?}: ")),
            "{message}"
        );
        assert!(
            message.contains("accepted forms: \"debian <11|12|13> <arch> [variant]\""),
            "{message}"
        );
    }
}

#[test]
fn a_rebuilt_local_mirror_is_seen_at_once_and_its_resolution_kept_for_offline() {
    let tree = tree();
    let cache = tempfile::tempdir().expect("tempdir");
    let provider = || {
        Provider::new()
            .with_base(
                Distro::Debian,
                &format!("file://{}/debian", tree.root.display()),
            )
            .with_cache(cache.path().to_path_buf())
    };
    let image: ImageRef = "debian 12 amd64".parse().expect("ref");
    let first = provider().resolve(&image).expect("first");
    let latest = tree.root.join("debian/bookworm/latest");
    let rebuilt = b"QFI\xfbrebuilt image".to_vec();
    write(&latest.join("debian-12-genericcloud-amd64.qcow2"), &rebuilt);
    write(
        &latest.join("SHA512SUMS"),
        format!("{}  debian-12-genericcloud-amd64.qcow2\n", sha512(&rebuilt)).as_bytes(),
    );

    let second = provider().resolve(&image).expect("second");
    let offline = provider().offline(true).resolve(&image).expect("offline");

    assert_eq!(first.sha512, Some(sha512(&tree.debian)));
    assert_eq!(second.sha512, Some(sha512(&rebuilt)));
    assert_eq!(offline.sha512, second.sha512);
}
