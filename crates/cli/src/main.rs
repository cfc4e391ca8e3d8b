//! The `kennel` command: argument parsing and wiring, one module per subcommand;
//! the logic lives in the library crates.

mod args;
mod assets;
mod attach;
mod bisect;
mod changed;
mod ci_shard;
mod doctor;
mod exit;
mod guest;
mod history;
mod init;
mod list;
mod manual;
mod project;
mod replay;
mod report;
mod run;
mod run_test;
mod screen;
mod select;

use clap::Parser;
use kennel_config::text::visible;

use crate::args::{Cli, Command};
use crate::exit::{CliError, Ending};

fn main() {
    let cli = Cli::parse();
    if cli.command.only_prints() {
        die_quietly_on_a_closed_pipe();
    }
    let result = if cli.command.reads_no_config() {
        dispatch(cli)
    } else {
        project::read_config()
            .map_err(CliError::usage)
            .and_then(|_| dispatch(cli))
    };
    if let Err(e) = &result {
        eprintln!("kennel: {}", visible(&e.to_string()));
    }
    std::process::exit(exit::code(&result));
}

/// A command that only prints (`kennel list | head`) ends quietly when its reader
/// goes away, as `ls` does, instead of panicking on the broken pipe. Commands that
/// run machines keep SIGPIPE ignored: they must reach their cleanup.
fn die_quietly_on_a_closed_pipe() {
    // SAFETY: setting a signal's disposition to its default has no preconditions;
    // it runs before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn dispatch(cli: Cli) -> Result<Ending, CliError> {
    match cli.command {
        Command::Run(a) => run::run(a),
        Command::List(a) => list::list(a),
        Command::Replay(a) => replay::replay(a),
        Command::Report(a) => report::report(a),
        Command::Assets(a) => assets::assets(a),
        Command::Guest(a) => guest::guest(a),
        Command::Doctor(a) => doctor::doctor(a),
        Command::Attach(a) => attach::attach(a),
        Command::Resume(a) => attach::resume(a),
        Command::Bisect(a) => bisect::bisect(a),
        Command::History(a) => history::history(a),
        Command::Screen(a) => screen::screen(a),
        Command::Init(a) => init::init(a),
        Command::Completions(a) => manual::completions(a),
        Command::Man(a) => manual::man(a),
        Command::RunTest(a) => run_test::run_test(a),
    }
}
