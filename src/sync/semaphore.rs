//! [`Semaphore`]: a counting semaphore whose waiters park, FIFO.
//!
//! Permits and the queue sit under one internal lock. An acquire takes its
//! permits at once only if nobody is queued ahead of it (FIFO: a large
//! request at the head is not overtaken by small ones). A release hands
//! permits to queued waiters from the front for as long as the head's
//! request fits, deducting them before waking each (hand-off). A timed-out
//! waiter leaves the queue and re-runs that hand-off, since it may have
//! been the head that blocked smaller requests behind it.
//!
//! # Safety
//!
//! The only `unsafe` links a waiter that lives on the waiting stack into
//! the queue and unlinks it again after a timeout; otherwise the release
//! that wakes it unlinks (and claims) it.
#![allow(unsafe_code)]

use super::lock::SpinLock;
use super::queue::WaitQueue;
use super::waiter::{ClaimList, Parker, Waiter, TIMEOUT};
use crate::time::{dur_ns, nanotime};
use crate::Error;
use core::fmt;
use core::ptr;
use core::time::Duration;

struct State {
    permits: usize,
    waiters: WaitQueue,
}

impl State {
    /// Grants permits to waiters from the front while the head's request fits.
    fn grant(&mut self, woken: &mut ClaimList) {
        while let Some(w) = self.waiters.front() {
            let n = w.arg;
            if n > self.permits {
                break;
            }
            if let Some(c) = self.waiters.claim_front() {
                self.permits -= n;
                woken.push(c);
            }
        }
    }
}

/// A counting semaphore (Go's `golang.org/x/sync/semaphore.Weighted`):
/// [`acquire`](Self::acquire) parks until a permit is free and returns a
/// guard that gives it back when dropped.
///
/// ```no_run
/// static LIMIT: goro::sync::Semaphore = goro::sync::Semaphore::new(4);
/// let _permit = LIMIT.acquire(); // at most 4 goroutines past this line
/// ```
pub struct Semaphore {
    st: SpinLock<State>,
}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    pub const fn new(permits: usize) -> Self {
        Semaphore { st: SpinLock::new(State { permits, waiters: WaitQueue::new() }) }
    }

    /// Takes one permit, parking until one is free.
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_many(1)
    }

    /// Takes `n` permits at once, parking until they are free (FIFO with
    /// the other waiters). A request for more permits than will ever be
    /// free waits forever, and so do the requests queued behind it: use
    /// [`acquire_timeout`](Self::acquire_timeout) or
    /// [`try_acquire`](Self::try_acquire) when `n` may exceed the total.
    pub fn acquire_many(&self, n: usize) -> SemaphorePermit<'_> {
        match self.acquire_inner(n, None) {
            Ok(p) => p,
            Err(_) => crate::fatal("goro: sync: semaphore wait without deadline timed out"),
        }
    }

    /// Takes `n` permits, giving up after `d` with [`Error::TimedOut`].
    pub fn acquire_timeout(&self, n: usize, d: Duration) -> Result<SemaphorePermit<'_>, Error> {
        self.acquire_inner(n, Some(nanotime().saturating_add(dur_ns(d))))
    }

    /// Takes `n` permits if that needs no waiting.
    pub fn try_acquire(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        let mut st = self.st.lock();
        if st.waiters.is_empty() && st.permits >= n {
            st.permits -= n;
            return Some(SemaphorePermit { sem: self, n });
        }
        None
    }

    /// Adds `n` permits (also what dropping a permit does), waking waiters
    /// whose requests now fit.
    ///
    /// # Panics
    ///
    /// If the number of free permits would overflow `usize`.
    pub fn release(&self, n: usize) {
        let mut woken = ClaimList::new();
        {
            let mut st = self.st.lock();
            st.permits = st.permits.checked_add(n).unwrap_or_else(|| panic!("goro::sync::Semaphore: too many permits"));
            st.grant(&mut woken);
        }
        woken.finish_all();
    }

    /// Free permits now.
    pub fn available(&self) -> usize {
        self.st.lock().permits
    }

    fn acquire_inner(&self, n: usize, deadline: Option<i64>) -> Result<SemaphorePermit<'_>, Error> {
        let mut st = self.st.lock();
        if st.waiters.is_empty() && st.permits >= n {
            st.permits -= n;
            return Ok(SemaphorePermit { sem: self, n });
        }
        let parker = Parker::single();
        let w = Waiter::new(&parker, 0, ptr::null_mut(), n);
        // SAFETY: under the lock; `w` stays on this frame until a release
        // unlinks it, or we do below.
        unsafe { st.waiters.push(&w) };
        if parker.park_after(st, deadline) == TIMEOUT {
            let mut woken = ClaimList::new();
            {
                let mut st = self.st.lock();
                // SAFETY: under the lock; `w` is ours, in this queue if linked.
                unsafe { st.waiters.remove(&w) };
                st.grant(&mut woken);
            }
            woken.finish_all();
            return Err(Error::TimedOut);
        }
        Ok(SemaphorePermit { sem: self, n }) // the releaser deducted our permits
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore").field("available", &self.available()).finish()
    }
}

/// Permits taken from a [`Semaphore`]; dropping gives them back.
#[must_use = "the permits are released as soon as this is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl SemaphorePermit<'_> {
    /// Keeps the permits taken for good (they are not released on drop).
    pub fn forget(mut self) {
        self.n = 0;
    }

    /// How many permits this holds.
    pub fn count(&self) -> usize {
        self.n
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.sem.release(self.n);
        }
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").field("n", &self.n).finish()
    }
}
