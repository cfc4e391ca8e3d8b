//! NoCloud seed images: content, FAT layout and label.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use kennel_cloud::{meta_data, user_data, write_seed, SeedConfig};

/// cloud-init's documented merge that appends lists and merges dictionaries.
const USER_MERGE_TYPE: &str = "list(append)+dict(recurse_array)+str()";

fn config() -> SeedConfig {
    SeedConfig {
        instance_id: "kennel-vm-1".into(),
        hostname: "vm1".into(),
        user: "kennel".into(),
        authorized_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake kennel@host\n".into(),
        phone_home_url: Some("http://10.0.2.2:40000/0123abcd/$INSTANCE_ID".into()),
        extra_user_data: None,
    }
}

fn read_fat_file(fs: &fatfs::FileSystem<std::fs::File>, name: &str) -> String {
    let mut file = fs.root_dir().open_file(name).expect("file in seed");
    let mut text = String::new();
    file.read_to_string(&mut text).expect("read file from seed");
    text
}

fn open_fat(path: &Path) -> fatfs::FileSystem<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open seed");
    fatfs::FileSystem::new(file, fatfs::FsOptions::new()).expect("seed is a FAT file system")
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

#[test]
fn seed_image_holds_files_and_label() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("seed.img");
    let config = config();
    write_seed(&config, &path).expect("write seed");
    assert_eq!(std::fs::metadata(&path).expect("stat").len(), 1024 * 1024);

    {
        let fs = open_fat(&path);
        assert_eq!(fs.fat_type(), fatfs::FatType::Fat12);
        assert_eq!(fs.volume_label().trim_end(), "CIDATA");
        assert_eq!(
            fs.read_volume_label_from_root_dir()
                .expect("root dir")
                .as_deref()
                .map(str::trim_end),
            Some("CIDATA")
        );
        assert_eq!(read_fat_file(&fs, "user-data"), user_data(&config));
        assert_eq!(read_fat_file(&fs, "meta-data"), meta_data(&config));
        let mut names: Vec<String> = fs
            .root_dir()
            .iter()
            .filter_map(Result::ok)
            .filter(|e| !e.attributes().contains(fatfs::FileAttributes::VOLUME_ID))
            .map(|e| e.file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["meta-data", "user-data"]);
    }

    if have("blkid") {
        let out = Command::new("blkid")
            .args(["-p", "-o", "value", "-s", "LABEL"])
            .arg(&path)
            .output()
            .expect("blkid");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "CIDATA",
            "blkid: {out:?}"
        );
        let out = Command::new("blkid")
            .args(["-p", "-o", "value", "-s", "TYPE"])
            .arg(&path)
            .output()
            .expect("blkid");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "vfat",
            "blkid: {out:?}"
        );
    } else {
        kennel_testkit::missing("blkid (apt-get install util-linux)");
    }
    if have("mdir") {
        let out = Command::new("mdir")
            .env("MTOOLS_SKIP_CHECK", "1")
            .arg("-i")
            .arg(&path)
            .arg("::")
            .output()
            .expect("mdir");
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "mdir: {out:?}");
        assert!(listing.contains("Volume in drive : is CIDATA"), "{listing}");
        assert!(
            listing.contains("user-data") && listing.contains("meta-data"),
            "{listing}"
        );
    } else {
        kennel_testkit::missing("mdir (apt-get install mtools)");
    }
}

#[test]
fn user_data_is_kennel_cloud_config() {
    let doc = user_data(&config());
    let expected = "#cloud-config
users:
  - name: \"kennel\"
    sudo: \"ALL=(ALL) NOPASSWD:ALL\"
    shell: \"/bin/sh\"
    lock_passwd: true
    ssh_authorized_keys:
      - \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake kennel@host\"
ssh_pwauth: false
phone_home:
  url: \"http://10.0.2.2:40000/0123abcd/$INSTANCE_ID\"
  post: [pub_key_ed25519, instance_id, hostname]
  tries: 10
";
    assert_eq!(doc, expected);
    let without = user_data(&SeedConfig {
        phone_home_url: None,
        ..config()
    });
    assert!(!without.contains("phone_home"), "{without}");
    assert_eq!(
        meta_data(&config()),
        "instance-id: \"kennel-vm-1\"\nlocal-hostname: \"vm1\"\n"
    );
}

