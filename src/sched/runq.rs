//! Run queues: each P's bounded lock-free ring plus its `runnext` slot, and
//! the global queue (Go: `runqput`, `runqget`, `runqgrab`, `globrunqput`).
//!
//! The ring is single-producer (the P's owner, which alone writes `tail`)
//! and multi-consumer (the owner and stealers CAS `head`). Entries are
//! goroutine index + 1 in atomics, so a stealer racing the owner reads a
//! stale value at worst and then fails its CAS.

use super::{GList, SCHED};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Slots in each P's ring.
pub(crate) const RUNQ: u32 = 256;

/// How long a thief leaves a busy P's `runnext` to its owner (at least).
const RUNNEXT_GRACE_NS: i64 = 3_000;

/// Whether the runtime has a single P. Then nobody but its owner ever
/// takes from its queue (stealing needs a second P), so the owner updates
/// `head` and `runnext` with plain stores instead of read-modify-writes.
#[inline]
fn solo() -> bool {
    SCHED.nprocs.load(Ordering::Relaxed) == 1
}

/// A logical processor: the right (and the queue) to run goroutines.
pub(crate) struct P {
    head: AtomicU32,
    tail: AtomicU32,
    ring: [AtomicU32; RUNQ as usize],
    /// A goroutine to run next (index + 1; 0 = none), ahead of the ring.
    runnext: AtomicU32,
    /// How many times in a row `runnext` was taken over the ring (bounded so
    /// two goroutines handing work back and forth cannot starve the ring).
    pub(crate) next_streak: AtomicU32,
    /// Schedule rounds, for the every-61st fairness checks.
    pub(crate) schedtick: AtomicU32,
    /// Goroutines stolen by this P.
    pub(crate) steals: AtomicU64,
    /// Link in the idle-P list (index + 1).
    pub(crate) idle_link: AtomicU32,
}

impl P {
    pub(crate) const fn new() -> Self {
        P {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            ring: [const { AtomicU32::new(0) }; RUNQ as usize],
            runnext: AtomicU32::new(0),
            next_streak: AtomicU32::new(0),
            schedtick: AtomicU32::new(0),
            steals: AtomicU64::new(0),
            idle_link: AtomicU32::new(0),
        }
    }

    /// Empties the queue (runtime start; nothing else touches it then).
    pub(crate) fn reset(&self) {
        self.head.store(0, Ordering::Relaxed);
        self.tail.store(0, Ordering::Relaxed);
        self.runnext.store(0, Ordering::Relaxed);
        self.next_streak.store(0, Ordering::Relaxed);
        self.schedtick.store(0, Ordering::Relaxed);
    }

