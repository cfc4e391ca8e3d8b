//! Counting what one input makes its thread allocate.
//!
//! A crate's fuzz module installs [`CountingAllocator`] as the global
//! allocator of its test binary. It forwards to the system allocator and, on
//! a thread the driver is watching, counts the bytes live since the input
//! began and their peak, and refuses any single allocation over the limit
//! (a 4 GiB length read from an input must never become a 4 GiB buffer): the
//! refusal first calls the driver's hook, which saves the input, and then the
//! process aborts as on any failed allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The global allocator of a fuzzed crate's test binary.
#[derive(Debug)]
pub struct CountingAllocator;

thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
    static LIMIT: Cell<usize> = const { Cell::new(usize::MAX) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static ON_REFUSE: Cell<Option<fn(usize)>> = const { Cell::new(None) };
}

/// Start counting this thread's allocations from zero, refusing any single
/// one over `limit` bytes (after calling `on_refuse` with its size).
pub(crate) fn watch(limit: usize, on_refuse: fn(usize)) {
    LIMIT.with(|l| l.set(limit));
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    ON_REFUSE.with(|h| h.set(Some(on_refuse)));
    WATCHING.with(|w| w.set(true));
}

/// Stop counting; the peak of bytes live at once since [`watch`].
pub(crate) fn unwatch() -> usize {
    WATCHING.with(|w| w.set(false));
    PEAK.with(Cell::get).max(0) as usize
}

fn watching() -> bool {
    WATCHING.try_with(Cell::get).unwrap_or(false)
}

fn count(delta: isize) {
    let live = LIVE.with(|l| {
        let v = l.get() + delta;
        l.set(v);
        v
    });
    PEAK.with(|p| p.set(p.get().max(live)));
}

/// Whether an allocation of `size` may go ahead (false after the hook ran).
fn allowed(size: usize) -> bool {
    if !watching() {
        return true;
    }
    if size <= LIMIT.with(Cell::get) {
        return true;
    }
    WATCHING.with(|w| w.set(false));
    if let Some(hook) = ON_REFUSE.with(Cell::get) {
        hook(size);
    }
    false
}

// SAFETY: every call is forwarded to `System` with the same arguments; the
// bookkeeping touches only this thread's const-initialised cells, which
// never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !allowed(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract is passed on unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && watching() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !allowed(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as in `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() && watching() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if watching() {
            count(-(layout.size() as isize));
        }
        // SAFETY: as in `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !allowed(new_size) {
            return std::ptr::null_mut();
        }
        // SAFETY: as in `alloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && watching() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}
