//! `kennel completions SHELL` and `kennel man`: the shell completion scripts
//! (`clap_complete`) and the manual pages (`clap_mangen`), both made from the
//! same clap definition as the arguments themselves, so they cannot fall behind.

use std::io::Write;

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs, ManArgs};
use crate::exit::{CliError, Ending};

/// `kennel completions SHELL`: the completion script on stdout.
pub fn completions(a: CompletionsArgs) -> Result<Ending, CliError> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "kennel", &mut out);
    write_stdout(&out)
}

/// `kennel man`: the manual page `kennel(1)` on stdout; with `--dir DIR`, one
/// page per command (`kennel.1`, `kennel-run.1`, ...) written into DIR.
pub fn man(a: ManArgs) -> Result<Ending, CliError> {
    let cmd = Cli::command();
    if let Some(dir) = a.dir {
        std::fs::create_dir_all(&dir)
            .map_err(|e| CliError::usage(format!("{}: {e}", dir.display())))?;
        clap_mangen::generate_to(cmd, &dir)
            .map_err(|e| CliError::usage(format!("writing pages into {}: {e}", dir.display())))?;
        println!("kennel: manual pages written into {}", dir.display());
        return Ok(Ending::Ok);
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| CliError::usage(format!("rendering the manual page: {e}")))?;
    write_stdout(&out)
}

/// `bytes` on stdout.
fn write_stdout(bytes: &[u8]) -> Result<Ending, CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| CliError::usage(format!("writing to stdout: {e}")))?;
    Ok(Ending::Ok)
}
