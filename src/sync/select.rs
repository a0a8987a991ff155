//! `select` over several channel operations (Go's `runtime/select.go`):
//! the [`Select`] builder (its docs say how to use it) and `select_raw`,
//! which runs the cases with their element types erased.
//!
//! # How a blocking select waits
//!
//! 1. Lock every channel involved, in address order (each once).
//! 2. Poll the cases in a random order; the first that can complete now
//!    does, and `wait` returns.
//! 3. Otherwise link one waiter per case (all sharing the goroutine's wait
//!    token) into the channels' queues, unlock, and park (with the timer
//!    armed for a timeout).
//! 4. Exactly one waker wins the token (see `waiter.rs`) and completes its
//!    case; on waking, lock the channels again and unlink the other cases'
//!    waiters.
//!
//! # Safety
//!
//! `select_raw` calls the raw-case methods that need a channel's lock
//! (`poll`, `enqueue`, `dequeue`) only between `Locks::lock` and
//! `Locks::unlock`, which take and release every lock of the select exactly
//! once; the cases are borrowed from `Select::wait`'s frame for the whole
//! call, so their waiters stay put from `enqueue` to `dequeue`.
#![allow(unsafe_code)]

pub use super::case::{Block, Case, Cases, Cons, DefaultArm, Nil, Otherwise, RecvCase, SendCase, TimeoutArm};

use super::case::{RawCase, Wait};
use super::chan::{Receiver, SendError, Sender};
use super::waiter::{Parker, TIMEOUT};
use crate::sched;
use crate::time::{dur_ns, nanotime, Instant};
use crate::Error;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

/// Most cases one [`Select`] may have.
pub const MAX_CASES: usize = 16;

/// Go's `select` over several channel operations, as a builder whose
/// cases carry their own handlers: add cases with [`recv`](Self::recv) and
/// [`send`](Self::send), optionally a [`default`](Self::default) or a
/// [`timeout`](Self::timeout), then [`wait`](Self::wait).
///
/// ```no_run
/// use goro::sync::{Channel, Select};
/// use core::time::Duration;
/// static JOBS: Channel<u32, 8> = Channel::new();
/// static RESULTS: Channel<u32, 0> = Channel::new();
/// # goro::run(|| {
/// enum Ev { Job(u32), Sent, Closed, Idle }
/// let ev = Select::new()
///     .recv(&JOBS, |r| r.map_or(Ev::Closed, Ev::Job))
///     .send(&RESULTS, 7, |r| if r.is_ok() { Ev::Sent } else { Ev::Closed })
///     .timeout(Duration::from_millis(10), || Ev::Idle)
///     .wait();
/// # }).unwrap();
/// ```
///
/// [`wait`](Self::wait) completes exactly one case and returns what its handler
/// returns: a receive handler gets `Ok(value)` or `Err(Error::Closed)`, a
/// send handler `Ok(())` or `Err(SendError(value))` (the channel is closed).
/// When several cases are ready, each is equally likely to be chosen (the
/// cases are polled in a random order, as Go does). With
/// [`default`](Self::default), `wait` never blocks; with
/// [`timeout`](Self::timeout), it gives up after the duration. The value
/// of a send case that was not chosen is dropped.
///
/// The builder is a type-level list, so there is no heap and no boxing; a
/// select has at most [`MAX_CASES`] cases (checked at compile time).
#[must_use = "a Select does nothing until `wait` is called"]
pub struct Select<R, L = Nil, E = Block> {
    cases: L,
    otherwise: E,
    _r: PhantomData<fn() -> R>,
}

impl<R> Select<R> {
    /// A select with no cases yet.
    pub fn new() -> Self {
        Select { cases: Nil, otherwise: Block, _r: PhantomData }
    }
}

