//! [`WaitQueue`]: the intrusive FIFO of waiters that every primitive keeps
//! under its lock.
//!
//! # Safety
//!
//! The queue holds raw pointers to waiters on their owners' stacks. Its
//! contract (see `waiter.rs`): a waiter is pushed under the queue's lock,
//! stays alive and unmoved while linked, and is unlinked under that lock,
//! by its claimer or its owner, before the owner's wait returns. Every
//! method runs under the lock (it takes the guarded `&mut self`), so the
//! links it follows point at live waiters.
#![allow(unsafe_code)]

use super::waiter::{try_claim, Claim, ClaimList, Waiter};
use core::ptr;

/// A FIFO of waiters, guarded by the lock of the primitive that holds it.
pub(crate) struct WaitQueue {
    head: *const Waiter,
    tail: *const Waiter,
}

// SAFETY: the queue is only reached through its primitive's lock; the
// waiters it points to are kept alive by their parked owners (module docs).
unsafe impl Send for WaitQueue {}

impl WaitQueue {
    pub(crate) const fn new() -> Self {
        WaitQueue { head: ptr::null(), tail: ptr::null() }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// The first waiter, if any.
    pub(crate) fn front(&self) -> Option<&Waiter> {
        // SAFETY: linked waiters are alive (`push`'s contract) and we are
        // under the queue's lock (we have `&self` to the guarded state).
        unsafe { self.head.as_ref() }
    }

    /// Appends `w`.
    ///
    /// # Safety
    ///
    /// The caller holds the queue's lock; `w` is not linked anywhere and
    /// stays alive, unmoved, until it has been unlinked again.
    pub(crate) unsafe fn push(&mut self, w: *const Waiter) {
        // SAFETY: per the contract.
        let wr = unsafe { &*w };
        wr.next.set(ptr::null());
        wr.prev.set(self.tail);
        wr.linked.set(true);
        if self.tail.is_null() {
            self.head = w;
        } else {
            // SAFETY: the tail is linked, hence alive.
            unsafe { (*self.tail).next.set(w) };
        }
        self.tail = w;
    }

    /// Unlinks `w` if it is still linked (in this queue); returns whether it was.
    ///
    /// # Safety
    ///
    /// The caller holds the queue's lock; `w` is alive and, if linked, is
    /// linked in this queue.
    pub(crate) unsafe fn remove(&mut self, w: *const Waiter) -> bool {
        // SAFETY: per the contract; its neighbours are linked, hence alive.
        unsafe {
            let wr = &*w;
            if !wr.linked.get() {
                return false;
            }
            let (prev, next) = (wr.prev.get(), wr.next.get());
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).next.set(next);
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                (*next).prev.set(prev);
            }
            wr.linked.set(false);
            wr.next.set(ptr::null());
            wr.prev.set(ptr::null());
        }
        true
    }

    /// Unlinks waiters from the front until one can be claimed (skipping
    /// those whose owner was already claimed elsewhere) and returns its claim.
    pub(crate) fn pop_claim(&mut self) -> Option<Claim> {
        while !self.head.is_null() {
            let w = self.head;
            // SAFETY: the head is linked, hence alive; we hold the lock (`&mut self` to the guarded state); after
            // `remove` we still hold it, as `try_claim` requires.
            unsafe {
                self.remove(w);
                if let Some(c) = try_claim(w) {
                    return Some(c);
                }
            }
        }
        None
    }

    /// Unlinks the first waiter and tries to claim it: `None` if the queue
    /// is empty or that waiter's owner was already claimed elsewhere.
    pub(crate) fn claim_front(&mut self) -> Option<Claim> {
        let w = self.head;
        if w.is_null() {
            return None;
        }
        // SAFETY: as in `pop_claim`.
        unsafe {
            self.remove(w);
            try_claim(w)
        }
    }

    /// Claims every waiter into `list` (close, wake-all).
    pub(crate) fn claim_all(&mut self, list: &mut ClaimList) {
        while let Some(c) = self.pop_claim() {
            list.push(c);
        }
    }
}
