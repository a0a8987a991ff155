//! [`Mutex`]: mutual exclusion that parks waiting goroutines.
//!
//! # State
//!
//! `state` is 0 (unlocked), `LOCKED`, or `LOCKED | WAITERS` (someone is in
//! the queue). Locking is one CAS 0 -> LOCKED; unlocking one CAS LOCKED -> 0.
//! A contended `lock` spins briefly (the holder may be running on another
//! P), then, under the queue lock, either takes the lock or sets `WAITERS`
//! and queues itself before parking. `unlock` with `WAITERS` set hands the
//! lock straight to the first waiter (LOCKED stays set), clearing `WAITERS`
//! when the queue empties. Hand-off makes the mutex FIFO-fair: a waiter
//! cannot be starved by goroutines that keep re-locking.
//!
//! # Safety
//!
//! `data` is reached only through a guard, and a guard exists only while
//! `LOCKED` is owned by its holder (taken by CAS, or handed over by the
//! unlocker); the acquire on taking and the release on unlocking (or the
//! hand-off's token store and `ready`) order accesses between holders.
#![allow(unsafe_code)]

use super::lock::SpinLock;
use super::queue::WaitQueue;
use super::waiter::{Parker, Waiter};
use core::cell::UnsafeCell;
use core::fmt;
use core::ops::{Deref, DerefMut};
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

const LOCKED: u32 = 1;
const WAITERS: u32 = 2;
/// Spins before parking in a contended `lock`.
const SPINS: u32 = 64;

/// A mutual-exclusion lock whose waiters park (Go's `sync.Mutex`, holding
/// its data like `std::sync::Mutex`). Not reentrant: a goroutine that
/// locks it again while holding it deadlocks (as in Go). No poisoning: a
/// panic while locked unlocks it as the guard drops, and the data stays as
/// the panicking holder left it.
///
/// ```no_run
/// static COUNT: goro::sync::Mutex<u64> = goro::sync::Mutex::new(0);
/// *COUNT.lock() += 1;
/// ```
pub struct Mutex<T: ?Sized> {
    state: AtomicU32,
    queue: SpinLock<WaitQueue>,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands `&mut T` to one holder at a time, possibly on
// another thread: T: Send suffices (as for std's Mutex).
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: owning the mutex is owning the T.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `v`.
    pub const fn new(v: T) -> Self {
        Mutex { state: AtomicU32::new(0), queue: SpinLock::new(WaitQueue::new()), data: UnsafeCell::new(v) }
    }

    /// The value (no locking: the mutex is consumed).
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, parking while another holder has it (blocking the thread
    /// outside a goroutine).
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if self.state.compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.lock_slow();
        }
        MutexGuard { m: self }
    }

    /// Locks if that needs no waiting.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| MutexGuard { m: self })
    }

    /// Whether someone holds the lock now.
    pub fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }

    /// The value (no locking: `&mut self` proves exclusivity).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    #[cold]
    fn lock_slow(&self) {
        for _ in 0..SPINS {
            if self.state.load(Ordering::Relaxed) == 0
                && self.state.compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                return;
            }
            core::hint::spin_loop();
        }
        let mut q = self.queue.lock();
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & LOCKED == 0 {
                // Released meanwhile (with WAITERS clear: hand-off keeps
                // LOCKED while anyone is queued).
                match self.state.compare_exchange(s, s | LOCKED, Ordering::Acquire, Ordering::Relaxed) {
                    Ok(_) => return,
                    Err(now) => s = now,
                }
                continue;
            }
            // Announce a waiter, so unlock comes to the queue.
            match self.state.compare_exchange(s, s | WAITERS, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        let parker = Parker::single();
        let w = Waiter::new(&parker, 0, ptr::null_mut(), 0);
        // SAFETY: we hold the queue lock; `w` stays on this frame until the
        // unlocker that hands us the lock unlinks it.
        unsafe { q.push(&w) };
        // The unlocker unlinks us and hands over the lock.
        parker.park_after(q, None);
    }

    #[inline]
    fn unlock(&self) {
        if self.state.compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed).is_err() {
            self.unlock_slow();
        }
    }

    #[cold]
    fn unlock_slow(&self) {
        let mut q = self.queue.lock();
        if let Some(c) = q.pop_claim() {
            if q.is_empty() {
                self.state.store(LOCKED, Ordering::Relaxed);
            }
            drop(q);
            // Hand-off: LOCKED stays set and now belongs to the waiter; its
            // token store (release) and `ready` publish our writes.
            c.finish();
            return;
        }
        self.state.store(0, Ordering::Release);
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_lock() {
            Some(g) => f.debug_struct("Mutex").field("data", &&*g).finish(),
            None => f.write_str("Mutex { <locked> }"),
        }
    }
}

/// Access to a [`Mutex`]'s value; unlocks when dropped.
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    m: &'a Mutex<T>,
}

// SAFETY: a guard shared between threads gives out `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard owns the lock (module safety note).
        unsafe { &*self.m.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above, and `&mut self` makes this the only reference.
        unsafe { &mut *self.m.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.m.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