/// Run a Python snippet with the document on stdin; `None` when python3 (or
/// a module it needs) is missing: the caller skips (fails under
/// `KENNEL_REQUIRE_ALL`, see kennel-testkit).
fn python(script: &str, input: &str) -> Option<String> {
    use std::io::Write;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(input.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    if String::from_utf8_lossy(&out.stderr).contains("ModuleNotFoundError") {
        return None;
    }
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn awkward_strings_survive_yaml() {
    let config = SeedConfig {
        instance_id: "id: with \"quotes\" # and \\ backslash".into(),
        hostname: "host\nnewline\u{1b}".into(),
        user: "user'é".into(),
        authorized_key: "ssh-ed25519 AAAA key: {comment} [x] & *y".into(),
        phone_home_url: Some("http://10.0.2.2:1/t/$INSTANCE_ID?a=1&b=%20".into()),
        extra_user_data: None,
    };
    let script = "import sys, yaml, json; print(json.dumps(yaml.safe_load(sys.stdin.read())))";
    let Some(user) = python(script, &user_data(&config)) else {
        kennel_testkit::missing("python3 with PyYAML (apt-get install python3-yaml)");
        return;
    };
    let user: serde_json::Value = serde_json::from_str(&user).expect("json");
    assert_eq!(user["users"][0]["name"], config.user);
    assert_eq!(
        user["users"][0]["ssh_authorized_keys"][0],
        config.authorized_key
    );
    assert_eq!(user["users"][0]["lock_passwd"], true);
    assert_eq!(user["ssh_pwauth"], false);
    assert_eq!(
        user["phone_home"]["url"],
        config.phone_home_url.clone().unwrap_or_default()
    );
    assert_eq!(
        user["phone_home"]["post"],
        serde_json::json!(["pub_key_ed25519", "instance_id", "hostname"])
    );
    let meta = python(script, &meta_data(&config)).expect("python ran before");
    let meta: serde_json::Value = serde_json::from_str(&meta).expect("json");
    assert_eq!(meta["instance-id"], config.instance_id);
    assert_eq!(meta["local-hostname"], config.hostname);
}

const USER_PART: &str = "#cloud-config\npackages: [curl]\nruncmd:\n  - echo hello\n";

#[test]
fn extra_user_data_makes_a_multipart_document() {
    let config = SeedConfig {
        extra_user_data: Some(USER_PART.into()),
        ..config()
    };
    let doc = user_data(&config);
    assert!(
        doc.starts_with("Content-Type: multipart/mixed; boundary=\""),
        "{doc}"
    );
    let kennel_at = doc.find("#cloud-config\nusers:").expect("kennel part");
    let user_at = doc.find(USER_PART.trim_end()).expect("user part");
    assert!(kennel_at < user_at, "kennel's part comes first:\n{doc}");
    let merge_at = doc
        .find(&format!("Merge-Type: {USER_MERGE_TYPE}\n"))
        .expect("merge type header");
    assert!(
        kennel_at < merge_at && merge_at < user_at,
        "Merge-Type belongs to the user's part:\n{doc}"
    );

    // Parse it as cloud-init does, with Python's email package.
    let script = r#"
import sys, email, json
msg = email.message_from_string(sys.stdin.read())
assert msg.is_multipart(), "not multipart"
parts = [{"type": p.get_content_type(), "merge": p.get("Merge-Type"),
          "body": p.get_payload(decode=True).decode("utf-8")} for p in msg.walk() if not p.is_multipart()]
print(json.dumps(parts))
"#;
    let Some(parts) = python(script, &doc) else {
        kennel_testkit::missing("python3 (apt-get install python3)");
        return;
    };
    let parts: serde_json::Value = serde_json::from_str(&parts).expect("json");
    assert_eq!(parts.as_array().map(Vec::len), Some(2), "{parts}");
    assert_eq!(parts[0]["type"], "text/cloud-config");
    assert_eq!(parts[0]["merge"], serde_json::Value::Null);
    assert_eq!(
        parts[0]["body"].as_str().map(str::trim_end),
        Some(
            user_data(&SeedConfig {
                extra_user_data: None,
                ..config.clone()
            })
            .trim_end()
        )
    );
    assert_eq!(parts[1]["type"], "text/cloud-config");
    assert_eq!(parts[1]["merge"], USER_MERGE_TYPE);
    assert_eq!(
        parts[1]["body"].as_str().map(str::trim_end),
        Some(USER_PART.trim_end())
    );

    // Non-ASCII and shell-script user data: base64-encoded, text/plain.
    let script_part = "#!/bin/sh\necho 'héllo' > /tmp/x\n";
    let config = SeedConfig {
        extra_user_data: Some(script_part.into()),
        ..config
    };
    let doc = user_data(&config);
    let parts = python(r#"
import sys, email, json
msg = email.message_from_string(sys.stdin.read())
print(json.dumps([[p.get_content_type(), p.get("Content-Transfer-Encoding"), p.get_payload(decode=True).decode("utf-8")] for p in msg.walk() if not p.is_multipart()]))
"#, &doc).expect("python ran before");
    let parts: serde_json::Value = serde_json::from_str(&parts).expect("json");
    assert_eq!(
        parts[1],
        serde_json::json!(["text/plain", "base64", script_part]),
        "{doc}"
    );
}

#[test]
fn large_user_data_gets_a_larger_image() {
    let big = format!(
        "#cloud-config\nwrite_files:\n  - path: /big\n    content: \"{}\"\n",
        "x".repeat(3 * 1024 * 1024)
    );
    let config = SeedConfig {
        extra_user_data: Some(big),
        ..config()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("seed.img");
    write_seed(&config, &path).expect("write seed");
    assert!(std::fs::metadata(&path).expect("stat").len() > 3 * 1024 * 1024);
    let fs = open_fat(&path);
    assert_eq!(fs.volume_label().trim_end(), "CIDATA");
    assert_eq!(read_fat_file(&fs, "user-data"), user_data(&config));
}

#[test]
fn unwritable_path_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").expect("write");
    let err = write_seed(&config(), &blocker.join("seed.img")).expect_err("parent is a file");
    assert!(
        err.to_string().starts_with("cannot write seed image"),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
}
