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

/// A command line the agent does not take.
#[derive(Debug, thiserror::Error)]
enum UsageError {
    #[error("{0} needs a value")]
    NoValue(&'static str),
    #[error("unknown option {0}")]
    UnknownOption(String),
    #[error("give one PATH, --port or --connect")]
    SeveralPorts,
}

/// Why the agent stopped serving.
#[derive(Debug, thiserror::Error)]
enum AgentFailure {
    /// The virtio-serial port could not be looked for.
    #[error("looking for virtio-serial port {name}")]
    FindPort {
        name: String,
        #[source]
        source: std::io::Error,
    },
    /// The channel did not open (the error names the path).
    #[error(transparent)]
    Open(std::io::Error),
    /// The channel failed or the host spoke something else.
    #[error("{channel}")]
    Serve {
        channel: String,
        #[source]
        source: std::io::Error,
    },
}

/// `error` and its causes, each after a colon.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

fn parse_args(args: &[String]) -> Result<Mode, UsageError> {
    let mut name = PORT_NAME.to_owned();
    let mut mode = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = |flag: &'static str| iter.next().cloned().ok_or(UsageError::NoValue(flag));
        let next = match arg.as_str() {
            "--name" => {
                name = value("--name")?;
                continue;
            }
            "--port" => Mode::Port(value("--port")?.into()),
            "--connect" => Mode::Connect(value("--connect")?.into()),
            flag if flag.starts_with('-') => {
                return Err(UsageError::UnknownOption(flag.to_owned()))
            }
            path => Mode::Port(path.into()),
        };
        if mode.replace(next).is_some() {
            return Err(UsageError::SeveralPorts);
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
        Err(failure) => {
            eprintln!("kennel-agent: {}", with_causes(&failure));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run(mode: Mode) -> Result<(), AgentFailure> {
    let mut channel = match mode {
        Mode::Connect(path) => Channel::connect(&path),
        Mode::Port(path) => Channel::open_port(&path),
        Mode::Find(name) => Channel::open_port(&wait_for_port(&name)?),
    }
    .map_err(AgentFailure::Open)?;
    loop {
        serve(&mut channel).map_err(|source| AgentFailure::Serve {
            channel: channel.description().to_string(),
            source,
        })?;
        if !channel.reconnects() {
            return Ok(());
        }
        // A virtio-serial port outlives its host connection: wait for the next one.
        channel.reset();
        thread::sleep(RECONNECT_PAUSE);
    }
}

fn wait_for_port(name: &str) -> Result<PathBuf, AgentFailure> {
    let started = Instant::now();
    let mut complained = false;
    loop {
        match find_port(name) {
            Ok(Some(path)) => return Ok(path),
            Ok(None) => {}
            Err(source) => {
                return Err(AgentFailure::FindPort {
                    name: name.to_owned(),
                    source,
                })
            }
        }
        if !complained && started.elapsed() >= PORT_COMPLAINT {
            eprintln!("kennel-agent: still waiting for virtio-serial port {name}");
            complained = true;
        }
        thread::sleep(PORT_POLL);
    }
}
