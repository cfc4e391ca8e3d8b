//! `kennel-agent`: the guest agent. See the `kennel_agent` crate docs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use kennel_agent::guest::{find_port, serve, Channel};
use kennel_agent::protocol::PORT_NAME;

/// The host closed the channel (`--connect` mode); the agent's normal end.
const EXIT_OK: u8 = 0;
/// The channel failed or the host spoke something else.
const EXIT_FAILURE: u8 = 1;
/// Bad command line.
const EXIT_USAGE: u8 = 2;

/// How often to look for the port while the kernel has not created it yet.
const PORT_POLL: Duration = Duration::from_millis(10);
/// When to say that the port is still missing.
const PORT_COMPLAINT: Duration = Duration::from_secs(3);
/// Pause before waiting for the next host on a virtio-serial port.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

const USAGE: &str = "\
usage: kennel-agent [--name NAME] [--port] [PATH]
       kennel-agent --connect SOCKET

Serve kennel's command channel.
  (no PATH)        use the virtio-serial port named NAME (default org.kennel.agent),
                   found in /sys/class/virtio-ports
  [--port] PATH    use this character device
  --connect SOCKET connect to a listening UNIX socket (tests, debugging on the host)

exit status: 0 the host closed the socket, 1 channel or protocol failure, 2 usage";

enum Mode {
    Find(String),
    Port(PathBuf),
    Connect(PathBuf),
}

fn parse_args(args: &[String]) -> Result<Mode, String> {
    let mut name = PORT_NAME.to_owned();
    let mut mode = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = |flag: &str| {
            iter.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let next = match arg.as_str() {
            "--name" => {
                name = value("--name")?;
                continue;
            }
            "--port" => Mode::Port(value("--port")?.into()),
            "--connect" => Mode::Connect(value("--connect")?.into()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            path => Mode::Port(path.into()),
        };
        if mode.replace(next).is_some() {
            return Err("give one PATH, --port or --connect".into());
        }
    }
    Ok(mode.unwrap_or(Mode::Find(name)))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::from(EXIT_OK);
    }
    if args.iter().any(|a| a == "-V" || a == "--version") {
        println!("kennel-agent {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::from(EXIT_OK);
    }
    let mode = match parse_args(&args) {
        Ok(mode) => mode,
        Err(message) => {
            eprintln!("kennel-agent: {message}\n{USAGE}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match run(mode) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(message) => {
            eprintln!("kennel-agent: {message}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run(mode: Mode) -> Result<(), String> {
    let mut channel = match mode {
        Mode::Connect(path) => Channel::connect(&path),
        Mode::Port(path) => Channel::open_port(&path),
        Mode::Find(name) => Channel::open_port(&wait_for_port(&name)?),
    }
    .map_err(|e| e.to_string())?;
    loop {
        serve(&mut channel).map_err(|e| format!("{}: {e}", channel.description()))?;
        if !channel.reconnects() {
            return Ok(());
        }
        // A virtio-serial port outlives its host connection: wait for the next one.
        channel.reset();
        thread::sleep(RECONNECT_PAUSE);
    }
}

fn wait_for_port(name: &str) -> Result<PathBuf, String> {
    let started = Instant::now();
    let mut complained = false;
    loop {
        match find_port(name) {
            Ok(Some(path)) => return Ok(path),
            Ok(None) => {}
            Err(e) => return Err(format!("looking for virtio-serial port {name}: {e}")),
        }
        if !complained && started.elapsed() >= PORT_COMPLAINT {
            eprintln!("kennel-agent: still waiting for virtio-serial port {name}");
            complained = true;
        }
        thread::sleep(PORT_POLL);
    }
}
