//! [`Once`]: run an initialisation exactly once; later callers park until
//! it has finished.
//!
//! `state` goes INCOMPLETE -> RUNNING (the first caller, under the internal
//! lock) -> COMPLETE (when the function returns or panics). Callers that
//! find it RUNNING queue themselves under the same lock and are woken by
//! the COMPLETE transition, which happens under that lock too.
//!
//! # Safety
//!
//! The only `unsafe` links a waiter that lives on the waiting stack into
//! the queue; it is unlinked (and claimed) by the caller that completes.
#![allow(unsafe_code)]

use super::lock::SpinLock;
use super::queue::WaitQueue;
use super::waiter::{ClaimList, Parker, Waiter};
use core::fmt;
use core::ptr;
use core::sync::atomic::{AtomicU8, Ordering};

const INCOMPLETE: u8 = 0;
const RUNNING: u8 = 1;
const COMPLETE: u8 = 2;

/// Go's `sync.Once`: [`call_once`](Self::call_once) runs its function the
/// first time only; concurrent callers park until that run has finished.
/// If the function panics, the `Once` counts as done (as Go's does).
/// Calling `call_once` on the same `Once` from inside its function
/// deadlocks (as in Go).
pub struct Once {
    state: AtomicU8,
    waiters: SpinLock<WaitQueue>,
}

impl Once {
    /// A `Once` that has not run.
    pub const fn new() -> Self {
        Once { state: AtomicU8::new(INCOMPLETE), waiters: SpinLock::new(WaitQueue::new()) }
    }

    /// Runs `f` if no call has run one yet; otherwise waits until the one
    /// that is running (if any) has finished.
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.state.load(Ordering::Acquire) == COMPLETE {
            return;
        }
        self.call_slow(f);
    }

    /// Whether a call has completed.
    pub fn is_completed(&self) -> bool {
        self.state.load(Ordering::Acquire) == COMPLETE
    }

    #[cold]
    fn call_slow<F: FnOnce()>(&self, f: F) {
        let mut q = self.waiters.lock();
        match self.state.load(Ordering::Acquire) {
            COMPLETE => {}
            RUNNING => {
                let parker = Parker::single();
                let w = Waiter::new(&parker, 0, ptr::null_mut(), 0);
                // SAFETY: under the lock; `w` stays on this frame until the
                // completing caller unlinks it.
                unsafe { q.push(&w) };
                parker.park_after(q, None);
            }
            _ => {
                self.state.store(RUNNING, Ordering::Relaxed);
                drop(q);
                let _complete = Complete(self);
                f();
            }
        }
    }
}

/// Marks the `Once` complete and wakes its waiters, also on unwind.
struct Complete<'a>(&'a Once);

impl Drop for Complete<'_> {
    fn drop(&mut self) {
        let mut woken = ClaimList::new();
        {
            let mut q = self.0.waiters.lock();
            self.0.state.store(COMPLETE, Ordering::Release);
            q.claim_all(&mut woken);
        }
        woken.finish_all();
    }
}

impl Default for Once {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").field("completed", &self.is_completed()).finish()
    }
}
