//! The `kennel` command: argument parsing and wiring; the logic lives in the library crates.

mod args;
mod commands;
mod exit;

use clap::Parser;

fn main() {
    let cli = args::Cli::parse();
    commands::apply_project_config();
    let code = commands::dispatch(cli);
    std::process::exit(code);
}
