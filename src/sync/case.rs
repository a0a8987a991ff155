//! The cases of a [`Select`](super::Select): a type-level list of typed
//! receive and send cases with their handlers, and the type-erased
//! interface (`RawCase`) through which `select_raw` drives them.
//!
//! # Safety
//!
//! The raw-case methods run with the case's channel lock held (taken by
//! `select_raw` through `lock`), which is what `send_locked`/`recv_locked`
//! and the queue operations require. A case's waiter and value slot are
//! fields of the case, which stays in `Select::wait`'s frame, unmoved, from
//! `enqueue` until `dequeue` or `fired`.
#![allow(unsafe_code)]

use super::chan::{Chan, SendError, Step, OUTCOME_CLOSED, OUTCOME_VALUE};
use super::waiter::{Claim, Parker, Waiter, OUTCOME_NONE};
use crate::Error;
use core::mem::MaybeUninit;

mod private {
    use super::{Claim, Parker};

    /// A case with its element type erased, as `select_raw` drives it.
    pub trait RawCase {
        /// Address of the channel's lock (lock order).
        fn lock_addr(&self) -> usize;
        fn lock(&self);
        /// # Safety
        /// The caller took the lock with `lock`.
        unsafe fn unlock(&self);
        /// Completes the case now if it can: `Some` (with a claimed waiter
        /// to finish after unlocking, if any), else `None`.
        /// # Safety
        /// The channel's lock is held.
        unsafe fn poll(&mut self) -> Option<Option<Claim>>;
        /// Links this case's waiter for wait `parker`, reporting `case`.
        /// # Safety
        /// The channel's lock is held; `self` stays put until `dequeue`.
        unsafe fn enqueue(&mut self, parker: &Parker, case: u32);
        /// Unlinks this case's waiter if it is still linked.
        /// # Safety
        /// The channel's lock is held.
        unsafe fn dequeue(&mut self);
        /// This case's waiter fired: take its outcome.
        fn fired(&mut self);
    }

    pub trait Sealed {}
}
pub(super) use private::RawCase;
use private::Sealed;

/// A case that can be completed and then handed to its handler.
pub trait Case<R>: Sealed {
    #[doc(hidden)]
    fn raw(&mut self) -> &mut dyn RawCase;
    #[doc(hidden)]
    fn fire(self) -> R;
}

/// The type-level list of a [`Select`](super::Select)'s cases.
pub trait Cases<R>: Sealed {
    /// Number of cases.
    const LEN: usize;
    #[doc(hidden)]
    fn collect<'s>(&'s mut self, out: &mut [Option<&'s mut dyn RawCase>]);
    #[doc(hidden)]
    fn fire(self, idx: usize) -> R;
}

/// The empty case list.
#[derive(Debug)]
pub struct Nil;

/// A case list: the earlier cases, then one more.
#[derive(Debug)]
pub struct Cons<P, C>(pub(super) P, pub(super) C);

impl Sealed for Nil {}
impl<P, C> Sealed for Cons<P, C> {}

impl<R> Cases<R> for Nil {
    const LEN: usize = 0;
    fn collect<'s>(&'s mut self, _: &mut [Option<&'s mut dyn RawCase>]) {}
    fn fire(self, _: usize) -> R {
        crate::fatal("goro: sync: select fired a case it does not have")
    }
}

impl<R, P: Cases<R>, C: Case<R>> Cases<R> for Cons<P, C> {
    const LEN: usize = P::LEN + 1;
    fn collect<'s>(&'s mut self, out: &mut [Option<&'s mut dyn RawCase>]) {
        let Cons(p, c) = self;
        p.collect(out);
        out[P::LEN] = Some(c.raw());
    }
    fn fire(self, idx: usize) -> R {
        if idx == P::LEN {
            self.1.fire()
        } else {
            self.0.fire(idx)
        }
    }
}

/// A receive case (see [`Select::recv`](super::Select::recv)).
pub struct RecvCase<'a, T, F> {
    chan: &'a Chan<T>,
    f: F,
    slot: MaybeUninit<T>,
    /// `OUTCOME_*` once the case completed.
    result: u8,
    waiter: Option<Waiter>,
}

/// A send case (see [`Select::send`](super::Select::send)).
pub struct SendCase<'a, T, F> {
    chan: &'a Chan<T>,
    f: F,
    /// The value, until a receiver takes it (`result == OUTCOME_VALUE`)
    /// or `fire` gives it back.
    value: MaybeUninit<T>,
    has_value: bool,
    result: u8,
    waiter: Option<Waiter>,
}

