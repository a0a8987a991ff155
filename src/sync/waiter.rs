//! Waiter records, wait queues, and the exactly-once wake-up protocol that
//! every primitive of `goro::sync` is built on (Go's `sudog`,
//! `selectDone` and `gopark`/`goready`).
//!
//! # Waiters
//!
//! A goroutine that has to wait builds a [`Parker`] and one [`Waiter`] per
//! thing it waits on (one for a plain receive, one per case for `select`),
//! all on its own stack. Under each primitive's lock it links its waiter
//! into that primitive's `WaitQueue` (`queue.rs`), then parks. A parked goroutine's
//! stack stays put, so the queues hold raw pointers to the waiters. The
//! rule that keeps them valid: **every waiter is unlinked before its wait
//! returns** — the one that fired by its waker, the others by the owner
//! itself under the primitive's lock (or by a waker that found the owner
//! already claimed).
//!
//! # The wait token: woken exactly once
//!
//! Each goroutine has one token, `G::sync_token` = `seq << 32 | state << 30
//! | case`; a new wait bumps `seq`. States:
//!
//! ```text
//!  owner: new seq --> WAITING --commit on g0 (CAS)--> PARKED
//!                        |                              |
//!          waker CAS     +----------> BUSY <------------+  waker CAS
//!                                      |  (moves the value into/out of the waiter)
//!                                      v
//!                                 DONE(case)   (+ ready(g) iff the claim came from PARKED)
//!  timer: WAITING or PARKED --CAS--> DONE(TIMEOUT)       (+ ready(g) iff from PARKED)
//! ```
//!
//! Every waker (a channel peer, an unlock, a close, the goroutine's timer)
//! must win a CAS out of WAITING/PARKED before it touches the waiter; only
//! one can, for a given `seq`, so the goroutine is woken exactly once and a
//! value is handed over at most once. Losers leave the token alone (and
//! unlink the waiter if they found it in a queue). The park *commit* is
//! the CAS WAITING -> PARKED: if a waker got in first, the commit fails and
//! the goroutine continues at once, so `ready` is only ever called on a
//! goroutine whose park committed. The timer carries `seq`, so a firing
//! left over from an earlier wait fails its CAS.
//!
//! **Sole waits skip both CASes.** A goroutine waiting on one queue
//! without a deadline (a plain `recv`, `lock`, `wait`...) calls
//! [`Parker::park_after`], which keeps the queue's lock until the goroutine
//! is off its stack and releases it as the park commit (Go's
//! `parkunlock`). Nothing but the queue can wake such a wait, and whoever
//! pops its waiter holds that lock, so it finds the goroutine parked: the
//! claim is that pop alone, and `finish` readies it. Such a wait does not
//! even take the token ([`Parker::single`] arms it only for a deadline):
//! its one case cannot time out, and its outcome is in the waiter.
//!
//! A host thread (no goroutine) uses a token inside its `Parker` that
//! starts out PARKED, and sleeps on a futex word there instead of parking.
//!
//! # Safety
//!
//! Waiters and parkers are raw memory on another goroutine's (or thread's)
//! stack. They are alive because their owner does not return from its wait
//! before (a) the token is DONE and (b) it has unlinked every waiter of the
//! wait under the queues' locks. So: a waiter found linked in a queue, with
//! the queue's lock held, is alive; a waiter a waker has claimed (token BUSY)
//! is alive and touched by that waker alone until it stores DONE (a host
//! owner additionally waits for its futex word to reach `WORD_RELEASED`).
//! Queue links (`next`, `prev`, `linked`) are touched only under the lock
//! of the queue the waiter is in.
#![allow(unsafe_code)]

use super::lock::SpinGuard;
use crate::sched;
use crate::sys::futex;
use crate::time;
use core::cell::Cell;
use core::ptr;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The case a wait reports when its deadline passed.
pub(crate) const TIMEOUT: u32 = CASE_MASK;

const CASE_MASK: u32 = (1 << 30) - 1;
const DONE: u32 = 0;
const WAITING: u32 = 1;
const PARKED: u32 = 2;
const BUSY: u32 = 3;

