//! `kennel guest build|shell`: the built-in guest by hand (built, and its shell's
//! QEMU command line made, by the machine core).

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
    let (image, agent) = match kennel_vm::guest::build(&arch, a.kernel.as_deref(), None, false, &[])
    {
        Ok(g) => (g.image, g.agent),
        Err(problem) => return Err(CliError::Failed(kennel_machine::error_chain(&problem))),
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
    let mut config = kennel_vm::guest::interactive_config(&image, a.cpus, &a.memory);
    config.qemu_option = a.qemu.clone();
    let binary = config
        .resolve_binary()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let accel = config.choose_accel(&binary.path);
    let command = config.command_line(&kennel_machine::QemuSetup {
        binary: &binary.path,
        install: &kennel_machine::QemuInstall::of(&binary.path),
        accel: &accel.accel,
        // The shell's machine has no monitor or console socket.
        socket_dir: std::path::Path::new(""),
    });
    eprintln!("kennel: {command}");
    eprintln!("kennel: the guest's shell is on this terminal; `poweroff -f` or Ctrl-A X ends it");
    use std::os::unix::process::CommandExt;
    let err = command.command().exec();
    Err(CliError::Failed(format!(
        "cannot start {}: {err}",
        command.program.display()
    )))
}
