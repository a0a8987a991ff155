//! The scheduler: Ms (threads) run goroutines (Gs) taken from a run queue,
//! switching between each M's scheduler context ("g0") and the goroutine.
//!
//! # Rules
//!
//! - Every switch goes through g0: a goroutine that yields, parks or exits
//!   records what it wants in its M's `pending` field and switches to g0;
//!   g0 carries it out once the goroutine is off its stack. That is what
//!   makes the park *commit* safe: a parking goroutine becomes visible to
//!   wakers (its commit callback runs) only after its registers are saved,
//!   so a waker on another thread can never resume it while it still runs.
//! - A goroutine finds itself from its stack pointer (`stack::REGION`), and
//!   its M through `G::m`. Nothing uses thread-local storage.
//! - g0 code never parks; goroutine code never touches another M.
//!
//! # Safety
//!
//! `M` fields in `UnsafeCell`s are touched only by the thread that runs the
//! M: by its g0, or by the goroutine it currently runs (which is the same
//! thread, at a different point of the switch).
#![allow(unsafe_code)]

use crate::arena::{ArenaCell, RawArena};
use crate::g::{Status, G};
use crate::stack::REGION;
use crate::sys::futex;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Most Ms (OS threads) a runtime can have.
pub(crate) const MAX_M: usize = 64;

/// What a goroutine asked its M's g0 to do after switching away.
#[derive(Clone, Copy)]
pub(crate) enum Pending {
    None,
    /// Put the goroutine at the back of the run queue.
    Yield,
    /// Park: call `commit(data, g)`; if it returns false, run the goroutine
    /// again at once (a wake-up arrived before it got off its stack).
    /// `data` points at the commit closure on the parking goroutine's stack.
    Park {
        commit: unsafe fn(*mut u8, usize) -> bool,
        data: *mut u8,
    },
    /// The goroutine finished; its result is stored.
    Exit,
}

/// An OS thread running goroutines.
pub(crate) struct M {
    /// g0's saved stack pointer while a goroutine runs.
    g0_sp: UnsafeCell<usize>,
    pending: UnsafeCell<Pending>,
    /// Counters owned by this M (written only by its thread).
    pub(crate) stats: MStats,
}

// SAFETY: see the module's safety note: UnsafeCell fields are confined to
// the thread running the M; the stats are atomics.
unsafe impl Sync for M {}

/// Per-M counters, written with plain load+store by the owning thread only
/// and read (racily but atomically) by `stats()`.
pub(crate) struct MStats {
    pub switches: AtomicU64,
    pub yields: AtomicU64,
    pub parks: AtomicU64,
}

impl MStats {
    const fn new() -> Self {
        MStats { switches: AtomicU64::new(0), yields: AtomicU64::new(0), parks: AtomicU64::new(0) }
    }
}

#[inline]
pub(crate) fn bump(c: &AtomicU64) {
    c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl M {
    const fn new() -> Self {
        M { g0_sp: UnsafeCell::new(0), pending: UnsafeCell::new(Pending::None), stats: MStats::new() }
    }
}

pub(crate) static MS: [M; MAX_M] = [const { M::new() }; MAX_M];

/// FIFO of runnable goroutines, linked through `G::schedlink`.
struct RunQueue {
    q: spin::Mutex<(u32, u32)>, // (head index + 1, tail index + 1)
    len: AtomicUsize,
}

/// Global scheduler state.
pub(crate) struct Sched {
    gs: ArenaCell<G>,
    runq: RunQueue,
    /// Futex word idle Ms sleep on; bumped when work arrives.
    wake: AtomicU32,
    idle_ms: AtomicU32,
    /// Ms blocked in the netpoller.
    polling: AtomicU32,
    /// `fn()` that interrupts the netpoller (0 until installed).
    breaker: AtomicUsize,
    /// Set when the main goroutine has finished: Ms return from their loop.
    stop: AtomicBool,
    /// Next goroutine id.
    next_goid: AtomicU64,
    pub(crate) spawned: AtomicU64,
}

pub(crate) static SCHED: Sched = Sched {
    gs: ArenaCell::new(),
    runq: RunQueue { q: spin::Mutex::new((0, 0)), len: AtomicUsize::new(0) },
    wake: AtomicU32::new(0),
    idle_ms: AtomicU32::new(0),
    polling: AtomicU32::new(0),
    breaker: AtomicUsize::new(0),
    stop: AtomicBool::new(false),
    next_goid: AtomicU64::new(1),
    spawned: AtomicU64::new(0),
};

/// The goroutine arena of the running runtime.
#[inline]
pub(crate) fn gs() -> RawArena<'static, G> {
    SCHED.gs.get()
}