impl<R> Default for Select<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R, L: Cases<R>, E> Select<R, L, E> {
    /// Adds a receive from `rx`; `f` gets the value, or `Err(Error::Closed)`
    /// once the channel is closed and drained.
    pub fn recv<'a, T, F>(self, rx: impl Into<Receiver<'a, T>>, f: F) -> Select<R, Cons<L, RecvCase<'a, T, F>>, E>
    where
        F: FnOnce(Result<T, Error>) -> R,
    {
        let case = RecvCase::new(rx.into().chan, f);
        Select { cases: Cons(self.cases, case), otherwise: self.otherwise, _r: PhantomData }
    }

    /// Adds a send of `v` on `tx`; `f` gets `Ok(())` once it is sent, or
    /// the value back if the channel is closed.
    pub fn send<'a, T, F>(self, tx: impl Into<Sender<'a, T>>, v: T, f: F) -> Select<R, Cons<L, SendCase<'a, T, F>>, E>
    where
        F: FnOnce(Result<(), SendError<T>>) -> R,
    {
        let case = SendCase::new(tx.into().chan, v, f);
        Select { cases: Cons(self.cases, case), otherwise: self.otherwise, _r: PhantomData }
    }
}

impl<R, L: Cases<R>> Select<R, L, Block> {
    /// If no case is ready right away, `wait` runs `f` instead of waiting.
    pub fn default<F: FnOnce() -> R>(self, f: F) -> Select<R, L, DefaultArm<F>> {
        Select { cases: self.cases, otherwise: DefaultArm(f), _r: PhantomData }
    }

    /// If no case is ready within `d`, `wait` runs `f`.
    pub fn timeout<F: FnOnce() -> R>(self, d: Duration, f: F) -> Select<R, L, TimeoutArm<F>> {
        let at = nanotime().saturating_add(dur_ns(d));
        Select { cases: self.cases, otherwise: TimeoutArm { at, f }, _r: PhantomData }
    }

    /// If no case is ready by `deadline`, `wait` runs `f`.
    pub fn deadline<F: FnOnce() -> R>(self, deadline: Instant, f: F) -> Select<R, L, TimeoutArm<F>> {
        Select { cases: self.cases, otherwise: TimeoutArm { at: deadline.as_nanos(), f }, _r: PhantomData }
    }
}

impl<R, L: Cases<R>, E: Otherwise<R>> Select<R, L, E> {
    /// Completes one ready case (waiting for one if needed, unless there is
    /// a default) and returns its handler's result.
    ///
    /// From a goroutine it parks; from a thread outside the runtime it
    /// blocks the thread. A blocking select with no cases never returns
    /// (as Go's `select {}`).
    pub fn wait(self) -> R {
        const { assert!(L::LEN <= MAX_CASES, "goro::sync::Select: more than MAX_CASES cases") };
        let Select { mut cases, otherwise, .. } = self;
        let fired = {
            let mut raw: [Option<&mut dyn RawCase>; MAX_CASES] = core::array::from_fn(|_| None);
            cases.collect(&mut raw);
            select_raw(&mut raw[..L::LEN], otherwise.deadline())
        };
        match fired {
            Some(i) => cases.fire(i),
            None => otherwise.fire(),
        }
    }
}

fn at<'x>(cases: &'x mut [Option<&mut dyn RawCase>], i: usize) -> &'x mut dyn RawCase {
    match &mut cases[i] {
        Some(c) => &mut **c,
        None => crate::fatal("goro: sync: select case missing"),
    }
}

/// The channel locks of a select, sorted by address (case index per lock).
struct Locks {
    by_addr: [(usize, u8); MAX_CASES],
    n: usize,
}

impl Locks {
    fn new(cases: &mut [Option<&mut dyn RawCase>]) -> Locks {
        let mut l = Locks { by_addr: [(0, 0); MAX_CASES], n: cases.len() };
        for i in 0..l.n {
            l.by_addr[i] = (at(cases, i).lock_addr(), i as u8);
        }
        l.by_addr[..l.n].sort_unstable_by_key(|&(a, _)| a);
        l
    }

