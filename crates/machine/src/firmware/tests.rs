use std::path::{Path, PathBuf};

use super::*;

const SYSTEM: &str = "/usr/share/qemu/firmware";

/// The system's descriptors, or `None` (with a note) where `ovmf` and
/// `qemu-efi-aarch64` are not installed.
fn system_dirs() -> Option<Vec<PathBuf>> {
    if !Path::new(SYSTEM).is_dir() {
        kennel_testkit::missing(&format!("{SYSTEM} (apt-get install ovmf qemu-efi-aarch64)"));
        return None;
    }
    Some(vec![PathBuf::from(SYSTEM)])
}

#[test]
fn every_system_descriptor_reads() {
    let Some(dirs) = system_dirs() else { return };
    let all = descriptors(&dirs).expect("the system's descriptors read");
    assert!(all.len() >= 2, "{all:?}");
    for (path, d) in &all {
        assert_eq!(d.mapping.device, "flash", "{}", path.display());
        assert!(d.interface_types.iter().any(|t| t == "uefi"));
        assert!(d.mapping.executable.is_some(), "{}", path.display());
    }
    // Each architecture has a plain UEFI whose files are there.
    for arch in ["x86_64", "aarch64"] {
        assert!(
            all.iter()
                .any(|(_, d)| d.targets.iter().any(|t| t.architecture == arch)
                    && !d.has("secure-boot")
                    && d.files_exist()),
            "{arch}: {all:?}"
        );
    }
}

#[test]
fn plain_uefi_on_q35_is_ovmf_without_secure_boot() {
    let Some(dirs) = system_dirs() else { return };
    let pflash = find("x86_64", "q35", &dirs).expect("OVMF");
    let descriptor = descriptors(&dirs)
        .expect("read")
        .into_iter()
        .find(|(p, _)| *p == pflash.descriptor)
        .expect("its descriptor")
        .1;
    assert!(!descriptor.has("secure-boot"), "{descriptor:?}");
    assert!(!pflash.smm);
    assert!(pflash.code.starts_with("/usr/share/OVMF"), "{pflash:?}");
    assert_eq!(pflash.vars, pflash.template);
    assert!(pflash.template.is_file());
}

#[test]
fn aarch64_virt_gets_aavmf() {
    let Some(dirs) = system_dirs() else { return };
    let pflash = find("aarch64", "virt", &dirs).expect("AAVMF");
    assert!(pflash.code.starts_with("/usr/share/AAVMF"), "{pflash:?}");
}

#[test]
fn a_machine_without_firmware_lists_what_exists() {
    let Some(dirs) = system_dirs() else { return };
    let err = find("x86_64", "microvm", &dirs).expect_err("no UEFI for microvm");
    let text = err.to_string();
    assert!(text.contains("x86_64 machine `microvm`"), "{text}");
    assert!(
        text.contains("60-edk2-x86_64.json: x86_64 pc-i440fx-*|pc-q35-*"),
        "{text}"
    );
    assert!(text.contains("install ovmf"), "{text}");
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

const SECURE_SMM: &str = r#"{
  "interface-types": ["uefi"],
  "mapping": {"device": "flash", "executable": {"filename": "FW/CODE.secboot.fd", "format": "raw"},
              "nvram-template": {"filename": "FW/VARS, odd.fd", "format": "raw"}},
  "targets": [{"architecture": "x86_64", "machines": ["pc-q35-*"]}],
  "features": ["requires-smm", "secure-boot"],
  "tags": [], "future-member": 1
}"#;

#[test]
fn smm_firmware_gets_smm_and_secure_flash_and_commas_are_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fw = dir.path().display().to_string();
    write(dir.path(), "CODE.secboot.fd", "code");
    write(dir.path(), "VARS, odd.fd", "vars");
    write(dir.path(), "50-secure.json", &SECURE_SMM.replace("FW", &fw));
    let pflash = find("x86_64", "pc-q35-7.2", &[dir.path().to_path_buf()]).expect("found");
    assert!(pflash.smm);
    assert_eq!(pflash.machine_option(), Some("smm=on"));
    assert_eq!(
        pflash.args(),
        [
            "-drive".to_string(),
            format!("if=pflash,format=raw,unit=0,readonly=on,file={fw}/CODE.secboot.fd"),
            "-drive".into(),
            format!("if=pflash,format=raw,unit=1,file={fw}/VARS,, odd.fd"),
            "-global".into(),
            "driver=cfi.pflash01,property=secure,value=on".into()
        ]
    );
}

#[test]
fn an_earlier_folder_hides_a_descriptor_of_the_same_name_and_a_broken_one_is_named() {
    let own = tempfile::tempdir().expect("tempdir");
    let system = tempfile::tempdir().expect("tempdir");
    write(system.path(), "50-secure.json", SECURE_SMM);
    write(own.path(), "50-secure.json", "");
    let dirs = [own.path().to_path_buf(), system.path().to_path_buf()];
    assert!(descriptors(&dirs).expect("read").is_empty());

    write(own.path(), "10-broken.json", "{\n  \"mapping\": 3\n}");
    let err = descriptors(&dirs).expect_err("broken");
    let text = err.to_string();
    assert!(text.contains("10-broken.json:2:"), "{text}");
}

#[test]
fn globs_and_aliases() {
    assert!(glob("pc-q35-*", "pc-q35-7.2"));
    assert!(glob("virt-*", "virt-latest"));
    assert!(!glob("virt-*", "virt"));
    assert!(glob("a*b*c", "aXXbYc"));
    assert_eq!(machine_names("q35,smm=on"), ["q35", "pc-q35-latest"]);
}

#[test]
fn names() {
    assert_eq!(Firmware::from_name("uefi"), Some(Firmware::Uefi));
    assert_eq!(Firmware::from_name("UEFI"), None);
    assert_eq!(Firmware::Bios.name(), "bios");
}
