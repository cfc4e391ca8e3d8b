//! The guest side: the agent that runs inside the guest (the `kennel-agent` binary
//! is a thin wrapper around [`serve`]).

mod channel;
mod command;
mod port;
mod serve;
mod sys;

pub use channel::Channel;
pub use port::find_port;
pub use serve::{ready_info, serve};