#[inline]
const fn pack(seq: u32, state: u32, case: u32) -> u64 {
    ((seq as u64) << 32) | ((state as u64) << 30) | case as u64
}

#[inline]
const fn state_of(t: u64) -> u32 {
    (t as u32) >> 30
}

#[inline]
const fn case_of(t: u64) -> u32 {
    t as u32 & CASE_MASK
}

/// `Parker::g` of a host thread.
const HOST: usize = usize::MAX;

/// Host futex word: asleep (or about to be).
const WORD_SLEEPING: u32 = 0;
/// Host futex word: a waker has set DONE and is about to call futex wake.
const WORD_WOKEN: u32 = 1;
/// Host futex word: the waker no longer touches the parker.
const WORD_RELEASED: u32 = 2;

/// One wait of one goroutine or host thread: whose token to claim, and
/// how to wake it. Lives on the waiting stack for the whole wait.
// `pub` (in this private module) only because select's sealed case trait names it.
pub struct Parker {
    /// Goroutine index, or `HOST`.
    g: usize,
    /// The wait's `seq` in the token, once armed (see [`Parker::arm`]).
    seq: Cell<u32>,
    /// The goroutine's token carries this wait (WAITING, then on): set by
    /// `arm`. A wait built with [`Parker::single`] arms only if it needs
    /// the token (a deadline); a sole wait never does.
    armed: Cell<bool>,
    /// The token of a host thread (goroutines use `G::sync_token`).
    host_token: AtomicU64,
    /// Futex word a host thread sleeps on (`WORD_*`).
    host_word: AtomicU32,
    /// Set by [`park_after`](Self::park_after) (under the queue's lock):
    /// a goroutine's wait with one waiter and no deadline, whose park commit
    /// is the release of that lock. Its only possible waker is whoever pops
    /// the waiter under the lock, and by then the goroutine is parked, so
    /// the claim needs no CAS (Go's `parkunlock`).
    sole: Cell<bool>,
}

impl Parker {
    /// Starts a wait of the caller that may have several waiters (`select`):
    /// a goroutine's token gets a new `seq` in state WAITING at once, before
    /// any waiter of the wait is linked.
    #[inline]
    pub(crate) fn new() -> Parker {
        let p = Parker::single();
        p.arm();
        p
    }

    /// Starts a wait with exactly one waiter, linked under a lock that is
    /// held until [`park_after`](Self::park_after): no waker can see the
    /// waiter before then, so the token is armed there, and only if the
    /// wait needs it (a deadline). A sole wait leaves the token alone: its
    /// waker claims it by the pop alone, and its one case cannot time out.
    #[inline]
    pub(crate) fn single() -> Parker {
        match sched::current() {
            Some(g) => Parker {
                g,
                seq: Cell::new(0),
                armed: Cell::new(false),
                host_token: AtomicU64::new(0),
                host_word: AtomicU32::new(WORD_SLEEPING),
                sole: Cell::new(false),
            },
            None => Parker {
                g: HOST,
                seq: Cell::new(0),
                armed: Cell::new(true),
                host_token: AtomicU64::new(pack(0, PARKED, 0)),
                host_word: AtomicU32::new(WORD_SLEEPING),
                sole: Cell::new(false),
            },
        }
    }

    /// A goroutine's wait takes the token: a new `seq` in state WAITING.
    /// Before any waiter of the wait is visible to a waker.
    fn arm(&self) {
        if self.g == HOST || self.armed.get() {
            return;
        }
        let t = &sched::g_at(self.g).sync_token;
        // Only the goroutine itself starts waits, and its previous armed
        // wait ended DONE, so nobody else writes the token now (a stale
        // timer compares against an older seq and fails).
        let seq = ((t.load(Ordering::Relaxed) >> 32) as u32).wrapping_add(1);
        t.store(pack(seq, WAITING, 0), Ordering::Relaxed);
        self.seq.set(seq);
        self.armed.set(true);
    }

    fn token(&self) -> &AtomicU64 {
        if self.g == HOST {
            &self.host_token
        } else {
            &sched::g_at(self.g).sync_token
        }
    }