/// Whether a runtime has installed its arena.
pub(crate) fn has_arena() -> bool {
    SCHED.gs.is_set()
}

/// Makes `arena` the goroutine arena (run() holds the runtime lock).
pub(crate) fn install(arena: RawArena<'static, G>) {
    SCHED.gs.set(arena);
    SCHED.stop.store(false, Ordering::Relaxed);
    *SCHED.runq.q.lock() = (0, 0);
    SCHED.runq.len.store(0, Ordering::Relaxed);
}

/// A new goroutine id.
pub(crate) fn new_goid() -> u64 {
    SCHED.next_goid.fetch_add(1, Ordering::Relaxed)
}

/// The goroutine id of arena slot `i` (used by the overflow handler).
pub(crate) fn goid_of(i: usize) -> u64 {
    gs().at(i).goid.load(Ordering::Relaxed)
}

/// An address on the current stack.
#[inline(always)]
fn stack_addr() -> usize {
    let marker = 0u8;
    core::hint::black_box(&marker) as *const u8 as usize
}

/// Index of the running goroutine, or `None` on a thread that is not
/// running a goroutine (a host thread, or an M's g0).
#[inline]
pub(crate) fn current() -> Option<usize> {
    REGION.index_of(stack_addr())
}

// ---- goroutine lists ----

/// A list of goroutines linked through `G::schedlink`, owned by whoever
/// holds it (a goroutine is in at most one list or queue at a time).
#[derive(Default)]
pub(crate) struct GList {
    head: u32,
    tail: u32,
    len: usize,
}

