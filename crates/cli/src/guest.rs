//! `kennel guest build|shell`: the built-in guest by hand (built, and its shell's
//! QEMU command line made, by the machine core).

use crate::args::{GuestArgs, GuestCommand};
use crate::exit::{CliError, Ending};
use kennel_config::text::shell_word;

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
    let (image, agent) = match kennel_vm::guest::build(&arch, a.kernel.as_deref()) {
        Ok(g) => (g.image, g.agent),
        Err(
            kennel_vm::guest::GuestProblem::Missing(why)
            | kennel_vm::guest::GuestProblem::Failed(why),
        ) => return Err(CliError::Failed(why)),
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
    let accel = kennel_machine::choose_accel(&arch, &binary);
    let args = kennel_vm::guest::interactive_args(&image, &accel, a.cpus, &a.memory);
    let words: Vec<String> = args.iter().map(|a| shell_word(a).into_owned()).collect();
    eprintln!(
        "kennel: {} {}",
        shell_word(&binary.to_string_lossy()),
        words.join(" ")
    );
    eprintln!("kennel: the guest's shell is on this terminal; `poweroff -f` or Ctrl-A X ends it");
    use std::os::unix::process::CommandExt;
    let err = kennel_machine::QemuInstall::command(&binary)
        .args(&args)
        .exec();
    Err(CliError::Failed(format!(
        "cannot start {}: {err}",
        binary.display()
    )))
}
