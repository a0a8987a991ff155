//! Monotonic time, timers and `sleep`.
//!
//! # Timers
//!
//! Every timer is embedded in its owner, never allocated: each goroutine
//! has one (for `sleep` and timed waits) and each poll descriptor two (read
//! and write deadlines). A timer is named by a dense *timer id* that the
//! runtime resolves to the embedded `Timer` (see `install`).
//!
//! All armed timers sit in one binary min-heap ordered by `when`. The heap's
//! array is spread over the timers themselves: heap position `p` is stored in
//! the `cell` of timer id `p` (there are exactly as many cells as timers, so
//! the heap can never outgrow its storage). Each timer remembers its own
//! position, so re-arming or stopping it is O(log n).
//!
//! A timer fires by calling `f(arg, seq)` outside the heap lock, from
//! whichever thread runs `run_due` (a scheduler context or sysmon): `f`
//! must not park. Owners that can race a firing timer with a re-arm carry a
//! sequence number in `seq` and ignore stale firings.
//!
//! # Safety
//!
//! The only `unsafe` here turns words back into the function pointers they
//! were stored from (a timer's callback, the runtime's id resolver): atomics
//! cannot hold `fn` values directly.

use crate::sys;
use core::sync::atomic::{AtomicI64, AtomicU32, AtomicUsize, Ordering};
use core::time::Duration;

/// A point on the monotonic clock (`CLOCK_MONOTONIC`), with nanosecond
/// resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(i64);

impl Instant {
    /// The current time.
    pub fn now() -> Instant {
        Instant(nanotime())
    }

    /// Time elapsed since `self` (zero if `self` is in the future).
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(*self)
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// `self + d`, saturating at the far future.
    pub fn saturating_add(&self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(dur_ns(d)))
    }

    pub(crate) fn as_nanos(self) -> i64 {
        self.0
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

/// Nanoseconds on the monotonic clock.
#[inline]
pub(crate) fn nanotime() -> i64 {
    sys::now_ns()
}

/// A duration in nanoseconds, saturating at `i64::MAX`.
pub(crate) fn dur_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// A timer embedded in its owner. All fields but `cell` describe this
/// timer; `cell` is heap storage (see the module docs). Every field is
/// written under the heap lock.
pub(crate) struct Timer {
    /// Absolute expiry, ns (meaningful while in the heap).
    when: AtomicI64,
    /// Heap position + 1; 0 when not in the heap.
    pos: AtomicU32,
    /// Heap storage: the timer id at heap position == this timer's id.
    cell: AtomicU32,
    /// `fn(usize, u32)` to call when it fires.
    f: AtomicUsize,
    arg: AtomicUsize,
    seq: AtomicU32,
}

impl Timer {
    pub(crate) const fn new() -> Self {
        Timer {
            when: AtomicI64::new(0),
            pos: AtomicU32::new(0),
            cell: AtomicU32::new(0),
            f: AtomicUsize::new(0),
            arg: AtomicUsize::new(0),
            seq: AtomicU32::new(0),
        }
    }
}

/// Callback of a firing timer: `f(arg, seq)`.
pub(crate) type TimerFn = fn(usize, u32);

struct Heap {
    len: u32,
}

static HEAP: spin::Mutex<Heap> = spin::Mutex::new(Heap { len: 0 });
/// `when` of the heap's top, or `i64::MAX` when empty: a lock-free peek.
static NEXT: AtomicI64 = AtomicI64::new(i64::MAX);
/// `fn(u32) -> &'static Timer` resolving timer ids, set by the runtime.
static RESOLVE: AtomicUsize = AtomicUsize::new(0);

/// Installs the timer-id resolver of the running runtime. The heap is
/// empty: every run empties it when it ends ([`clear`]), and none is armed
/// before a run's goroutines start.
pub(crate) fn install(resolve: fn(u32) -> &'static Timer) {
    RESOLVE.store(resolve as *const () as usize, Ordering::Release);
}

/// Empties the heap: each timer in it gets its position cleared. A run
/// calls this when its threads have stopped, while its own arenas still
/// resolve the timer ids: timers of goroutines abandoned asleep stay in the
/// heap until then, and the next run may install another `Runtime` with
/// other timer storage, through which the old ids would clear the wrong
/// timers and leave the old ones a position in a heap they are no longer
/// in (the next arm of one of them then removed a stranger, or aborted).
pub(crate) fn clear() {
    let mut h = HEAP.lock();
    for p in 0..h.len {
        timer(id_at(p)).pos.store(0, Ordering::Relaxed);
    }
    h.len = 0;
    NEXT.store(i64::MAX, Ordering::Release);
}

fn timer(id: u32) -> &'static Timer {
    resolve_fn(RESOLVE.load(Ordering::Acquire))(id)
}