    fn lock(&self, cases: &mut [Option<&mut dyn RawCase>]) {
        let mut last = 0;
        for &(a, i) in &self.by_addr[..self.n] {
            if a != last {
                at(cases, i as usize).lock();
                last = a;
            }
        }
    }

    fn unlock(&self, cases: &mut [Option<&mut dyn RawCase>]) {
        let mut last = 0;
        for &(a, i) in &self.by_addr[..self.n] {
            if a != last {
                // SAFETY: `lock` took exactly these locks, once each.
                unsafe { at(cases, i as usize).unlock() };
                last = a;
            }
        }
    }
}

/// Runs a select over `cases`; returns the case that completed, or `None`
/// when the default ran or the deadline passed.
fn select_raw(cases: &mut [Option<&mut dyn RawCase>], wait: Wait) -> Option<usize> {
    let n = cases.len();
    let mut order = [0u8; MAX_CASES];
    for (i, o) in order[..n].iter_mut().enumerate() {
        *o = i as u8;
    }
    if n > 1 {
        let mut rng = Rand::new();
        for i in (1..n).rev() {
            order.swap(i, rng.below(i as u32 + 1) as usize);
        }
    }
    let locks = Locks::new(cases);
    locks.lock(cases);
    for &i in &order[..n] {
        // SAFETY: every case's lock is held.
        if let Some(claim) = unsafe { at(cases, i as usize).poll() } {
            locks.unlock(cases);
            if let Some(c) = claim {
                c.finish();
            }
            return Some(i as usize);
        }
    }
    let deadline = match wait {
        Wait::Never => {
            // A polling loop (select with default) must still let
            // sysmon's preemption requests in.
            locks.unlock(cases);
            sched::preempt_point();
            return None;
        }
        Wait::Forever => Some(None),
        Wait::Until(t) if t > nanotime() => Some(Some(t)),
        Wait::Until(_) => None,
    };
    let Some(deadline) = deadline else {
        locks.unlock(cases);
        return None;
    };
    let parker = Parker::new();
    for i in 0..n {
        // SAFETY: locks held; the cases live in `Select::wait`'s frame.
        unsafe { at(cases, i).enqueue(&parker, i as u32) };
    }
    locks.unlock(cases);
    let fired = parker.park(deadline);
    if fired == TIMEOUT || n > 1 {
        locks.lock(cases);
        for i in 0..n {
            if i as u32 != fired {
                // SAFETY: locks held.
                unsafe { at(cases, i).dequeue() };
            }
        }
        locks.unlock(cases);
    }
    if fired == TIMEOUT {
        return None;
    }
    at(cases, fired as usize).fired();
    Some(fired as usize)
}

/// Random numbers for the poll order: xorshift64* per goroutine (its state
/// in `G::sync_rand`), or from a shared counter on host threads.
struct Rand {
    x: u64,
    g: Option<usize>,
}

static HOST_RAND: AtomicU64 = AtomicU64::new(0);

impl Rand {
    fn new() -> Rand {
        let g = sched::current();
        let x = match g {
            Some(g) => sched::g_at(g).sync_rand.load(Ordering::Relaxed),
            None => 0,
        };
        let x = if x != 0 {
            x
        } else {
            // splitmix64 of a counter, mixed with the clock: a fresh seed.
            let c = HOST_RAND.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ nanotime() as u64;
            let mut z = c.wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) | 1
        };
        Rand { x, g }
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u32) -> u32 {
        let mut x = self.x;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.x = x;
        let r = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32;
        ((u64::from(r) * u64::from(n)) >> 32) as u32
    }
}

impl Drop for Rand {
    fn drop(&mut self) {
        if let Some(g) = self.g {
            sched::g_at(g).sync_rand.store(self.x, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_order_is_in_range_and_spread() {
        let mut rng = Rand::new();
        let mut hits = [0u32; 3];
        for _ in 0..30_000 {
            hits[rng.below(3) as usize] += 1;
        }
        assert!(hits.iter().all(|&h| (8_000..12_000).contains(&h)), "{hits:?}");
        assert_eq!(rng.below(1), 0);
    }
}