impl<'a, T, F> RecvCase<'a, T, F> {
    pub(super) fn new(chan: &'a Chan<T>, f: F) -> Self {
        RecvCase { chan, f, slot: MaybeUninit::uninit(), result: OUTCOME_NONE, waiter: None }
    }
}

impl<'a, T, F> SendCase<'a, T, F> {
    pub(super) fn new(chan: &'a Chan<T>, v: T, f: F) -> Self {
        SendCase { chan, f, value: MaybeUninit::new(v), has_value: true, result: OUTCOME_NONE, waiter: None }
    }
}

impl<T, F> Sealed for RecvCase<'_, T, F> {}
impl<T, F> Sealed for SendCase<'_, T, F> {}

impl<T, F> RawCase for RecvCase<'_, T, F> {
    fn lock_addr(&self) -> usize {
        self.chan.state.addr()
    }
    fn lock(&self) {
        self.chan.state.raw_lock();
    }
    unsafe fn unlock(&self) {
        // SAFETY: per the trait contract.
        unsafe { self.chan.state.raw_unlock() }
    }
    unsafe fn poll(&mut self) -> Option<Option<Claim>> {
        // SAFETY: the lock is held (contract); the slot is ours.
        let step = unsafe { self.chan.recv_locked(&mut *self.chan.state.data(), self.slot.as_mut_ptr()) };
        match step {
            Step::Done(c) => {
                self.result = OUTCOME_VALUE;
                Some(c)
            }
            Step::Closed => {
                self.result = OUTCOME_CLOSED;
                Some(None)
            }
            Step::Blocked => None,
        }
    }
    unsafe fn enqueue(&mut self, parker: &Parker, case: u32) {
        let slot = self.slot.as_mut_ptr().cast();
        let w: *const Waiter = self.waiter.insert(Waiter::new(parker, case, slot, 0));
        // SAFETY: lock held; the waiter lives in `self`, which stays put.
        unsafe { (*self.chan.state.data()).recvq.push(w) };
    }
    unsafe fn dequeue(&mut self) {
        if let Some(w) = &self.waiter {
            // SAFETY: lock held; if linked, `w` is in this channel's recvq.
            unsafe { (*self.chan.state.data()).recvq.remove(w) };
        }
    }
    fn fired(&mut self) {
        self.result = self.waiter.as_ref().map_or(OUTCOME_NONE, |w| w.outcome.get());
    }
}

impl<T, F> RawCase for SendCase<'_, T, F> {
    fn lock_addr(&self) -> usize {
        self.chan.state.addr()
    }
    fn lock(&self) {
        self.chan.state.raw_lock();
    }
    unsafe fn unlock(&self) {
        // SAFETY: per the trait contract.
        unsafe { self.chan.state.raw_unlock() }
    }
    unsafe fn poll(&mut self) -> Option<Option<Claim>> {
        // SAFETY: the lock is held (contract); `value` holds our value,
        // which `send_locked` moves out only on Done.
        let step = unsafe { self.chan.send_locked(&mut *self.chan.state.data(), self.value.as_mut_ptr()) };
        match step {
            Step::Done(c) => {
                self.result = OUTCOME_VALUE;
                self.has_value = false;
                Some(c)
            }
            Step::Closed => {
                self.result = OUTCOME_CLOSED;
                Some(None)
            }
            Step::Blocked => None,
        }
    }
    unsafe fn enqueue(&mut self, parker: &Parker, case: u32) {
        let slot = self.value.as_mut_ptr().cast();
        let w: *const Waiter = self.waiter.insert(Waiter::new(parker, case, slot, 0));
        // SAFETY: lock held; the waiter lives in `self`, which stays put.
        unsafe { (*self.chan.state.data()).sendq.push(w) };
    }
    unsafe fn dequeue(&mut self) {
        if let Some(w) = &self.waiter {
            // SAFETY: lock held; if linked, `w` is in this channel's sendq.
            unsafe { (*self.chan.state.data()).sendq.remove(w) };
        }
    }
    fn fired(&mut self) {
        self.result = self.waiter.as_ref().map_or(OUTCOME_NONE, |w| w.outcome.get());
        if self.result == OUTCOME_VALUE {
            self.has_value = false; // a receiver moved it out
        }
    }
}

