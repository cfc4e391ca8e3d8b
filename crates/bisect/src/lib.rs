//! A `git bisect` that knows a flaky test.
//!
//! A test that fails now and then at the good end too makes "one failure means
//! bad" wrong. So the bisect first runs the tests a fixed number of times at both
//! ends and checks that the two failure rates are clearly apart (one-sided
//! Fisher's exact test, [`fisher_one_sided`], at `alpha`, and the good end's upper
//! 95% bound below the bad end's lower one); then, at each commit `git bisect`
//! chooses, it runs them until Wald's sequential probability ratio test ([`Sprt`])
//! between those two bounds ([`Tally::upper_bound`], [`Tally::lower_bound`]) says
//! which end's rate the commit matches, within a number of runs; undecided, or not
//! building, the commit is skipped. Testing between the bounds rather than the
//! measured rates keeps an end that happened to look better than it is from
//! deciding wrongly: a commit failing at most as often as the good end's bound is
//! called bad with chance at most alpha, one failing at least as often as the bad
//! end's bound is called good with chance at most beta; [`State::confidence`] is
//! the union bound over all the verdicts.
//!
//! What builds and runs is the caller's [`Probe`]; the state ([`State`]) is one
//! JSON file in the git folder, rewritten atomically after every run, so that a
//! killed bisect ([`Bisect::resume`]) goes on where it was.
#![deny(missing_docs)]

mod ends;
mod error;
mod git;
mod session;
mod sprt;
mod state;

pub use ends::{fisher_one_sided, Tally, RATE_BOUND_Z};
pub use error::{BisectError, ProbeError};
pub use git::{Git, Step};
pub use session::{describe, Bisect, Build, Event, Place, Probe, Run};
pub use sprt::{Decision, Sprt};
pub use state::{CommitRecord, Outcome, Request, Settings, State, Verdict, STATE_FILE};
