//! Channels (Go's `runtime/chan.go`): a bounded FIFO of `N` values
//! (`N > 0`) or a rendezvous (`N == 0`), with parked senders and receivers.
//!
//! # Ownership without a heap
//!
//! A [`Channel<T, N>`] is the storage: its buffer is an inline array, so it
//! can be a `static` (`Channel::new` is `const`), a field of something in
//! an `Arc`, or a local that outlives its users. [`Sender`] and
//! [`Receiver`] are `Copy` handles borrowing it (`&'a`) with the capacity
//! erased from their type, so `Sender<'static, Job>` is the same type for
//! every `N`. Goroutines need `'static` captures, so share a channel as a
//! `static` (`CH.sender()`) or, with `std`, through an `Arc<Channel<T, N>>`
//! whose clones call the same methods on the channel itself.
//!
//! # State (under the channel's spin lock)
//!
//! `recvq` is non-empty only while the buffer is empty, and `sendq` only
//! while it is full (always, for `N == 0`), not counting waiters whose owner
//! was already claimed elsewhere (a `select`'s other case, or its timer):
//! those are skipped and unlinked by whoever finds them. A sender that finds
//! a parked receiver copies its value straight into the receiver's slot (on
//! the receiver's stack); a receiver that finds a parked sender takes the
//! sender's value (or, buffer full, the buffer's head, and moves the
//! sender's value to the tail). Either moves the value only after winning
//! the waiter's claim, so a timeout that fires at the same moment either
//! loses (the value was delivered) or wins (the value stays with its owner).
//!
//! # Safety
//!
//! Buffer slots and the state are touched only under the channel's lock;
//! slots `head .. head + len` (mod capacity) are initialised. A waiter's
//! `slot` points at a `T` (a sender's value, or a receiver's uninitialised
//! destination) on its owner's stack, valid while the waiter is linked or
//! claimed (see `waiter.rs`); a value is moved out of a sender's slot only
//! by the claimer of that sender's wait.
#![allow(unsafe_code)]

use super::lock::SpinLock;
use super::queue::WaitQueue;
use super::waiter::{Claim, ClaimList, Parker, Waiter, TIMEOUT};
use crate::Error;
use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ptr;
use core::time::Duration;

pub use super::chan_error::{SendError, SendTimeoutError, TryRecvError, TrySendError};
pub use super::handle::{Iter, Receiver, Sender};

/// `Waiter::outcome`: the value was handed over.
pub(super) const OUTCOME_VALUE: u8 = 1;
/// `Waiter::outcome`: the channel was closed.
pub(super) const OUTCOME_CLOSED: u8 = 2;

/// One buffer slot.
pub(crate) struct Slot<T>(UnsafeCell<MaybeUninit<T>>);

pub(super) struct State {
    head: usize,
    len: usize,
    closed: bool,
    pub(super) recvq: WaitQueue,
    pub(super) sendq: WaitQueue,
}

/// The channel with its capacity erased (`B` = `[Slot<T>]`): what handles
/// point to. `Channel<T, N>` holds the sized form `B = [Slot<T>; N]`.
pub(crate) struct Chan<T, B: ?Sized = [Slot<T>]> {
    pub(super) state: SpinLock<State>,
    _t: PhantomData<T>,
    buf: B,
}

// SAFETY: values of T move between threads through the buffer and the
// waiters' slots (T: Send); every access to them is under the lock.
unsafe impl<T: Send, B: ?Sized> Sync for Chan<T, B> {}
// SAFETY: as above; the channel owns its buffered values.
unsafe impl<T: Send, B: ?Sized> Send for Chan<T, B> {}

/// A channel of `T` with room for `N` buffered values; `N == 0` makes it
/// unbuffered (every send waits for a receiver, as Go's `make(chan T)`).
///
/// ```no_run
/// use goro::sync::Channel;
/// static CH: Channel<u32, 4> = Channel::new();
/// goro::run(|| {
///     let (tx, rx) = (CH.sender(), CH.receiver());
///     goro::spawn(move || {
///         for i in 0..10 {
///             tx.send(i).unwrap();
///         }
///         tx.close();
///     })
///     .unwrap();
///     assert_eq!(rx.iter().sum::<u32>(), 45);
/// })
/// .unwrap();
/// ```
///
/// Put it in a `static` (`new` is `const`) or an `Arc`, and hand out its
/// [`Sender`]s and [`Receiver`]s: `Copy` handles that borrow it, with `N`
/// erased from their type. Any operation may be called from a goroutine (it
/// parks) or from a thread outside the runtime (it blocks the thread on a
/// futex).
pub struct Channel<T, const N: usize> {
    inner: Chan<T, [Slot<T>; N]>,
}

impl<T, const N: usize> Channel<T, N> {
    /// An empty, open channel.
    pub const fn new() -> Self {
        Channel {
            inner: Chan {
                state: SpinLock::new(State {
                    head: 0,
                    len: 0,
                    closed: false,
                    recvq: WaitQueue::new(),
                    sendq: WaitQueue::new(),
                }),
                _t: PhantomData,
                buf: [const { Slot(UnsafeCell::new(MaybeUninit::uninit())) }; N],
            },
        }
    }