#[allow(unsafe_code)]
fn resolve_fn(r: usize) -> fn(u32) -> &'static Timer {
    if r == 0 {
        crate::fatal("goro: time: timer used before the runtime started");
    }
    // SAFETY: `RESOLVE` only ever holds 0 or a `fn(u32) -> &'static Timer`
    // stored by `install`.
    unsafe { core::mem::transmute::<usize, fn(u32) -> &'static Timer>(r) }
}

fn id_at(p: u32) -> u32 {
    timer(p).cell.load(Ordering::Relaxed)
}

fn set_at(p: u32, id: u32) {
    timer(p).cell.store(id, Ordering::Relaxed);
    timer(id).pos.store(p + 1, Ordering::Relaxed);
}

fn when_at(p: u32) -> i64 {
    timer(id_at(p)).when.load(Ordering::Relaxed)
}

fn sift_up(mut p: u32) {
    let id = id_at(p);
    let w = timer(id).when.load(Ordering::Relaxed);
    while p > 0 {
        let parent = (p - 1) / 2;
        if when_at(parent) <= w {
            break;
        }
        set_at(p, id_at(parent));
        p = parent;
    }
    set_at(p, id);
}

fn sift_down(h: &Heap, mut p: u32) {
    let id = id_at(p);
    let w = timer(id).when.load(Ordering::Relaxed);
    loop {
        let l = 2 * p + 1;
        if l >= h.len {
            break;
        }
        let r = l + 1;
        let c = if r < h.len && when_at(r) < when_at(l) { r } else { l };
        if when_at(c) >= w {
            break;
        }
        set_at(p, id_at(c));
        p = c;
    }
    set_at(p, id);
}

fn publish_next(h: &Heap) {
    NEXT.store(if h.len == 0 { i64::MAX } else { when_at(0) }, Ordering::Release);
}

fn remove_at(h: &mut Heap, p: u32) {
    let id = id_at(p);
    timer(id).pos.store(0, Ordering::Relaxed);
    h.len -= 1;
    if p == h.len {
        return;
    }
    let last = id_at(h.len);
    set_at(p, last);
    let w = timer(last).when.load(Ordering::Relaxed);
    if p > 0 && when_at((p - 1) / 2) > w {
        sift_up(p);
    } else {
        sift_down(h, p);
    }
}

/// Arms (or re-arms) timer `id` to call `f(arg, seq)` at `when` (ns).
/// Returns true if it became the earliest timer (a poller sleeping past
/// `when` should then be woken).
pub(crate) fn arm(id: u32, when: i64, f: TimerFn, arg: usize, seq: u32) -> bool {
    let mut h = HEAP.lock();
    let t = timer(id);
    t.f.store(f as *const () as usize, Ordering::Relaxed);
    t.arg.store(arg, Ordering::Relaxed);
    t.seq.store(seq, Ordering::Relaxed);
    t.when.store(when, Ordering::Relaxed);
    let pos = t.pos.load(Ordering::Relaxed);
    if pos != 0 {
        remove_at(&mut h, pos - 1);
    }
    let p = h.len;
    h.len += 1;
    set_at(p, id);
    sift_up(p);
    let earliest = id_at(0) == id;
    publish_next(&h);
    earliest
}

/// Stops timer `id`; returns whether it was armed.
pub(crate) fn disarm(id: u32) -> bool {
    let mut h = HEAP.lock();
    let pos = timer(id).pos.load(Ordering::Relaxed);
    if pos == 0 {
        return false;
    }
    remove_at(&mut h, pos - 1);
    publish_next(&h);
    true
}

/// `when` of the earliest armed timer, if any (lock-free).
#[inline]
pub(crate) fn next_when() -> Option<i64> {
    let n = NEXT.load(Ordering::Acquire);
    (n != i64::MAX).then_some(n)
}

/// Fires every timer due at `now`; returns how many fired.
pub(crate) fn run_due(now: i64) -> usize {
    let mut fired = 0;
    loop {
        if NEXT.load(Ordering::Acquire) > now {
            return fired;
        }
        let (f, arg, seq) = {
            let mut h = HEAP.lock();
            if h.len == 0 || when_at(0) > now {
                publish_next(&h);
                return fired;
            }
            let t = timer(id_at(0));
            let cb = (t.f.load(Ordering::Relaxed), t.arg.load(Ordering::Relaxed), t.seq.load(Ordering::Relaxed));
            remove_at(&mut h, 0);
            publish_next(&h);
            cb
        };
        callback(f)(arg, seq);
        fired += 1;
    }
}

#[allow(unsafe_code)]
fn callback(f: usize) -> TimerFn {
    // SAFETY: `Timer::f` is only stored from a `TimerFn` in `arm`, before
    // the timer enters the heap.
    unsafe { core::mem::transmute::<usize, TimerFn>(f) }
}
