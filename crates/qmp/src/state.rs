//! State shared between callers and the reader thread.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::{Map, Value};

use crate::QmpError;

/// Why the connection ended. Kept so that every later call reports the same cause.
#[derive(Debug, Clone)]
pub(crate) enum Closure {
    /// End of file, or closed locally.
    Eof,
    /// QEMU sent something that is not QMP.
    Protocol(String),
    /// QEMU sent a line over the limit.
    LineTooLong(usize),
    /// Reading failed.
    Io(io::ErrorKind, String),
}

impl Closure {
    pub(crate) fn to_error(&self) -> QmpError {
        match self {
            Closure::Eof => QmpError::Closed,
            Closure::Protocol(detail) => QmpError::Protocol {
                detail: detail.clone(),
            },
            Closure::LineTooLong(limit) => QmpError::LineTooLong { limit: *limit },
            Closure::Io(kind, message) => QmpError::Io(io::Error::new(*kind, message.clone())),
        }
    }
}

/// Everything the reader thread hands to callers.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The greeting's `QMP` member, once received.
    pub(crate) greeting: Option<Value>,
    /// Command ids whose callers are waiting, with their reply once it arrived.
    /// An id absent here gets its reply dropped.
    pub(crate) pending: HashMap<String, Option<Map<String, Value>>>,
    /// Events not yet consumed, oldest first.
    pub(crate) events: VecDeque<Value>,
    /// Set once the reader thread has stopped.
    pub(crate) closed: Option<Closure>,
    /// The last message received, shortened, for timeout messages.
    pub(crate) last_received: Option<String>,
}

/// [`State`] behind a mutex, with a condition variable signalled on every change.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    /// Lock the state. A poisoned lock is recovered: every update leaves the state consistent.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wake every waiting caller.
    pub(crate) fn notify(&self) {
        self.changed.notify_all();
    }

    /// Wait until `ready` returns `Some`, or until `deadline`.
    ///
    /// `ready` is called with the lock held, first immediately and then after every
    /// change; it decides, among other things, whether a closed connection ends the wait.
    /// Returns `None` when the deadline passed, with the lock still held so the
    /// caller can clean up and describe what was last seen.
    pub(crate) fn wait_until<T>(
        &self,
        deadline: Instant,
        mut ready: impl FnMut(&mut State) -> Option<T>,
    ) -> (MutexGuard<'_, State>, Option<T>) {
        let mut state = self.lock();
        loop {
            if let Some(value) = ready(&mut state) {
                return (state, Some(value));
            }
            let now = Instant::now();
            if now >= deadline {
                return (state, None);
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
