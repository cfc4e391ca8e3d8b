//! `kennel guest build|shell`: the built-in guest by hand.
//!
//! The QEMU command line of `guest shell` is written here for now; it moves into the
//! machine core (issue 11, item 1) when that lands.

use crate::args::{GuestArgs, GuestCommand};
use crate::exit::{CliError, Ending};

/// `kennel guest build|shell`.
pub fn guest(cmd: GuestCommand) -> Result<Ending, CliError> {
    let (shell, a): (bool, &GuestArgs) = match &cmd {
        GuestCommand::Build(a) => (false, a),
        GuestCommand::Shell(a) => (true, a),
    };
    let arch = a
        .arch
        .clone()
        .unwrap_or_else(|| kennel_machine::host_arch().to_string());
    let started = std::time::Instant::now();
    let (image, agent) = match kennel_runner::interpret::build_guest(&arch, a.kernel.as_deref()) {
        Ok(g) => g,
        Err(why) => return Err(CliError::Failed(why.to_string())),
    };
    if !shell {
        println!("arch     {}", image.arch.name());
        println!(
            "kernel   {} ({}{})",
            image.kernel.display(),
            image.kernel_release,
            if image.pvh { ", PVH" } else { "" }
        );
        println!("initrd   {}", image.initrd.display());
        println!("append   {}", image.append);
        println!(
            "agent    {}",
            if agent { "yes" } else { "no (console only)" }
        );
        println!(
            "{} in {} ms",
            if image.from_cache {
                "from the cache"
            } else {
                "built"
            },
            started.elapsed().as_millis()
        );
        return Ok(Ending::Ok);
    }
    let binary = match kennel_machine::find_qemu(&arch, None, a.qemu.as_deref()) {
        Ok(b) => b.path,
        Err(e) => return Err(CliError::Failed(e.to_string())),
    };
    let mut args: Vec<String> = vec![
        "-machine".into(),
        image.arch.default_machine().into(),
        "-accel".into(),
        kennel_machine::choose_accel(&arch, &binary),
        "-smp".into(),
        a.cpus.to_string(),
        "-m".into(),
        a.memory.clone(),
        "-nodefaults".into(),
        "-no-reboot".into(),
        "-display".into(),
        "none".into(),
        "-serial".into(),
        "mon:stdio".into(),
    ];
    if image.arch == kennel_guest::Arch::Aarch64 {
        args.extend(["-cpu".into(), "cortex-a57".into()]);
    }
    args.extend(
        image
            .qemu_args()
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned()),
    );
    eprintln!("kennel: {} {}", binary.display(), args.join(" "));
    eprintln!("kennel: the guest's shell is on this terminal; `poweroff -f` or Ctrl-A X ends it");
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(&binary).args(&args).exec();
    Err(CliError::Failed(format!(
        "cannot start {}: {err}",
        binary.display()
    )))
}