    /// Goroutines queued here (approximate when read by another thread).
    pub(crate) fn len(&self) -> u32 {
        let t = self.tail.load(Ordering::Acquire);
        let h = self.head.load(Ordering::Acquire);
        t.wrapping_sub(h).min(RUNQ) + u32::from(self.runnext.load(Ordering::Relaxed) != 0)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Owner only: queues goroutine `g`; with `next` it goes to `runnext`
    /// and the goroutine there (if any) moves to the ring's tail. A full
    /// ring moves half of itself to the global queue. Inlined: the common
    /// cases are a few instructions, and the slow path's half-ring buffer
    /// would otherwise give every call a 512-byte frame.
    #[inline]
    pub(crate) fn put(&self, g: usize, next: bool) {
        let mut g = g as u32 + 1;
        if next {
            let old = if solo() {
                let old = self.runnext.load(Ordering::Relaxed);
                self.runnext.store(g, Ordering::Release);
                old
            } else {
                self.runnext.swap(g, Ordering::AcqRel)
            };
            if old == 0 {
                return;
            }
            g = old;
        }
        loop {
            let h = self.head.load(Ordering::Acquire);
            let t = self.tail.load(Ordering::Relaxed);
            if t.wrapping_sub(h) < RUNQ {
                self.ring[(t % RUNQ) as usize].store(g, Ordering::Relaxed);
                self.tail.store(t.wrapping_add(1), Ordering::Release);
                return;
            }
            if self.put_slow(g, h, t) {
                return;
            }
        }
    }

    /// Moves half the ring plus `g` to the global queue.
    #[cold]
    #[inline(never)]
    fn put_slow(&self, g: u32, h: u32, t: u32) -> bool {
        let n = t.wrapping_sub(h) / 2;
        // Copy first, link after the CAS: until it succeeds these goroutines
        // may be stolen and linked into other lists by other threads.
        let mut taken = [0u32; RUNQ as usize / 2];
        for k in 0..n {
            taken[k as usize] = self.ring[(h.wrapping_add(k) % RUNQ) as usize].load(Ordering::Relaxed);
        }
        if self.head.compare_exchange(h, h.wrapping_add(n), Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return false; // stealers made room meanwhile
        }
        let mut batch = GList::new();
        for &x in &taken[..n as usize] {
            batch.push(x as usize - 1);
        }
        batch.push(g as usize - 1);
        global_put_list(&mut batch);
        true
    }

    /// Owner only: takes the next goroutine (`runnext` first, within the
    /// streak bound).
    pub(crate) fn get(&self) -> Option<usize> {
        let solo = solo();
        let next = self.runnext.load(Ordering::Acquire);
        let streak = self.next_streak.load(Ordering::Relaxed);
        if next != 0 && (streak < 16 || self.ring_empty()) && self.take_next(next, solo) {
            self.next_streak.store(streak + 1, Ordering::Relaxed);
            return Some(next as usize - 1);
        }
        loop {
            let h = self.head.load(Ordering::Acquire);
            let t = self.tail.load(Ordering::Relaxed);
            if t == h {
                break;
            }
            let g = self.ring[(h % RUNQ) as usize].load(Ordering::Relaxed);
            if solo {
                self.head.store(h.wrapping_add(1), Ordering::Release);
                self.next_streak.store(0, Ordering::Relaxed);
                return Some(g as usize - 1);
            }
            if self.head.compare_exchange(h, h.wrapping_add(1), Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                self.next_streak.store(0, Ordering::Relaxed);
                return Some(g as usize - 1);
            }
        }
        // The ring is empty; `runnext` may still hold one (streak bound).
        let next = self.runnext.load(Ordering::Acquire);
        if next == 0 || !self.take_next(next, solo) {
            return None;
        }
        self.next_streak.store(0, Ordering::Relaxed);
        Some(next as usize - 1)
    }

    /// Owner only, a hint: the goroutine [`get`](Self::get) would most
    /// likely return next. It may be stale (a thief can take it meanwhile),
    /// so it is only ever used to prefetch.
    #[inline]
    pub(crate) fn peek(&self) -> Option<usize> {
        let next = self.runnext.load(Ordering::Relaxed);
        if next != 0 {
            return Some(next as usize - 1);
        }
        let h = self.head.load(Ordering::Relaxed);
        if self.tail.load(Ordering::Relaxed) == h {
            return None;
        }
        match self.ring[(h % RUNQ) as usize].load(Ordering::Relaxed) {
            0 => None,
            g => Some(g as usize - 1),
        }
    }

    /// Owner only: empties `runnext` if it still holds `next` (a thief may
    /// have taken it, unless this is the only P).
    #[inline]
    fn take_next(&self, next: u32, solo: bool) -> bool {
        if solo {
            self.runnext.store(0, Ordering::Relaxed);
            return true;
        }
        self.runnext.compare_exchange(next, 0, Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }

    fn ring_empty(&self) -> bool {
        self.tail.load(Ordering::Relaxed) == self.head.load(Ordering::Acquire)
    }

    /// Steals about half of `victim`'s goroutines into this P (owner of
    /// `self` only); returns one of them to run now. With `steal_next`, an
    /// empty ring's `runnext` too, after giving its owner about 3 us to run
    /// it (Go's `runqgrab`): it is usually a goroutine the owner just
    /// readied and is about to switch to, and taking it would split a
    /// ping-pong pair across threads.
    pub(crate) fn steal_from(&self, victim: &P, steal_next: bool) -> Option<usize> {
        let t = self.tail.load(Ordering::Relaxed);
        let n = loop {
            let h = victim.head.load(Ordering::Acquire);
            let vt = victim.tail.load(Ordering::Acquire);
            let n = vt.wrapping_sub(h);
            let n = n - n / 2;
            if n == 0 {
                // Take the victim's runnext as a last resort.
                let next = victim.runnext.load(Ordering::Acquire);
                if next == 0 || !steal_next {
                    return None;
                }
                // Sleep rather than spin on the owner's cache line: the
                // owner writes `runnext` at every hand-off, and a thief
                // re-reading it would pull the line across cores each time.
                // While we sleep we still count as spinning, so the owner's
                // `ready`s skip `wakep` (no futex wake per hand-off). Linux
                // rounds the sleep up to its timer slack (~50 us), as it
                // does Go's `usleep(3)` here.
                // Take it only if the owner did not schedule meanwhile: if it
                // did, this `runnext` is a new hand-off of a busy pair (maybe
                // the same goroutine again), not one left waiting.
                let tick = victim.schedtick.load(Ordering::Relaxed);
                crate::sys::thread_sleep(RUNNEXT_GRACE_NS);
                if victim.schedtick.load(Ordering::Relaxed) != tick {
                    return None;
                }
                if victim.runnext.compare_exchange(next, 0, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                    self.steals.fetch_add(1, Ordering::Relaxed);
                    return Some(next as usize - 1);
                }
                return None;
            }
            if n > RUNQ / 2 {
                continue; // head and tail read inconsistently; retry
            }
            for k in 0..n {
                let g = victim.ring[(h.wrapping_add(k) % RUNQ) as usize].load(Ordering::Relaxed);
                self.ring[(t.wrapping_add(k) % RUNQ) as usize].store(g, Ordering::Relaxed);
            }
            if victim.head.compare_exchange(h, h.wrapping_add(n), Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                break n;
            }
        };
        self.steals.fetch_add(u64::from(n), Ordering::Relaxed);
        // Run the last stolen one now; publish the rest.
        let last = self.ring[(t.wrapping_add(n - 1) % RUNQ) as usize].load(Ordering::Relaxed);
        if n > 1 {
            self.tail.store(t.wrapping_add(n - 1), Ordering::Release);
        }
        Some(last as usize - 1)
    }
}

/// The global run queue: overflow and work from outside any P.
pub(crate) struct GlobalQ {
    q: spin::Mutex<GList>,
    len: AtomicUsize,
}

impl GlobalQ {
    pub(crate) const fn new() -> Self {
        GlobalQ { q: spin::Mutex::new(GList::new()), len: AtomicUsize::new(0) }
    }

    pub(crate) fn reset(&self) {
        *self.q.lock() = GList::new();
        self.len.store(0, Ordering::Relaxed);
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }
}

/// Appends goroutine `g` to the global queue.
pub(crate) fn global_put(g: usize) {
    let mut q = SCHED.global.q.lock();
    q.push(g);
    SCHED.global.len.fetch_add(1, Ordering::SeqCst);
}

/// Appends every goroutine of `list` to the global queue.
pub(crate) fn global_put_list(list: &mut GList) {
    let n = list.len();
    if n == 0 {
        return;
    }
    let mut q = SCHED.global.q.lock();
    while let Some(g) = list.pop() {
        q.push(g);
    }
    SCHED.global.len.fetch_add(n, Ordering::SeqCst);
}

/// Takes a batch from the global queue for P `p` (Go's `globrunqget`): one
/// goroutine to run, and up to a fair share more into `p`'s ring.
pub(crate) fn global_get(p: &P, nprocs: usize, max: usize) -> Option<usize> {
    if SCHED.global.len.load(Ordering::SeqCst) == 0 {
        return None;
    }
    let mut q = SCHED.global.q.lock();
    let len = q.len();
    if len == 0 {
        return None;
    }
    let mut n = (len / nprocs.max(1) + 1).min(len).min(max);
    n = n.min(RUNQ as usize / 2);
    let first = q.pop()?;
    let mut batch = GList::new();
    for _ in 1..n {
        if let Some(g) = q.pop() {
            batch.push(g);
        }
    }
    SCHED.global.len.fetch_sub(n, Ordering::SeqCst);
    drop(q);
    // Outside the lock: a full ring spills back into the global queue.
    while let Some(g) = batch.pop() {
        p.put(g, false);
    }
    Some(first)
}