    /// Releases `guard` (the lock of the one queue this wait's single
    /// waiter was just linked into) and sleeps as [`park`](Self::park)
    /// does. A goroutine waiting without a deadline keeps the lock until it
    /// is off its stack: the release is its park commit, so the waker that
    /// pops the waiter finds it parked and claims it without a CAS.
    pub(crate) fn park_after<T>(&self, guard: SpinGuard<'_, T>, deadline: Option<i64>) -> u32 {
        if self.g == HOST || deadline.is_some() {
            // Still under the lock: no waker has seen our waiter yet.
            self.arm();
            drop(guard);
            return self.park(deadline);
        }
        self.sole.set(true);
        let flag = guard.into_held_flag();
        // SAFETY: we hold the lock (its guard is gone: only the park's commit releases it); its primitive
        // outlives this wait, which borrows it.
        unsafe { sched::park_unlock(self.g, flag) };
        // Readied by the waker that popped our one waiter (case 0): the
        // run queue it put us on orders its writes before our resumption.
        0
    }

    /// Sleeps until a waker claims the wait, or `deadline` (ns on the
    /// monotonic clock) passes. Returns the case that fired, or
    /// [`TIMEOUT`]. The caller then unlinks its other waiters.
    pub(crate) fn park(&self, deadline: Option<i64>) -> u32 {
        if self.g == HOST {
            return self.park_host(deadline);
        }
        if !self.armed.get() {
            crate::fatal("goro: sync: park of a wait that did not take the token");
        }
        let (g, seq) = (self.g, self.seq.get());
        let token: &'static AtomicU64 = &sched::g_at(g).sync_token;
        if let Some(when) = deadline {
            if when <= time::nanotime() {
                // Already expired: claim the timeout ourselves.
                let timed_out = pack(seq, DONE, TIMEOUT);
                if token.compare_exchange(pack(seq, WAITING, 0), timed_out, Ordering::AcqRel, Ordering::Acquire).is_ok()
                {
                    return TIMEOUT;
                }
                return case_of(settle(token));
            }
            if time::arm(g as u32, when, fire_timer, g, seq) {
                // Earlier than what the poller sleeps until.
                sched::break_poller();
            }
        }
        // Skip the switch if a waker already claimed us (the commit would
        // fail and resume us at once).
        if token.load(Ordering::Relaxed) == pack(seq, WAITING, 0) {
            sched::park(g, move |_| {
                token
                    .compare_exchange(pack(seq, WAITING, 0), pack(seq, PARKED, 0), Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            });
        }
        let case = case_of(settle(token));
        if deadline.is_some() && case != TIMEOUT {
            time::disarm(g as u32);
        }
        case
    }

    fn park_host(&self, mut deadline: Option<i64>) -> u32 {
        let word = &self.host_word;
        loop {
            if word.load(Ordering::Acquire) != WORD_SLEEPING {
                break;
            }
            match deadline {
                None => futex::wait(word, WORD_SLEEPING),
                Some(when) => {
                    let now = time::nanotime();
                    if now < when {
                        futex::wait_timeout(word, WORD_SLEEPING, when - now);
                        continue;
                    }
                    let timed_out = pack(0, DONE, TIMEOUT);
                    if self
                        .host_token
                        .compare_exchange(pack(0, PARKED, 0), timed_out, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        return TIMEOUT;
                    }
                    // A waker claimed us first: wait for it to finish.
                    deadline = None;
                }
            }
        }
        // The waker touches our parker until it stores RELEASED, right
        // after its futex wake: spin briefly, then sleep in 1 us steps
        // (should the waker's thread be preempted in between).
        let mut spins = 0u32;
        while word.load(Ordering::Acquire) != WORD_RELEASED {
            spins += 1;
            if spins < 100 {
                core::hint::spin_loop();
            } else {
                crate::sys::thread_sleep(1_000);
            }
        }
        case_of(self.host_token.load(Ordering::Acquire))
    }
}

/// Waits out a claimer's BUSY window (a value copy) and returns the
/// settled token. Runs on the waiting goroutine, which only gets here
/// before DONE if its commit lost to a claimer that is still copying: a
/// short spin, then yields (should the claimer's thread be preempted).
#[inline]
fn settle(token: &AtomicU64) -> u64 {
    let mut spins = 0u32;
    loop {
        let t = token.load(Ordering::Acquire);
        if state_of(t) == DONE {
            return t;
        }
        spins += 1;
        if spins < 100 {
            core::hint::spin_loop();
        } else {
            sched::yield_now();
        }
    }
}

/// Timer callback of a timed wait (runs on a scheduler thread or sysmon).
fn fire_timer(g: usize, seq: u32) {
    let token = &sched::g_at(g).sync_token;
    let mut cur = token.load(Ordering::Acquire);
    loop {
        let st = state_of(cur);
        if (cur >> 32) as u32 != seq || (st != WAITING && st != PARKED) {
            return; // stale, or someone else claimed the wait
        }
        match token.compare_exchange_weak(cur, pack(seq, DONE, TIMEOUT), Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                if st == PARKED {
                    sched::ready(g);
                }
                return;
            }
            Err(now) => cur = now,
        }
    }
}