impl GList {
    pub(crate) const fn new() -> Self {
        GList { head: 0, tail: 0, len: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends goroutine `i`.
    pub(crate) fn push(&mut self, i: usize) {
        let link = i as u32 + 1;
        gs().at(i).schedlink.store(0, Ordering::Relaxed);
        if self.tail == 0 {
            self.head = link;
        } else {
            gs().at(self.tail as usize - 1).schedlink.store(link, Ordering::Relaxed);
        }
        self.tail = link;
        self.len += 1;
    }

    /// Removes the first goroutine.
    pub(crate) fn pop(&mut self) -> Option<usize> {
        if self.head == 0 {
            return None;
        }
        let i = self.head as usize - 1;
        self.head = gs().at(i).schedlink.load(Ordering::Relaxed);
        if self.head == 0 {
            self.tail = 0;
        }
        self.len -= 1;
        Some(i)
    }
}

/// Makes every goroutine in `list` runnable (they were parked).
pub(crate) fn ready_list(list: &mut GList) {
    while let Some(i) = list.pop() {
        ready(i);
    }
}

// ---- run queue ----

/// Appends goroutine `i` to the run queue and wakes an idle M if any.
pub(crate) fn runq_put(i: usize) {
    let g = gs().at(i);
    g.schedlink.store(0, Ordering::Relaxed);
    {
        let mut q = SCHED.runq.q.lock();
        let link = i as u32 + 1;
        if q.1 == 0 {
            q.0 = link;
        } else {
            gs().at(q.1 as usize - 1).schedlink.store(link, Ordering::Relaxed);
        }
        q.1 = link;
        SCHED.runq.len.fetch_add(1, Ordering::Relaxed);
    }
    if SCHED.idle_ms.load(Ordering::SeqCst) != 0 {
        wake_idle();
    }
}

pub(crate) fn runq_get() -> Option<usize> {
    if SCHED.runq.len.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let mut q = SCHED.runq.q.lock();
    if q.0 == 0 {
        return None;
    }
    let i = q.0 as usize - 1;
    q.0 = gs().at(i).schedlink.load(Ordering::Relaxed);
    if q.0 == 0 {
        q.1 = 0;
    }
    SCHED.runq.len.fetch_sub(1, Ordering::Relaxed);
    Some(i)
}

fn wake_idle() {
    SCHED.wake.fetch_add(1, Ordering::SeqCst);
    futex::wake(&SCHED.wake, 1);
    if SCHED.polling.load(Ordering::SeqCst) != 0 {
        let f = SCHED.breaker.load(Ordering::Acquire);
        if f != 0 {
            // SAFETY: `breaker` only holds 0 or a `fn()` stored by
            // `set_poll_breaker`.
            unsafe { core::mem::transmute::<usize, fn()>(f)() };
        }
    }
}

/// Makes a parked goroutine runnable. Callable from any thread, inside or
/// outside the runtime, once the goroutine's park has committed.
pub(crate) fn ready(i: usize) {
    let g = gs().at(i);
    let was = g.status.swap(Status::Runnable as u32, Ordering::AcqRel);
    if was != Status::Waiting as u32 {
        crate::error::fatal("goro: sched: ready of a goroutine that is not waiting");
    }
    runq_put(i);
}

// ---- goroutine side ----

/// Switches from the running goroutine `i` to its M's g0 with `p` pending.
/// Returns when the goroutine is resumed (possibly on another M).
#[inline]
fn switch_to_g0(i: usize, p: Pending) {
    let g = gs().at(i);
    let m = &MS[g.m.load(Ordering::Relaxed) as usize];
    // SAFETY: we run on this M's thread (it is running us), so its cells are
    // ours; `g.sp` is written only by this switch; `g0_sp` was saved by the
    // switch that started us on this M.
    unsafe {
        *m.pending.get() = p;
        crate::arch::goro_switch(g.sp.get(), *m.g0_sp.get());
    }
}

/// Yields the processor: the goroutine goes to the back of the run queue.
/// Outside a goroutine this does nothing.
pub fn yield_now() {
    if let Some(i) = current() {
        switch_to_g0(i, Pending::Yield);
    }
}

/// Parks the running goroutine `i`. `commit(i)` runs on g0 once the
/// goroutine is off its stack; it publishes the goroutine to whoever will
/// `ready` it and returns true, or returns false if the goroutine should
/// continue at once. The closure may borrow from the parking goroutine's
/// stack (which stays put while it is parked); it must not park.
pub(crate) fn park<C: FnOnce(usize) -> bool>(i: usize, commit: C) {
    let mut slot = Some(commit);
    /// # Safety
    /// `data` is the `Option<C>` above, alive on the parked goroutine's stack.
    unsafe fn call<C: FnOnce(usize) -> bool>(data: *mut u8, g: usize) -> bool {
        // SAFETY: per the contract; g0 calls this exactly once per park.
        let c = unsafe { (*(data as *mut Option<C>)).take() };
        c.is_some_and(|c| c(g))
    }
    switch_to_g0(i, Pending::Park { commit: call::<C>, data: &mut slot as *mut Option<C> as *mut u8 });
}

/// Ends the running goroutine `i`; its result is already stored.
pub(crate) fn goexit(i: usize) -> ! {
    switch_to_g0(i, Pending::Exit);
    crate::error::fatal("goro: sched: dead goroutine resumed")
}

// ---- M side (g0) ----

/// Whether the runtime is stopping (Ms should return).
#[inline]
pub(crate) fn stopping() -> bool {
    SCHED.stop.load(Ordering::Acquire)
}

/// Whether the run queue looks non-empty.
#[inline]
pub(crate) fn runq_nonempty() -> bool {
    SCHED.runq.len.load(Ordering::SeqCst) != 0
}

/// Sleeps on the idle futex until work arrives, the runtime stops, or
/// `timeout_ns` passes (`< 0`: no timeout).
pub(crate) fn idle_sleep(timeout_ns: i64) {
    let seen = SCHED.wake.load(Ordering::SeqCst);
    SCHED.idle_ms.fetch_add(1, Ordering::SeqCst);
    if !runq_nonempty() && !stopping() {
        if timeout_ns < 0 {
            futex::wait(&SCHED.wake, seen);
        } else if timeout_ns > 0 {
            futex::wait_timeout(&SCHED.wake, seen, timeout_ns);
        }
    }
    SCHED.idle_ms.fetch_sub(1, Ordering::SeqCst);
}

/// Marks this M as blocked in the netpoller (or not): work arriving from
/// another thread must then interrupt the poll (`netpoll_break`).
pub(crate) fn set_polling(on: bool) {
    if on {
        SCHED.idle_ms.fetch_add(1, Ordering::SeqCst);
        SCHED.polling.fetch_add(1, Ordering::SeqCst);
    } else {
        SCHED.polling.fetch_sub(1, Ordering::SeqCst);
        SCHED.idle_ms.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Installs the function that interrupts a thread blocked in the poller.
pub(crate) fn set_poll_breaker(f: fn()) {
    SCHED.breaker.store(f as *const () as usize, Ordering::Release);
}

/// Stops every M once it finishes its current goroutine.
pub(crate) fn stop() {
    SCHED.stop.store(true, Ordering::Release);
    SCHED.wake.fetch_add(1, Ordering::SeqCst);
    futex::wake(&SCHED.wake, u32::MAX);
}

/// Runs goroutine `i` on M `mi` until it yields, parks or exits.
pub(crate) fn execute(mi: usize, i: usize, on_exit: fn(usize)) {
    let m = &MS[mi];
    let g = gs().at(i);
    loop {
        g.status.store(Status::Running as u32, Ordering::Relaxed);
        g.m.store(mi as u32, Ordering::Relaxed);
        bump(&m.stats.switches);
        // SAFETY: we are g0 of M `mi` on its own thread; `g.sp` holds a
        // context saved by goro_switch or built by init_stack, and the
        // goroutine is not running anywhere (we took it from the run queue,
        // or it just switched to us).
        let pending = unsafe {
            crate::arch::goro_switch(m.g0_sp.get(), *g.sp.get());
            core::mem::replace(&mut *m.pending.get(), Pending::None)
        };
        match pending {
            Pending::Yield => {
                bump(&m.stats.yields);
                g.status.store(Status::Runnable as u32, Ordering::Relaxed);
                runq_put(i);
                return;
            }
            Pending::Park { commit, data } => {
                bump(&m.stats.parks);
                g.status.store(Status::Waiting as u32, Ordering::Release);
                // SAFETY: `data` is the commit closure `park` left on the
                // goroutine's stack, which is suspended and stays put.
                if unsafe { commit(data, i) } {
                    return;
                }
                // A wake-up beat the commit: run the goroutine again now.
                if g.status.swap(Status::Running as u32, Ordering::AcqRel) != Status::Waiting as u32 {
                    crate::error::fatal("goro: sched: failed commit of a goroutine someone readied");
                }
            }
            Pending::Exit => {
                g.status.store(Status::Dead as u32, Ordering::Release);
                on_exit(i);
                return;
            }
            Pending::None => crate::error::fatal("goro: sched: goroutine switched to g0 with nothing pending"),
        }
    }
}
