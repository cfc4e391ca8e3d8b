//! What a step reads: the test's file and parameters, its clock, its paths and
//! the files prepared before the first step. A case owns one
//! [`Context`]; steps only borrow it.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use kennel_config::AssetPolicy;
use kennel_spec::{TestFile, Value};

use crate::steps::StepError;

/// The test's own time: its deadline and its timeout, and whether a wait has
/// run out of time (the failure artifacts then include QEMU's backtrace).
/// Clones share that last fact.
#[derive(Clone)]
pub(crate) struct TestClock {
    /// When the test's time runs out.
    pub deadline: Instant,
    /// The test's timeout, for messages.
    pub timeout: Duration,
    /// A wait timed out (the step's or the test's time).
    timed_out_seen: Rc<Cell<bool>>,
}

impl TestClock {
    /// A clock for a test starting now with `timeout`.
    pub fn starting_now(timeout: Duration) -> TestClock {
        TestClock {
            deadline: Instant::now() + timeout,
            timeout,
            timed_out_seen: Rc::default(),
        }
    }

    /// Whether a wait of this test has timed out.
    pub fn timed_out_seen(&self) -> bool {
        self.timed_out_seen.get()
    }

    /// The time of a wait that ends by `deadline` (and the test's deadline),
    /// `limit` being its own time limit, for messages.
    pub fn until(&self, deadline: Instant, limit: Option<Duration>) -> StepTime {
        StepTime {
            deadline: deadline.min(self.deadline),
            limit,
            test: self.clone(),
        }
    }

    /// The time of a step: its own timeout from now, bounded by the test's
    /// deadline; without one, what is left of the test's time.
    pub fn for_step(&self, timeout: Option<Duration>) -> StepTime {
        let deadline = timeout
            .map(|t| Instant::now() + t)
            .unwrap_or(self.deadline)
            .min(self.deadline);
        let limit = timeout.or_else(|| Some(deadline.saturating_duration_since(Instant::now())));
        self.until(deadline, limit)
    }
}

/// How long one step (or one launch) may wait: every wait of the step ends
/// by `deadline`.
#[derive(Clone)]
pub(crate) struct StepTime {
    /// When the step's time runs out (never after the test's).
    pub deadline: Instant,
    /// The step's own time limit, for messages.
    pub limit: Option<Duration>,
    /// The test's clock.
    pub test: TestClock,
}

impl StepTime {
    /// What a timed-out wait for `what` means: FAIL for a step timeout
    /// ("timed out after 2s waiting for ..."), INTERRUPTED once the test's own
    /// time has run out ("test timeout (2s) reached while waiting for ...").
    pub fn timed_out(&self, what: String) -> StepError {
        self.test.timed_out_seen.set(true);
        if Instant::now() >= self.test.deadline {
            StepError::Interrupted(format!(
                "test timeout ({}) reached while waiting for {what}",
                humantime::format_duration(self.test.timeout)
            ))
        } else {
            let after = self
                .limit
                .map(|t| format!(" after {}", humantime::format_duration(round_ms(t))))
                .unwrap_or_default();
            StepError::Fail(format!("timed out{after} waiting for {what}"))
        }
    }

    /// The same step's time, ending by `deadline` instead (never after the
    /// test's).
    pub fn ending_by(&self, deadline: Instant) -> StepTime {
        self.test.until(deadline, self.limit)
    }

    /// Whether the test's own time has run out.
    pub fn test_is_over(&self) -> bool {
        Instant::now() >= self.test.deadline
    }
}

/// A duration to whole milliseconds, for messages.
fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis().try_into().unwrap_or(u64::MAX))
}

/// What every step of a case reads, and nothing changes once the steps start.
pub(crate) struct Context<'a> {
    /// The test file.
    pub file: &'a TestFile,
    /// The case's parameters.
    pub params: &'a IndexMap<String, Value>,
    /// The test's time.
    pub clock: TestClock,
    /// `${tmp}`: the test's private scratch folder.
    pub tmp: PathBuf,
    /// The test's log folder.
    pub logdir: PathBuf,
    /// How assets may be fetched.
    pub asset_policy: AssetPolicy,
    /// `${asset:NAME}`: verified asset files by name.
    pub assets: HashMap<String, PathBuf>,
    /// `${guest_kernel}` and `${guest_initrd}`, when the test uses them.
    pub guest_files: Option<(PathBuf, PathBuf)>,
}