/// What a waker reports to the owner in [`Waiter::outcome`].
pub(crate) const OUTCOME_NONE: u8 = 0;

/// One thing a goroutine waits on: a node of a [`WaitQueue`](super::queue::WaitQueue) on the
/// waiting goroutine's stack (Go's `sudog`).
pub(crate) struct Waiter {
    /// Queue links, touched only under the lock of the queue it is in
    /// (see `queue.rs`).
    pub(super) next: Cell<*const Waiter>,
    pub(super) prev: Cell<*const Waiter>,
    pub(super) linked: Cell<bool>,
    parker: *const Parker,
    /// The case index reported to the owner when this waiter fires.
    case: u32,
    /// Set by the claimer: the claim took the token from PARKED, so the
    /// owner must be readied.
    wake: Cell<bool>,
    /// Primitive-specific data pointer (a channel's value slot).
    pub(crate) slot: *mut u8,
    /// Primitive-specific word (a semaphore's weight, a lock's kind).
    pub(crate) arg: usize,
    /// Primitive-specific result, written by the claimer while BUSY.
    pub(crate) outcome: Cell<u8>,
}

impl Waiter {
    /// A waiter for `case` of the wait `parker` started.
    pub(crate) fn new(parker: &Parker, case: u32, slot: *mut u8, arg: usize) -> Waiter {
        Waiter {
            next: Cell::new(ptr::null()),
            prev: Cell::new(ptr::null()),
            linked: Cell::new(false),
            parker,
            case,
            wake: Cell::new(false),
            slot,
            arg,
            outcome: Cell::new(OUTCOME_NONE),
        }
    }
}

/// The exclusive right, won by a CAS, to complete one waiter's wait.
/// Finish it (after moving the value, and preferably after dropping the
/// primitive's lock) or its owner never wakes.
#[must_use]
// `pub` (in this private module) only because select's sealed case trait names it.
pub struct Claim(*const Waiter);

impl Claim {
    /// The claimed waiter; the claimer alone touches it until [`finish`](Self::finish).
    pub(crate) fn waiter(&self) -> &Waiter {
        // SAFETY: a claimed waiter stays alive until `finish` (module docs).
        unsafe { &*self.0 }
    }

    /// Completes the wait: a sole wait (`Parker::sole`, which never took
    /// the token) is just readied; any other gets DONE(case) in its token
    /// and is woken if it parked. Touches neither the waiter nor the parker
    /// afterwards.
    pub(crate) fn finish(self) {
        // SAFETY: claimed: waiter and parker are alive until we ready a sole
        // wait or publish DONE (a host parker until RELEASED).
        let (w, p) = unsafe { (&*self.0, &*(*self.0).parker) };
        if p.sole.get() {
            sched::ready(p.g);
            return;
        }
        let (case, wake, g, seq) = (w.case, w.wake.get(), p.g, p.seq.get());
        if g == HOST {
            p.host_token.store(pack(seq, DONE, case), Ordering::Release);
            p.host_word.store(WORD_WOKEN, Ordering::Release);
            futex::wake(&p.host_word, 1);
            p.host_word.store(WORD_RELEASED, Ordering::Release);
        } else {
            sched::g_at(g).sync_token.store(pack(seq, DONE, case), Ordering::Release);
            if wake {
                sched::ready(g);
            }
        }
    }
}

