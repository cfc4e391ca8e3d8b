//! A blocking front over tokio: the session's own I/O thread.

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::SshError;

/// Locks a mutex, ignoring poisoning: the data behind our mutexes stays
/// consistent even if a holder panicked.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A current-thread tokio runtime driven by its own thread, so that the
/// connection is serviced (keepalives, window updates) between calls too.
/// Callers block on futures through the runtime's handle.
pub(crate) struct Driver {
    handle: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Driver {
    pub(crate) fn start() -> Result<Driver, SshError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(SshError::Runtime)?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("kennel-ssh-io".to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    // Either a stop message or the sender being dropped.
                    let _ = stopped.await;
                });
                // Dropping the runtime here (not in an async context) ends
                // the connection task and closes its socket.
                drop(runtime);
            })
            .map_err(SshError::Runtime)?;
        Ok(Driver {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
