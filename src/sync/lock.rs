//! The spin lock that guards each primitive's state and wait queues.
//!
//! Critical sections are a few dozen instructions (link a waiter, move a
//! value, claim a token) and never park, so a test-and-test-and-set lock is
//! enough. It is not a user-facing lock: goroutines that wait for a
//! *primitive* park; only the bookkeeping spins. `select` holds several of
//! these at once and always takes them in address order.
//!
//! # Safety
//!
//! `SpinLock<T>` hands out `&mut T` only through a guard (or to callers of
//! [`SpinLock::data`] that hold the lock by [`SpinLock::raw_lock`]), and the
//! flag's acquire/release pair orders every access to `T` between holders.
#![allow(unsafe_code)]

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// A test-and-test-and-set spin lock around `T`.
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    data: UnsafeCell<T>,
}

// SAFETY: the lock gives one thread at a time access to `T`, which may move
// between threads (T: Send), so sharing the lock is sound.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: owning the lock is owning a `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub(crate) const fn new(v: T) -> Self {
        SpinLock { locked: AtomicBool::new(false), data: UnsafeCell::new(v) }
    }

    /// Takes the lock.
    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        self.raw_lock();
        SpinGuard { lock: self }
    }

    /// Takes the lock without a guard; release it with [`raw_unlock`](Self::raw_unlock).
    #[inline]
    pub(crate) fn raw_lock(&self) {
        if self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.lock_contended();
        }
    }

    #[cold]
    fn lock_contended(&self) {
        loop {
            while self.locked.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
            if self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                return;
            }
        }
    }

    /// Releases a lock taken with [`raw_lock`](Self::raw_lock).
    ///
    /// # Safety
    ///
    /// The caller holds the lock (through `raw_lock`) and no reference
    /// obtained from [`data`](Self::data) outlives this call.
    #[inline]
    pub(crate) unsafe fn raw_unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }

    /// The guarded value; dereferencing it needs the lock.
    #[inline]
    pub(crate) fn data(&self) -> *mut T {
        self.data.get()
    }

    /// Exclusive access without locking (`&mut self` proves nobody else has it).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Address of the lock, for `select`'s lock order.
    pub(crate) fn addr(&self) -> usize {
        self as *const Self as usize
    }
}

/// Holds a [`SpinLock`] until dropped.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<'a, T> SpinGuard<'a, T> {
    /// Keeps the lock held past the guard and returns its flag, for a park
    /// that releases it as its commit (`sched::park_unlock`).
    pub(crate) fn into_held_flag(self) -> &'a AtomicBool {
        let flag = &self.lock.locked;
        core::mem::forget(self);
        flag
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, and `&mut self` makes this the
        // only reference derived from it.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard took the lock; references derived from it borrow
        // the guard and so are gone by now.
        unsafe { self.lock.raw_unlock() }
    }
}