    fn raw(&self) -> &Chan<T> {
        &self.inner
    }

    /// A sending handle.
    pub fn sender(&self) -> Sender<'_, T> {
        Sender { chan: self.raw() }
    }

    /// A receiving handle.
    pub fn receiver(&self) -> Receiver<'_, T> {
        Receiver { chan: self.raw() }
    }

    /// See [`Sender::send`].
    pub fn send(&self, v: T) -> Result<(), SendError<T>> {
        self.sender().send(v)
    }

    /// See [`Sender::try_send`].
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        self.sender().try_send(v)
    }

    /// See [`Sender::send_timeout`].
    pub fn send_timeout(&self, v: T, d: Duration) -> Result<(), SendTimeoutError<T>> {
        self.sender().send_timeout(v, d)
    }

    /// See [`Receiver::recv`].
    pub fn recv(&self) -> Result<T, Error> {
        self.receiver().recv()
    }

    /// See [`Receiver::try_recv`].
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.receiver().try_recv()
    }

    /// See [`Receiver::recv_timeout`].
    pub fn recv_timeout(&self, d: Duration) -> Result<T, Error> {
        self.receiver().recv_timeout(d)
    }

    /// See [`Sender::close`].
    pub fn close(&self) -> bool {
        self.raw().close()
    }

    /// Whether the channel has been closed.
    pub fn is_closed(&self) -> bool {
        self.raw().is_closed()
    }

    /// Values buffered now.
    pub fn len(&self) -> usize {
        self.raw().len()
    }

    /// Whether no value is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `N`.
    pub const fn capacity(&self) -> usize {
        N
    }
}

impl<T, const N: usize> Default for Channel<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> Drop for Channel<T, N> {
    fn drop(&mut self) {
        // Nobody can be waiting: waiters borrow the channel.
        let st = self.inner.state.get_mut();
        for k in 0..st.len {
            // SAFETY: slots head..head+len are initialised, and dropped once.
            unsafe { (*self.inner.buf[(st.head + k) % N].0.get()).assume_init_drop() };
        }
        st.len = 0;
    }
}

impl<T, const N: usize> fmt::Debug for Channel<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.raw().state.lock();
        f.debug_struct("Channel").field("capacity", &N).field("len", &st.len).field("closed", &st.closed).finish()
    }
}

/// What an attempt under the lock came to.
pub(super) enum Step {
    /// Done; a claimed waiter (if any) to finish once the lock is dropped.
    Done(Option<Claim>),
    /// The channel is closed (send), or closed and drained (recv).
    Closed,
    /// It would have to wait.
    Blocked,
}

impl<T> Chan<T> {
    pub(super) fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    pub(super) fn len(&self) -> usize {
        self.state.lock().len
    }

    fn slot(&self, i: usize) -> *mut T {
        self.buf[i].0.get().cast()
    }

    /// Sends the value at `src` if that needs no waiting.
    ///
    /// # Safety
    ///
    /// The caller holds the lock and `st` is the guarded state; `src` holds
    /// a value that this moves out on `Done` (and leaves alone otherwise).
    pub(super) unsafe fn send_locked(&self, st: &mut State, src: *mut T) -> Step {
        if st.closed {
            return Step::Closed;
        }
        if let Some(c) = st.recvq.pop_claim() {
            // A parked receiver means an empty buffer: hand the value over.
            let w = c.waiter();
            // SAFETY: we claimed the receiver, so its slot (uninitialised,
            // on its stack) is ours to fill; `src` per the contract.
            unsafe { ptr::copy_nonoverlapping(src, w.slot.cast::<T>(), 1) };
            w.outcome.set(OUTCOME_VALUE);
            return Step::Done(Some(c));
        }
        let cap = self.buf.len();
        if st.len < cap {
            // SAFETY: the slot after the last buffered value is free.
            unsafe { ptr::copy_nonoverlapping(src, self.slot((st.head + st.len) % cap), 1) };
            st.len += 1;
            return Step::Done(None);
        }
        Step::Blocked
    }