impl<T, F, R> Case<R> for RecvCase<'_, T, F>
where
    F: FnOnce(Result<T, Error>) -> R,
{
    fn raw(&mut self) -> &mut dyn RawCase {
        self
    }
    fn fire(mut self) -> R {
        let r = match self.result {
            // SAFETY: VALUE means the slot was filled (by us or a sender).
            OUTCOME_VALUE => Ok(unsafe { self.slot.assume_init_read() }),
            OUTCOME_CLOSED => Err(Error::Closed),
            _ => crate::fatal("goro: sync: select receive case fired without an outcome"),
        };
        self.result = OUTCOME_NONE;
        // Move the handler out; `self` has nothing else left to drop.
        let me = core::mem::ManuallyDrop::new(self);
        // SAFETY: `me` is never used or dropped again.
        let f = unsafe { core::ptr::read(&me.f) };
        f(r)
    }
}

impl<T, F, R> Case<R> for SendCase<'_, T, F>
where
    F: FnOnce(Result<(), SendError<T>>) -> R,
{
    fn raw(&mut self) -> &mut dyn RawCase {
        self
    }
    fn fire(mut self) -> R {
        let r = match self.result {
            OUTCOME_VALUE => Ok(()),
            OUTCOME_CLOSED => {
                self.has_value = false;
                // SAFETY: the value was not taken (CLOSED), and is read once.
                Err(SendError(unsafe { self.value.assume_init_read() }))
            }
            _ => crate::fatal("goro: sync: select send case fired without an outcome"),
        };
        let me = core::mem::ManuallyDrop::new(self);
        // SAFETY: `me` is never used or dropped again; its value is gone.
        let f = unsafe { core::ptr::read(&me.f) };
        f(r)
    }
}

impl<T, F> Drop for RecvCase<'_, T, F> {
    fn drop(&mut self) {
        if self.result == OUTCOME_VALUE {
            // SAFETY: a received value that no handler took.
            unsafe { self.slot.assume_init_drop() };
        }
    }
}

impl<T, F> Drop for SendCase<'_, T, F> {
    fn drop(&mut self) {
        if self.has_value {
            // SAFETY: the value was never sent nor given back.
            unsafe { self.value.assume_init_drop() };
        }
    }
}

/// What happens when no case is ready (see [`Select`](super::Select)).
pub trait Otherwise<R>: Sealed {
    #[doc(hidden)]
    fn deadline(&self) -> Wait;
    #[doc(hidden)]
    fn fire(self) -> R;
}

#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum Wait {
    Never,
    Forever,
    Until(i64),
}

/// No default and no timeout: `wait` blocks until a case is ready.
#[derive(Debug)]
pub struct Block;

/// A default arm ([`Select::default`](super::Select::default)).
#[derive(Debug)]
pub struct DefaultArm<F>(pub(super) F);

/// A timeout arm ([`Select::timeout`](super::Select::timeout)).
#[derive(Debug)]
pub struct TimeoutArm<F> {
    pub(super) at: i64,
    pub(super) f: F,
}

impl Sealed for Block {}
impl<F> Sealed for DefaultArm<F> {}
impl<F> Sealed for TimeoutArm<F> {}

impl<R> Otherwise<R> for Block {
    fn deadline(&self) -> Wait {
        Wait::Forever
    }
    fn fire(self) -> R {
        crate::fatal("goro: sync: blocking select returned without a case")
    }
}

impl<R, F: FnOnce() -> R> Otherwise<R> for DefaultArm<F> {
    fn deadline(&self) -> Wait {
        Wait::Never
    }
    fn fire(self) -> R {
        (self.0)()
    }
}

impl<R, F: FnOnce() -> R> Otherwise<R> for TimeoutArm<F> {
    fn deadline(&self) -> Wait {
        Wait::Until(self.at)
    }
    fn fire(self) -> R {
        (self.f)()
    }
}
