//! End to end: the guest boots under QEMU (TCG) to its marker and powers off
//! when told. Prints the time from launch to the marker.

mod common;

use std::ffi::OsString;

use kennel_guest::{Arch, GuestImage, GuestSpec, KernelSource};

fn qemu_available(binary: &str) -> bool {
    let found = std::process::Command::new(binary)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        kennel_testkit::missing(&format!("a working {binary} (apt-get install qemu-system)"));
    }
    found
}

fn args(machine: &[&str], image: &GuestImage) -> Vec<OsString> {
    let mut args: Vec<OsString> = machine.iter().map(OsString::from).collect();
    args.extend(
        [
            "-accel",
            "tcg",
            "-m",
            "256M",
            "-nodefaults",
            "-display",
            "none",
            "-serial",
            "stdio",
            "-no-reboot",
        ]
        .map(OsString::from),
    );
    args.extend(image.qemu_args());
    args
}

fn boot_x86(prefer_pvh: bool) -> anyhow::Result<()> {
    let Some((kernel, _)) = common::host_kernel() else {
        return Ok(());
    };
    if !qemu_available("qemu-system-x86_64") {
        return Ok(());
    }
    let mut spec = GuestSpec::new(Arch::X86_64, KernelSource::Path(kernel), "/bin/busybox");
    spec.prefer_pvh = prefer_pvh;
    let image = GuestImage::build_in(&spec, &common::shared_cache())?;
    assert_eq!(image.pvh, prefer_pvh);
    let (to_marker, console) = common::boot_to_marker_and_power_off(
        "qemu-system-x86_64",
        args(&["-machine", "pc"], &image),
    )?;
    let how = if image.pvh {
        "vmlinux through PVH"
    } else {
        "bzImage through the BIOS"
    };
    eprintln!(
        "x86_64 pc, {how}: launch to marker {:.2} s",
        to_marker.as_secs_f64()
    );
    assert!(
        console.contains("kennel-guest: ready (1 cpus,"),
        "{console}"
    );
    Ok(())
}

#[test]
fn x86_64_boots_its_vmlinux_through_pvh_to_the_marker_and_powers_off() -> anyhow::Result<()> {
    boot_x86(true)
}

#[test]
fn x86_64_boots_the_bzimage_as_shipped_too() -> anyhow::Result<()> {
    boot_x86(false)
}

#[test]
fn x86_64_q35_loads_the_virtio_modules_and_sees_a_virtio_console_port() -> anyhow::Result<()> {
    let Some((kernel, _)) = common::host_kernel() else {
        return Ok(());
    };
    if !qemu_available("qemu-system-x86_64") {
        return Ok(());
    }
    let mut spec = GuestSpec::new(Arch::X86_64, KernelSource::Path(kernel), "/bin/busybox");
    spec.modules = vec!["virtio_pci".into(), "virtio_console".into()];
    let image = GuestImage::build_in(&spec, &common::shared_cache())?;
    let mut a = args(&["-machine", "q35"], &image);
    a.extend(
        [
            "-device",
            "virtio-serial-pci",
            "-chardev",
            "null,id=ch0",
            "-device",
            "virtserialport,chardev=ch0,name=org.kennel.agent",
        ]
        .map(OsString::from),
    );
    let mut guest = common::Guest::launch("qemu-system-x86_64", &a)?;
    guest.wait_for(kennel_guest::PROMPT, std::time::Duration::from_secs(40))?;
    guest.send_line("cat /sys/class/virtio-ports/vport*/name; echo done-$((6*7))")?;
    guest.wait_for("done-42", std::time::Duration::from_secs(50))?;
    guest.send_line("poweroff -f")?;
    guest.wait_exit(std::time::Duration::from_secs(15))?;
    let console = guest.console_text();
    assert!(console.contains("org.kennel.agent"), "{console}");
    assert!(!console.contains("cannot load"), "{console}");
    Ok(())
}

#[test]
fn aarch64_virt_boots_the_debian_kernel_to_the_marker() -> anyhow::Result<()> {
    let Some(tree) = common::foreign_tree("aarch64") else {
        return Ok(());
    };
    if !qemu_available("qemu-system-aarch64") {
        return Ok(());
    }
    let image = GuestImage::build_in(
        &GuestSpec::from_debian_tree(Arch::Aarch64, &tree),
        &common::shared_cache(),
    )?;
    let (to_marker, console) = common::boot_to_marker_and_power_off(
        "qemu-system-aarch64",
        args(&["-machine", "virt", "-cpu", "cortex-a57"], &image),
    )?;
    eprintln!(
        "aarch64 virt: launch to marker {:.2} s",
        to_marker.as_secs_f64()
    );
    assert!(
        console.contains("kennel-guest: ready (1 cpus,"),
        "{console}"
    );
    Ok(())
}

#[test]
fn ppc64_pseries_boots_the_debian_kernel_to_the_marker() -> anyhow::Result<()> {
    let Some(tree) = common::foreign_tree("ppc64") else {
        return Ok(());
    };
    if !qemu_available("qemu-system-ppc64") {
        return Ok(());
    }
    let image = GuestImage::build_in(
        &GuestSpec::from_debian_tree(Arch::Ppc64, &tree),
        &common::shared_cache(),
    )?;
    let (to_marker, console) = common::boot_to_marker_and_power_off(
        "qemu-system-ppc64",
        args(&["-machine", "pseries"], &image),
    )?;
    eprintln!(
        "ppc64 pseries: launch to marker {:.2} s",
        to_marker.as_secs_f64()
    );
    assert!(
        console.contains("kennel-guest: ready (1 cpus,"),
        "{console}"
    );
    Ok(())
}
