//! [`WaitGroup`]: wait for a collection of goroutines to finish.
//!
//! The counter and the queue of waiters sit under one internal lock: `done`
//! that brings the counter to zero wakes every waiter in the same critical
//! section, and `wait` queues itself only after seeing a non-zero counter
//! under that lock, so no wake-up is lost and a waiter never wakes while
//! the counter it waited for is still above zero.
//!
//! # Safety
//!
//! The only `unsafe` links a waiter that lives on the waiting stack into
//! the queue; it is unlinked (and claimed) by the `done` that wakes it.
#![allow(unsafe_code)]

use super::lock::SpinLock;
use super::queue::WaitQueue;
use super::waiter::{ClaimList, Parker, Waiter};
use core::fmt;
use core::ptr;

struct State {
    count: usize,
    waiters: WaitQueue,
}

/// Go's `sync.WaitGroup`: [`add`](Self::add) before starting work,
/// [`done`](Self::done) when a piece finishes, [`wait`](Self::wait) parks
/// until the counter is back at zero. Reusable once every `wait` has
/// returned.
pub struct WaitGroup {
    st: SpinLock<State>,
}

impl WaitGroup {
    /// A wait group with counter 0.
    pub const fn new() -> Self {
        WaitGroup { st: SpinLock::new(State { count: 0, waiters: WaitQueue::new() }) }
    }

    /// Adds `n` to the counter.
    ///
    /// # Panics
    ///
    /// If the counter would overflow `usize`.
    pub fn add(&self, n: usize) {
        let mut st = self.st.lock();
        st.count = st.count.checked_add(n).unwrap_or_else(|| panic!("goro::sync::WaitGroup: counter overflow"));
    }

    /// Subtracts one from the counter; at zero, wakes every waiter.
    ///
    /// # Panics
    ///
    /// If the counter is already zero (more `done`s than `add`s), as Go does.
    pub fn done(&self) {
        let mut woken = ClaimList::new();
        {
            let mut guard = self.st.lock();
            let st = &mut *guard;
            if st.count == 0 {
                drop(guard);
                panic!("goro::sync::WaitGroup: done called more often than add");
            }
            st.count -= 1;
            if st.count == 0 {
                st.waiters.claim_all(&mut woken);
            }
        }
        woken.finish_all();
    }

    /// The counter now.
    pub fn count(&self) -> usize {
        self.st.lock().count
    }

    /// Parks until the counter is zero (returns at once if it is).
    pub fn wait(&self) {
        let mut st = self.st.lock();
        if st.count == 0 {
            return;
        }
        let parker = Parker::single();
        let w = Waiter::new(&parker, 0, ptr::null_mut(), 0);
        // SAFETY: under the lock; `w` stays on this frame until the `done`
        // that brings the counter to zero unlinks it.
        unsafe { st.waiters.push(&w) };
        parker.park_after(st, None);
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup").field("count", &self.count()).finish()
    }
}