    /// Receives into `dst` if that needs no waiting.
    ///
    /// # Safety
    ///
    /// The caller holds the lock and `st` is the guarded state; `dst` is
    /// writable, and initialised by this on `Done`.
    pub(super) unsafe fn recv_locked(&self, st: &mut State, dst: *mut T) -> Step {
        if let Some(c) = st.sendq.pop_claim() {
            // A parked sender means a full buffer (or none at all).
            let w = c.waiter();
            let src = w.slot.cast::<T>();
            let cap = self.buf.len();
            // SAFETY: we claimed the sender, so its value is ours to take; with a buffer, it is full: take its head,
            // and put the sender's value in the freed slot, which is now the tail.
            unsafe {
                if cap == 0 {
                    ptr::copy_nonoverlapping(src, dst, 1);
                } else {
                    let head = self.slot(st.head);
                    ptr::copy_nonoverlapping(head, dst, 1);
                    ptr::copy_nonoverlapping(src, head, 1);
                    st.head = (st.head + 1) % cap;
                }
            }
            w.outcome.set(OUTCOME_VALUE);
            return Step::Done(Some(c));
        }
        if st.len > 0 {
            // SAFETY: the head slot is initialised; it becomes free.
            unsafe { ptr::copy_nonoverlapping(self.slot(st.head), dst, 1) };
            st.head = (st.head + 1) % self.buf.len();
            st.len -= 1;
            return Step::Done(None);
        }
        if st.closed {
            Step::Closed
        } else {
            Step::Blocked
        }
    }

    /// Sends `v`; `block` says whether to wait, `deadline` until when.
    /// The error is `Closed`, `TimedOut`, or (not blocking) `Os(EAGAIN)`.
    pub(super) fn send(&self, v: T, block: bool, deadline: Option<i64>) -> Result<(), (T, Error)> {
        let mut v = ManuallyDrop::new(v);
        let src: *mut T = &mut *v;
        let mut st = self.state.lock();
        // SAFETY: we hold the lock; `v` is a live value we give up on Done.
        match unsafe { self.send_locked(&mut st, src) } {
            Step::Done(c) => {
                drop(st);
                if let Some(c) = c {
                    c.finish();
                }
                return Ok(());
            }
            Step::Closed => return Err((ManuallyDrop::into_inner(v), Error::Closed)),
            Step::Blocked if !block => return Err((ManuallyDrop::into_inner(v), WOULD_BLOCK)),
            Step::Blocked => {}
        }
        let parker = Parker::single();
        let w = Waiter::new(&parker, 0, src.cast(), 0);
        // SAFETY: we hold the lock; `w` stays on this frame, unmoved, until
        // it is unlinked (by a claimer, or by us below).
        unsafe { st.sendq.push(&w) };
        if parker.park_after(st, deadline) == TIMEOUT {
            // SAFETY: under the lock; `w` is ours and in this queue if linked.
            unsafe { self.state.lock().sendq.remove(&w) };
            return Err((ManuallyDrop::into_inner(v), Error::TimedOut));
        }
        match w.outcome.get() {
            OUTCOME_VALUE => Ok(()), // the receiver moved the value out
            OUTCOME_CLOSED => Err((ManuallyDrop::into_inner(v), Error::Closed)),
            _ => crate::fatal("goro: sync: channel sender woken without an outcome"),
        }
    }

    /// Receives a value; the error is `Closed`, `TimedOut`, or (not
    /// blocking) `Os(EAGAIN)`.
    pub(super) fn recv(&self, block: bool, deadline: Option<i64>) -> Result<T, Error> {
        let mut slot = MaybeUninit::<T>::uninit();
        let dst = slot.as_mut_ptr();
        let mut st = self.state.lock();
        // SAFETY: we hold the lock; `dst` is our writable slot.
        match unsafe { self.recv_locked(&mut st, dst) } {
            Step::Done(c) => {
                drop(st);
                if let Some(c) = c {
                    c.finish();
                }
                // SAFETY: Done initialised the slot.
                return Ok(unsafe { slot.assume_init() });
            }
            Step::Closed => return Err(Error::Closed),
            Step::Blocked if !block => return Err(WOULD_BLOCK),
            Step::Blocked => {}
        }
        let parker = Parker::single();
        let w = Waiter::new(&parker, 0, dst.cast(), 0);
        // SAFETY: as in `send`.
        unsafe { st.recvq.push(&w) };
        if parker.park_after(st, deadline) == TIMEOUT {
            // SAFETY: as in `send`.
            unsafe { self.state.lock().recvq.remove(&w) };
            return Err(Error::TimedOut);
        }
        match w.outcome.get() {
            // SAFETY: the sender that claimed us filled the slot.
            OUTCOME_VALUE => Ok(unsafe { slot.assume_init() }),
            OUTCOME_CLOSED => Err(Error::Closed),
            _ => crate::fatal("goro: sync: channel receiver woken without an outcome"),
        }
    }

    /// Closes the channel and wakes every parked sender and receiver.
    pub(super) fn close(&self) -> bool {
        let mut woken = ClaimList::new();
        {
            let mut guard = self.state.lock();
            let st = &mut *guard;
            if st.closed {
                return false;
            }
            st.closed = true;
            for q in [&mut st.recvq, &mut st.sendq] {
                while let Some(c) = q.pop_claim() {
                    c.waiter().outcome.set(OUTCOME_CLOSED);
                    woken.push(c);
                }
            }
        }
        woken.finish_all();
        true
    }
}

/// The internal "would have to wait" of non-blocking calls.
pub(super) const WOULD_BLOCK: Error = Error::Os(11); // EAGAIN