/// Tries to claim `w`'s wait: succeeds unless another waker (or the
/// timer) already did.
///
/// # Safety
///
/// `w` is alive: linked in a queue whose lock the caller holds, or just
/// unlinked by the caller under that lock (which it still holds).
pub(super) unsafe fn try_claim(w: *const Waiter) -> Option<Claim> {
    // SAFETY: per the contract; the parker outlives its linked waiters.
    let (wr, p) = unsafe { (&*w, &*(*w).parker) };
    if p.sole.get() {
        // Parked, and we are its one possible waker (`Parker::sole`).
        wr.wake.set(true);
        return Some(Claim(w));
    }
    let token = p.token();
    let seq = p.seq.get();
    let mut cur = token.load(Ordering::Relaxed);
    loop {
        let st = state_of(cur);
        if (cur >> 32) as u32 != seq || (st != WAITING && st != PARKED) {
            return None;
        }
        match token.compare_exchange_weak(cur, pack(seq, BUSY, 0), Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => {
                wr.wake.set(st == PARKED);
                return Some(Claim(w));
            }
            Err(now) => cur = now,
        }
    }
}

/// Claims completed under a lock, finished together after it is dropped
/// (chained through the claimed waiters' `next` links, which the claimer
/// owns once they are unlinked).
#[must_use]
pub(crate) struct ClaimList {
    head: *const Waiter,
}

impl ClaimList {
    pub(crate) const fn new() -> Self {
        ClaimList { head: ptr::null() }
    }

    pub(crate) fn push(&mut self, c: Claim) {
        let w = c.waiter();
        w.next.set(self.head);
        self.head = c.0;
    }

    /// Finishes every claim (wakes every owner).
    pub(crate) fn finish_all(self) {
        let mut w = self.head;
        while !w.is_null() {
            // SAFETY: every waiter on the list is claimed by us and unlinked,
            // so its `next` is ours; read it before `finish` gives it back.
            let next = unsafe { (*w).next.get() };
            Claim(w).finish();
            w = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::queue::WaitQueue;
    use super::*;

    #[test]
    fn token_fields_round_trip() {
        for (seq, state, case) in [(0, DONE, 0), (u32::MAX, BUSY, TIMEOUT), (7, PARKED, 15), (1, WAITING, 3)] {
            let t = pack(seq, state, case);
            assert_eq!(((t >> 32) as u32, state_of(t), case_of(t)), (seq, state, case));
        }
    }

    /// Outside any runtime a wait is a host wait: claims, FIFO order,
    /// removal from the middle, and skipping waiters already claimed.
    #[test]
    fn queue_order_removal_and_claims() {
        let parkers = [Parker::new(), Parker::new(), Parker::new()];
        let ws: [Waiter; 3] = core::array::from_fn(|i| Waiter::new(&parkers[i], i as u32, ptr::null_mut(), i));
        let mut q = WaitQueue::new();
        // SAFETY: the waiters outlive the queue's use of them, and nothing
        // else touches the queue.
        unsafe {
            for w in &ws {
                q.push(w);
            }
            assert!(q.remove(&ws[1]));
            assert!(!q.remove(&ws[1]), "a waiter is unlinked once");
        }
        // Waiter 0's wait is claimed elsewhere first (as by its timer).
        let t = &parkers[0].host_token;
        t.store(pack(0, DONE, TIMEOUT), Ordering::Relaxed);
        let c = q.pop_claim().expect("waiter 2 is claimable");
        assert_eq!(c.waiter().arg, 2);
        assert!(q.is_empty(), "the stale waiter was unlinked on the way");
        c.finish();
        assert_eq!(parkers[2].park(None), 2, "the claimed host wait reports its case");
        assert_eq!(parkers[1].park(Some(0)), TIMEOUT, "an expired deadline times out");
    }
}
