//! [`RwLock`]: many readers or one writer, waiters park.
//!
//! # State (under the internal spin lock)
//!
//! `readers` holding it, whether a `writer` holds it, and a queue each of
//! waiting readers and writers. A reader gets in when no writer holds the
//! lock *and none is waiting* (so a stream of readers cannot starve a
//! writer). When a writer unlocks, every waiting reader is let in at once
//! if there are any (so writers cannot starve readers either), else the
//! first waiting writer; when the last reader leaves, the first waiting
//! writer. Ownership is handed over: the unlocker counts the woken readers
//! in (or sets `writer`) before waking them.
//!
//! # Safety
//!
//! `data` is reached only through guards: shared guards exist only while
//! `readers > 0` and no writer, the exclusive guard only while `writer`;
//! the internal lock (and for hand-offs, the wait token's release and
//! `ready`) orders accesses between holders.
#![allow(unsafe_code)]

use super::lock::SpinLock;
use super::queue::WaitQueue;
use super::waiter::{ClaimList, Parker, Waiter};
use core::cell::UnsafeCell;
use core::fmt;
use core::ops::{Deref, DerefMut};
use core::ptr;

struct State {
    readers: usize,
    writer: bool,
    readq: WaitQueue,
    writeq: WaitQueue,
}

/// A reader-writer lock whose waiters park (Go's `sync.RWMutex`, holding
/// its data like `std::sync::RwLock`). Not reentrant: a reader that asks
/// for the read lock again while a writer waits deadlocks, as in Go, and
/// so does asking for the write lock while holding either lock.
pub struct RwLock<T: ?Sized> {
    st: SpinLock<State>,
    data: UnsafeCell<T>,
}

// SAFETY: readers on several threads share `&T` (T: Sync); the writer gets
// `&mut T`, possibly on another thread (T: Send).
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}
// SAFETY: owning the lock is owning the T.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}

impl<T> RwLock<T> {
    /// An unlocked lock holding `v`.
    pub const fn new(v: T) -> Self {
        RwLock {
            st: SpinLock::new(State { readers: 0, writer: false, readq: WaitQueue::new(), writeq: WaitQueue::new() }),
            data: UnsafeCell::new(v),
        }
    }

    /// The value (no locking: the lock is consumed).
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, parking while a writer holds or waits for it.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        let mut st = self.st.lock();
        if !st.writer && st.writeq.is_empty() {
            st.readers += 1;
            return RwLockReadGuard { l: self };
        }
        let parker = Parker::single();
        let w = Waiter::new(&parker, 0, ptr::null_mut(), 0);
        // SAFETY: under the lock; `w` stays here until the unlocker that
        // lets us in unlinks it.
        unsafe { st.readq.push(&w) };
        parker.park_after(st, None); // the unlocker counted us in
        RwLockReadGuard { l: self }
    }

    /// Locks for reading if that needs no waiting.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        let mut st = self.st.lock();
        if !st.writer && st.writeq.is_empty() {
            st.readers += 1;
            return Some(RwLockReadGuard { l: self });
        }
        None
    }

    /// Locks for writing, parking while anyone else holds it.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        let mut st = self.st.lock();
        if !st.writer && st.readers == 0 {
            st.writer = true;
            return RwLockWriteGuard { l: self };
        }
        let parker = Parker::single();
        let w = Waiter::new(&parker, 0, ptr::null_mut(), 0);
        // SAFETY: as in `read`.
        unsafe { st.writeq.push(&w) };
        parker.park_after(st, None); // the unlocker made us the writer
        RwLockWriteGuard { l: self }
    }

    /// Locks for writing if that needs no waiting.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        let mut st = self.st.lock();
        if !st.writer && st.readers == 0 {
            st.writer = true;
            return Some(RwLockWriteGuard { l: self });
        }
        None
    }

    /// The value (no locking: `&mut self` proves exclusivity).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    fn read_unlock(&self) {
        let mut woken = ClaimList::new();
        {
            let mut st = self.st.lock();
            st.readers -= 1;
            if st.readers == 0 {
                if let Some(c) = st.writeq.pop_claim() {
                    st.writer = true;
                    woken.push(c);
                }
            }
        }
        woken.finish_all();
    }

    fn write_unlock(&self) {
        let mut woken = ClaimList::new();
        {
            let mut guard = self.st.lock();
            let st = &mut *guard;
            st.writer = false;
            while let Some(c) = st.readq.pop_claim() {
                st.readers += 1;
                woken.push(c);
            }
            if st.readers == 0 {
                if let Some(c) = st.writeq.pop_claim() {
                    st.writer = true;
                    woken.push(c);
                }
            }
        }
        woken.finish_all();
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_read() {
            Some(g) => f.debug_struct("RwLock").field("data", &&*g).finish(),
            None => f.write_str("RwLock { <locked> }"),
        }
    }
}

/// Shared access to an [`RwLock`]'s value; unlocks when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    l: &'a RwLock<T>,
}

/// Exclusive access to an [`RwLock`]'s value; unlocks when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    l: &'a RwLock<T>,
}

// SAFETY: a shared read guard gives out `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: a shared write guard gives out `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we are counted in `readers`, so no writer exists.
        unsafe { &*self.l.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.l.read_unlock();
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we are the writer.
        unsafe { &*self.l.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we are the writer, and `&mut self` makes this the only
        // reference.
        unsafe { &mut *self.l.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.l.write_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
