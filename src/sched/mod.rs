//! The scheduler: Ms (threads) holding Ps (logical processors) run
//! goroutines (Gs) from per-P run queues, switching between each M's
//! scheduler context ("g0") and the goroutine (Go's `runtime/proc.go`).
//!
//! # Rules
//!
//! - A goroutine that yields, parks or exits records what it wants done and
//!   switches away; the action is carried out only once it is off its
//!   stack. That is what makes the park *commit* safe: a parking goroutine
//!   becomes visible to wakers (its commit callback runs) only after its
//!   registers are saved, so a waker on another thread can never resume it
//!   while it still runs. When its P has another goroutine ready, it
//!   switches straight to that one, which finishes the action first thing
//!   after the switch ([`after_switch`]): one switch instead of two through
//!   g0. Otherwise (nothing queued, a locked thread, every 61st round so
//!   g0's timer, global-queue and netpoll checks still happen, or the
//!   runtime stopping) it switches to its M's g0, which does the same.
//! - Goroutine stacks *and* every M's g0 stack live in the stack region, so
//!   the stack pointer alone says which goroutine or which M is running
//!   ([`current`], [`current_m`]). Nothing uses thread-local storage, so the
//!   same code works on std threads, raw `clone` threads and donated host
//!   threads.
//! - A P is owned by at most one M at a time; only its owner pushes to its
//!   ring (others steal from the head) and touches its `schedtick`.
//! - g0 code never parks; goroutine code never touches another M's cells.
//!
//! # Safety
//!
//! `M` fields in `UnsafeCell`s are touched only by the thread that runs the
//! M: by its g0, or by the goroutine it currently runs (which is the same
//! thread, at a different point of the switch).
#![allow(unsafe_code)]

mod runq;

pub(crate) use runq::{global_get, global_put, GlobalQ, P};

use crate::arena::{ArenaCell, RawArena};
use crate::g::{Status, G, JOIN_G};
use crate::stack::REGION;
use crate::sys::futex;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Most Ms (OS threads) and Ps a runtime can have.
pub(crate) const MAX_M: usize = 64;
/// "No P" in `M::p` / `M::nextp`.
pub(crate) const NO_P: u32 = u32::MAX;

/// What a goroutine asked its M's g0 to do after switching away.
#[derive(Clone, Copy)]
pub(crate) enum Pending {
    None,
    /// Put the goroutine at the back of its P's run queue.
    Yield,
    /// Park: call the commit on the parking goroutine's stack (see
    /// [`ParkCommit`]); if it returns false, run the goroutine again at
    /// once (a wake-up arrived before it got off its stack).
    Park(*mut ParkCommit),
    /// Park, committed by releasing the spin lock whose flag this is
    /// (`sync`'s sole waits; `park_unlock`).
    ParkUnlock(*const AtomicBool),
    /// The goroutine finished; its result is stored.
    Exit,
}

/// The head of a park's commit record, which `park` leaves on the parking
/// goroutine's stack with the commit closure after it: `run(record, g)`
/// calls that closure. One pointer in [`Pending`] instead of a function
/// and a data pointer keeps `Pending` at two words, which the caller of
/// `switch_away` passes in registers: a record built in memory just before
/// the call and copied with wider loads stalls on the store buffer.
#[repr(C)]
pub(crate) struct ParkCommit {
    run: unsafe fn(*mut ParkCommit, usize) -> bool,
}

/// A P number or `NO_P`, stored plus one so that "none" is all-zero bits:
/// `MS` then starts out all zero and lands in `.bss`, costing no bytes in
/// a freestanding image (64 Ms).
pub(crate) struct PSlot(AtomicU32);

impl PSlot {
    const fn none() -> Self {
        PSlot(AtomicU32::new(0))
    }

    #[inline]
    pub(crate) fn load(&self, o: Ordering) -> u32 {
        self.0.load(o).wrapping_sub(1)
    }

    #[inline]
    pub(crate) fn store(&self, p: u32, o: Ordering) {
        self.0.store(p.wrapping_add(1), o)
    }

    #[inline]
    pub(crate) fn swap(&self, p: u32, o: Ordering) -> u32 {
        self.0.swap(p.wrapping_add(1), o).wrapping_sub(1)
    }
}

/// An action of a goroutine that switched straight to another goroutine,
/// for that one to finish (see [`after_switch`]).
#[derive(Clone, Copy)]
struct Handoff {
    prev: usize,
    what: Pending,
}

/// An OS thread running goroutines.
pub(crate) struct M {
    /// g0's saved stack pointer while a goroutine runs.
    g0_sp: UnsafeCell<usize>,
    /// The thread's own stack pointer while it runs on its g0 stack.
    native_sp: UnsafeCell<usize>,
    pending: UnsafeCell<Pending>,
    /// The goroutine `pending` is about (the one that switched to g0).
    pending_g: UnsafeCell<usize>,
    /// Set by a goroutine switching straight to another on this M, and
    /// taken by that one right after the switch.
    handoff: UnsafeCell<Handoff>,
    /// The P this M holds (`NO_P` if none). Written by this M, or by the M
    /// that hands it a P while it sleeps (through `nextp`).
    pub(crate) p: PSlot,
    /// A P handed to this M while it sleeps in `stop_m`.
    pub(crate) nextp: PSlot,
    /// Futex word this M sleeps on (0 = asleep or about to; 1 = woken).
    note: AtomicU32,
    /// Looking for work without having found any (bounded; see `wakep`).
    pub(crate) spinning: AtomicBool,
    /// The goroutine running on this M (index + 1; 0 = none).
    pub(crate) curg: AtomicU32,
    /// Goroutine locked to this M (index + 1; 0 = none), see `lock_os_thread`.
    pub(crate) lockedg: AtomicU32,
    /// Goroutine to run when woken with a P (handed over with it).
    pub(crate) nextg: AtomicU32,
    /// Link in the idle-M list (index + 1).
    idle_link: AtomicU32,
    /// `fn(usize) -> !` that `run_on_g0` starts on the g0 stack.
    g0_entry: AtomicUsize,
    /// Counters owned by this M (written only by its thread).
    pub(crate) stats: MStats,
    /// Goroutine ids this M has reserved: next to hand out, and the end.
    goids: UnsafeCell<(u64, u64)>,
}

// SAFETY: see the module's safety note: UnsafeCell fields are confined to
// the thread running the M; everything else is atomic.
unsafe impl Sync for M {}

/// Per-M counters, written with plain load+store by the owning thread only
/// and read (racily but atomically) by `stats()`.
pub(crate) struct MStats {
    pub switches: AtomicU64,
    pub yields: AtomicU64,
    pub parks: AtomicU64,
    pub spawns: AtomicU64,
}

impl MStats {
    const fn new() -> Self {
        MStats {
            switches: AtomicU64::new(0),
            yields: AtomicU64::new(0),
            parks: AtomicU64::new(0),
            spawns: AtomicU64::new(0),
        }
    }
}

#[inline]
pub(crate) fn bump(c: &AtomicU64) {
    c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl M {
    const fn new() -> Self {
        M {
            g0_sp: UnsafeCell::new(0),
            native_sp: UnsafeCell::new(0),
            pending: UnsafeCell::new(Pending::None),
            pending_g: UnsafeCell::new(0),
            handoff: UnsafeCell::new(Handoff { prev: 0, what: Pending::None }),
            p: PSlot::none(),
            nextp: PSlot::none(),
            note: AtomicU32::new(0),
            spinning: AtomicBool::new(false),
            curg: AtomicU32::new(0),
            lockedg: AtomicU32::new(0),
            nextg: AtomicU32::new(0),
            idle_link: AtomicU32::new(0),
            g0_entry: AtomicUsize::new(0),
            stats: MStats::new(),
            goids: UnsafeCell::new((0, 0)),
        }
    }
}

pub(crate) static MS: [M; MAX_M] = [const { M::new() }; MAX_M];
pub(crate) static PS: [P; MAX_M] = [const { P::new() }; MAX_M];

/// Global scheduler state.
pub(crate) struct Sched {
    gs: ArenaCell<G>,
    /// Goroutine capacity (stack slots below it are goroutines', above it Ms').
    gcap: AtomicUsize,
    /// Number of Ps.
    pub(crate) nprocs: AtomicU32,
    pub(crate) global: GlobalQ,
    /// Set by sysmon when it left goroutines in the global queue while no
    /// P idled (timers it fired, readiness it polled): the next schedule on
    /// any P looks there first instead of waiting for its every-61st turn.
    pub(crate) global_due: AtomicBool,
    /// Idle Ps (index + 1 list through `P::idle_link`) and their count.
    pidle: spin::Mutex<u32>,
    pub(crate) npidle: AtomicU32,
    /// Idle Ms (index + 1 list through `M::idle_link`) and their count.
    midle: spin::Mutex<u32>,
    pub(crate) nmidle: AtomicU32,
    /// Ms looking for work.
    pub(crate) nmspinning: AtomicU32,
    /// M slots in use (threads started or donated), and threads still alive.
    pub(crate) mcount: AtomicU32,
    pub(crate) mlive: AtomicU32,
    /// Ms blocked in the netpoller.
    polling: AtomicU32,
    /// `fn()` that interrupts the netpoller (0 until installed).
    breaker: AtomicUsize,
    /// `fn(usize) -> bool` that starts a thread for M slot `i` (0: none).
    spawner: AtomicUsize,
    /// Last time anyone polled the network (ns; 0 = someone is blocked in it).
    pub(crate) lastpoll: AtomicI64,
    /// Set when the main goroutine has finished: Ms return from their loop.
    stop: AtomicBool,
    /// Next goroutine id.
    next_goid: AtomicU64,
    pub(crate) spawned: AtomicU64,
    pub(crate) preempt_requests: AtomicU64,
    /// Futex word sysmon deep-sleeps on while every P is idle.
    pub(crate) sysmon_note: AtomicU32,
    pub(crate) sysmon_sleeping: AtomicBool,
}

pub(crate) static SCHED: Sched = Sched {
    gs: ArenaCell::new(),
    gcap: AtomicUsize::new(0),
    nprocs: AtomicU32::new(1),
    global: GlobalQ::new(),
    global_due: AtomicBool::new(false),
    pidle: spin::Mutex::new(0),
    npidle: AtomicU32::new(0),
    midle: spin::Mutex::new(0),
    nmidle: AtomicU32::new(0),
    nmspinning: AtomicU32::new(0),
    mcount: AtomicU32::new(0),
    mlive: AtomicU32::new(0),
    polling: AtomicU32::new(0),
    breaker: AtomicUsize::new(0),
    spawner: AtomicUsize::new(0),
    lastpoll: AtomicI64::new(0),
    stop: AtomicBool::new(false),
    next_goid: AtomicU64::new(1),
    spawned: AtomicU64::new(0),
    preempt_requests: AtomicU64::new(0),
    sysmon_note: AtomicU32::new(0),
    sysmon_sleeping: AtomicBool::new(false),
};

/// The goroutine arena of the running runtime.
#[inline]
pub(crate) fn gs() -> RawArena<'static, G> {
    SCHED.gs.get()
}

/// Goroutine `i` of the running runtime (`g_at(i)` without building
/// the arena view: two loads and a bounds check).
#[inline]
pub(crate) fn g_at(i: usize) -> &'static G {
    SCHED.gs.at(i)
}

/// Whether a runtime has installed its arena.
pub(crate) fn has_arena() -> bool {
    SCHED.gs.is_set()
}

/// Installs a runtime's goroutine arena and `nprocs` Ps (all idle but P 0,
/// which M 0 takes). Called by `run` while no other thread of the runtime
/// exists.
pub(crate) fn install(arena: RawArena<'static, G>, nprocs: usize) {
    SCHED.gcap.store(arena.capacity(), Ordering::Relaxed);
    SCHED.gs.set(arena);
    SCHED.stop.store(false, Ordering::Relaxed);
    SCHED.global.reset();
    SCHED.nprocs.store(nprocs as u32, Ordering::Relaxed);
    SCHED.nmspinning.store(0, Ordering::Relaxed);
    SCHED.mcount.store(1, Ordering::Relaxed);
    SCHED.mlive.store(0, Ordering::Relaxed);
    SCHED.polling.store(0, Ordering::Relaxed);
    SCHED.lastpoll.store(crate::time::nanotime(), Ordering::Relaxed);
    *SCHED.midle.lock() = 0;
    SCHED.nmidle.store(0, Ordering::Relaxed);
    *SCHED.pidle.lock() = 0;
    SCHED.npidle.store(0, Ordering::Relaxed);
    for m in &MS {
        m.p.store(NO_P, Ordering::Relaxed);
        m.nextp.store(NO_P, Ordering::Relaxed);
        m.spinning.store(false, Ordering::Relaxed);
        m.curg.store(0, Ordering::Relaxed);
        m.lockedg.store(0, Ordering::Relaxed);
        m.nextg.store(0, Ordering::Relaxed);
        m.note.store(0, Ordering::Relaxed);
    }
    for p in &PS[..nprocs] {
        p.reset();
    }
    for i in (1..nprocs).rev() {
        pidle_put(i as u32);
    }
    MS[0].p.store(0, Ordering::Release);
}

/// Goroutine ids an M reserves at a time (Go's `_GoidCacheBatch`).
const GOID_BATCH: u64 = 16;

/// Counts a spawn and returns a new goroutine id. On an M both come from
/// the M's own counters (one shared atomic add per 16 spawns); on a host
/// thread from the shared ones.
pub(crate) fn account_spawn() -> u64 {
    let Some(mi) = current_m() else {
        SCHED.spawned.fetch_add(1, Ordering::Relaxed);
        return SCHED.next_goid.fetch_add(1, Ordering::Relaxed);
    };
    let m = &MS[mi];
    bump(&m.stats.spawns);
    // SAFETY: we run on M `mi`'s thread (its g0 or the goroutine it runs,
    // which cannot switch away inside this function), so the cell is ours.
    let ids = unsafe { &mut *m.goids.get() };
    if ids.0 == ids.1 {
        ids.0 = SCHED.next_goid.fetch_add(GOID_BATCH, Ordering::Relaxed);
        ids.1 = ids.0 + GOID_BATCH;
    }
    ids.0 += 1;
    ids.0 - 1
}

/// The goroutine id of arena slot `i` (used by the overflow handler).
pub(crate) fn goid_of(i: usize) -> u64 {
    let gcap = SCHED.gcap.load(Ordering::Relaxed);
    if i >= gcap {
        return 0;
    }
    g_at(i).goid.load(Ordering::Relaxed)
}

/// An address on the current stack: the stack pointer itself, read with
/// one instruction (no stack slot written and read back).
#[inline(always)]
fn stack_addr() -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer into a register; touches no memory, no flags, and no other register.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags));
        #[cfg(target_arch = "aarch64")]
        core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags));
    }
    sp
}

/// Index of the running goroutine, or `None` on a thread that is not
/// running a goroutine (a host thread, or an M's g0).
#[inline]
pub(crate) fn current() -> Option<usize> {
    let slot = REGION.index_of(stack_addr())?;
    (slot < SCHED.gcap.load(Ordering::Relaxed)).then_some(slot)
}

/// The M the calling code runs on (from a goroutine or a g0), if any.
#[inline]
pub(crate) fn current_m() -> Option<usize> {
    let slot = REGION.index_of(stack_addr())?;
    let gcap = SCHED.gcap.load(Ordering::Relaxed);
    if slot < gcap {
        Some(g_at(slot).m.load(Ordering::Relaxed) as usize)
    } else {
        Some(slot - gcap)
    }
}

/// The stack slot of M `mi`'s g0.
pub(crate) fn g0_slot(mi: usize) -> usize {
    SCHED.gcap.load(Ordering::Relaxed) + mi
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
        g_at(i).schedlink.store(0, Ordering::Relaxed);
        if self.tail == 0 {
            self.head = link;
        } else {
            g_at(self.tail as usize - 1).schedlink.store(link, Ordering::Relaxed);
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
        self.head = g_at(i).schedlink.load(Ordering::Relaxed);
        if self.head == 0 {
            self.tail = 0;
        }
        self.len -= 1;
        Some(i)
    }
}

// ---- making goroutines runnable ----

/// Queues runnable goroutine `i`: on the calling M's P if it has one
/// (into `runnext` when `next`), else on the global queue; then makes
/// sure an idle P gets an M if there is one.
pub(crate) fn put_runnable(i: usize, next: bool) {
    match current_m().map(|mi| MS[mi].p.load(Ordering::Relaxed)) {
        Some(p) if p != NO_P => PS[p as usize].put(i, next),
        _ => global_put(i),
    }
    wakep();
}

/// Where the calling code runs: a goroutine (on an M), an M's g0, or
/// neither (a host thread). One stack-region lookup answers both
/// `current` and `current_m`.
enum Here {
    G(usize),
    G0(usize),
    Host,
}

#[inline]
fn here() -> Here {
    let Some(slot) = REGION.index_of(stack_addr()) else { return Here::Host };
    let gcap = SCHED.gcap.load(Ordering::Relaxed);
    if slot < gcap {
        Here::G(g_at(slot).m.load(Ordering::Relaxed) as usize)
    } else {
        Here::G0(slot - gcap)
    }
}

/// Makes a parked goroutine runnable. Callable from any thread, inside or
/// outside the runtime, once the goroutine's park has committed. From a
/// goroutine the woken one runs next on the same P (Go's `ready(gp, next)`).
pub(crate) fn ready(i: usize) {
    let g = g_at(i);
    // A check and a store, not a swap: only the one waker that won the
    // goroutine's wait protocol (a token, semaphore or join CAS) readies it.
    if g.status.load(Ordering::Acquire) != Status::Waiting as u32 {
        crate::error::fatal("goro: sched: ready of a goroutine that is not waiting");
    }
    g.status.store(Status::Runnable as u32, Ordering::Release);
    let (mi, next) = match here() {
        Here::G(mi) => (Some(mi), true),
        Here::G0(mi) => (Some(mi), false),
        Here::Host => (None, false),
    };
    match mi.map(|mi| MS[mi].p.load(Ordering::Relaxed)) {
        Some(p) if p != NO_P => PS[p as usize].put(i, next),
        _ => global_put(i),
    }
    wakep();
}

/// After goroutines woken by I/O (the poller, a close) were queued on
/// `pp`, the P of the calling M: start a helper M only if more than one
/// goroutine waits there. This M runs a lone one as soon as the current
/// goroutine parks or yields, sooner than a sleeping M could wake up to
/// steal it, so a server whose Ms keep up with its events is not woken
/// twice per event (tokio's `should_notify_others`; Go wakes a helper for
/// every batch). The price, as in tokio: that one goroutine waits behind
/// the current one, should the current one compute for long before it
/// parks (sysmon's `retake` then wakes a helper within a round).
#[inline]
fn wake_for_local(pp: &P) {
    if pp.len() > 1 {
        wakep();
    }
}

/// Makes every goroutine in `list` runnable (they were parked).
pub(crate) fn ready_list(list: &mut GList) {
    if list.is_empty() {
        return;
    }
    let p = current_m().map(|mi| MS[mi].p.load(Ordering::Relaxed)).filter(|&p| p != NO_P);
    while let Some(i) = list.pop() {
        let was = g_at(i).status.swap(Status::Runnable as u32, Ordering::AcqRel);
        if was != Status::Waiting as u32 {
            crate::error::fatal("goro: sched: ready of a goroutine that is not waiting");
        }
        match p {
            Some(p) => PS[p as usize].put(i, false),
            None => global_put(i),
        }
    }
    match p {
        Some(p) => wake_for_local(&PS[p as usize]),
        None => wakep(),
    }
}

/// A newly spawned goroutine `i` (status already Runnable).
pub(crate) fn put_new(i: usize) {
    put_runnable(i, false);
}

// ---- Ps and Ms: idle lists, hand-off, wake-up ----

/// Puts P `p` on the idle list.
pub(crate) fn pidle_put(p: u32) {
    let mut head = SCHED.pidle.lock();
    PS[p as usize].idle_link.store(*head, Ordering::Relaxed);
    *head = p + 1;
    SCHED.npidle.fetch_add(1, Ordering::SeqCst);
}

/// Wakes sysmon if it sleeps because every P was idle: a P is about to
/// run goroutines again (`pidle_get` and `start_m` call this). Without it
/// a P taken back by the poller would run with sysmon asleep: no fallback
/// poll and no preemption requests while it stays busy.
pub(crate) fn wake_sysmon() {
    if SCHED.sysmon_sleeping.load(Ordering::SeqCst) {
        SCHED.sysmon_sleeping.store(false, Ordering::SeqCst);
        SCHED.sysmon_note.store(1, Ordering::SeqCst);
        futex::wake(&SCHED.sysmon_note, 1);
    }
}

/// Takes an idle P (and wakes sysmon if every P was idle).
pub(crate) fn pidle_get() -> Option<u32> {
    let mut head = SCHED.pidle.lock();
    if *head == 0 {
        return None;
    }
    let p = *head - 1;
    *head = PS[p as usize].idle_link.load(Ordering::Relaxed);
    SCHED.npidle.fetch_sub(1, Ordering::SeqCst);
    drop(head);
    wake_sysmon();
    Some(p)
}

fn midle_put(mi: usize) {
    let mut head = SCHED.midle.lock();
    MS[mi].idle_link.store(*head, Ordering::Relaxed);
    *head = mi as u32 + 1;
    SCHED.nmidle.fetch_add(1, Ordering::SeqCst);
}

fn midle_get() -> Option<usize> {
    let mut head = SCHED.midle.lock();
    if *head == 0 {
        return None;
    }
    let mi = *head as usize - 1;
    *head = MS[mi].idle_link.load(Ordering::Relaxed);
    SCHED.nmidle.fetch_sub(1, Ordering::SeqCst);
    Some(mi)
}

/// Removes M `mi` from the idle list if it is there (shutdown).
fn midle_remove_all() -> u32 {
    let mut head = SCHED.midle.lock();
    let mut n = 0;
    while *head != 0 {
        let mi = *head as usize - 1;
        *head = MS[mi].idle_link.load(Ordering::Relaxed);
        n += 1;
    }
    SCHED.nmidle.store(0, Ordering::SeqCst);
    n
}

/// Go's `wakep`: if a P is idle and no M is already looking for work,
/// start (or wake) a spinning M to take it.
pub(crate) fn wakep() {
    if SCHED.npidle.load(Ordering::SeqCst) == 0 {
        return;
    }
    if SCHED.nmspinning.load(Ordering::SeqCst) != 0
        || SCHED.nmspinning.compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed).is_err()
    {
        return;
    }
    start_m(None, true, 0);
}

/// Go's `startm`: gives P `p` (or an idle one) to an idle M, or to a new
/// thread. `spinning` Ms were counted in `nmspinning` by the caller; `g`
/// (index + 1, 0 = none) is a goroutine the M must run first.
pub(crate) fn start_m(p: Option<u32>, spinning: bool, g: u32) {
    wake_sysmon();
    let Some(p) = p.or_else(pidle_get) else {
        if spinning {
            SCHED.nmspinning.fetch_sub(1, Ordering::SeqCst);
        }
        return;
    };
    let mi = match midle_get() {
        Some(mi) => mi,
        None => match new_m() {
            Some(mi) => mi,
            None => {
                // No thread to be had: the P stays idle. Wake the poller
                // (if an M sleeps there it will take the P), else running
                // Ms and sysmon get to the work.
                pidle_put(p);
                if spinning {
                    SCHED.nmspinning.fetch_sub(1, Ordering::SeqCst);
                }
                break_poller();
                return;
            }
        },
    };
    let m = &MS[mi];
    m.spinning.store(spinning, Ordering::Relaxed);
    m.nextg.store(g, Ordering::Relaxed);
    m.nextp.store(p, Ordering::Release);
    notewakeup(m);
}

/// Starts a thread for a fresh M slot, if the thread source allows.
fn new_m() -> Option<usize> {
    let f = SCHED.spawner.load(Ordering::Acquire);
    if f == 0 {
        return None;
    }
    let mi = SCHED.mcount.fetch_add(1, Ordering::SeqCst) as usize;
    if mi >= MAX_M {
        SCHED.mcount.fetch_sub(1, Ordering::SeqCst);
        return None;
    }
    // The new M starts idle: it sleeps in stop_m until handed a P (which
    // our caller does right after). Mark it idle-bound before it runs.
    MS[mi].nextp.store(NO_P, Ordering::Relaxed);
    MS[mi].note.store(0, Ordering::Relaxed);
    SCHED.mlive.fetch_add(1, Ordering::SeqCst);
    // SAFETY: `spawner` only holds 0 or a `fn(usize) -> bool` stored by
    // `set_spawner`.
    let spawn = unsafe { core::mem::transmute::<usize, fn(usize) -> bool>(f) };
    if spawn(mi) {
        Some(mi)
    } else {
        SCHED.mlive.fetch_sub(1, Ordering::SeqCst);
        None
    }
}

/// Installs the thread source (`spawn(i)` starts a thread that calls the
/// runtime's M entry for slot `i`), or none.
pub(crate) fn set_spawner(f: Option<fn(usize) -> bool>) {
    SCHED.spawner.store(f.map_or(0, |f| f as *const () as usize), Ordering::Release);
}

/// Claims a fresh M slot for a donated host thread.
pub(crate) fn claim_m() -> Option<usize> {
    let mi = SCHED.mcount.fetch_add(1, Ordering::SeqCst) as usize;
    if mi >= MAX_M {
        SCHED.mcount.fetch_sub(1, Ordering::SeqCst);
        return None;
    }
    SCHED.mlive.fetch_add(1, Ordering::SeqCst);
    Some(mi)
}

fn notewakeup(m: &M) {
    m.note.store(1, Ordering::SeqCst);
    futex::wake(&m.note, 1);
}

/// Go's `stopm`: M `mi` (holding no P) sleeps on the idle list until
/// `start_m` hands it a P, or the runtime stops. Returns the P, if any.
pub(crate) fn stop_m(mi: usize) -> Option<u32> {
    MS[mi].note.store(0, Ordering::SeqCst);
    if stopping() {
        return None;
    }
    midle_put(mi);
    wait_for_p(mi)
}

/// Sleeps until someone hands M `mi` a P (through `nextp`) or the runtime
/// stops; used by idle Ms, new Ms, and Ms whose locked goroutine waits.
pub(crate) fn wait_for_p(mi: usize) -> Option<u32> {
    let m = &MS[mi];
    loop {
        let p = m.nextp.swap(NO_P, Ordering::AcqRel);
        if p != NO_P {
            m.p.store(p, Ordering::Release);
            return Some(p);
        }
        if stopping() {
            return None;
        }
        futex::wait(&m.note, 0);
        m.note.store(0, Ordering::SeqCst);
    }
}

/// Go's `handoffp`: M `mi` gives up its P. If the P (or the global queue)
/// has work, another M takes it at once; otherwise it becomes idle.
pub(crate) fn handoff_p(p: u32) {
    if !PS[p as usize].is_empty() || SCHED.global.len() != 0 {
        start_m(Some(p), false, 0);
        return;
    }
    if SCHED.nmspinning.load(Ordering::SeqCst) == 0 && SCHED.npidle.load(Ordering::SeqCst) == 0 {
        // Be the last P standing? Someone must keep looking; let an M spin.
        if SCHED.nmspinning.compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed).is_ok() {
            start_m(Some(p), true, 0);
            return;
        }
    }
    pidle_put(p);
}

/// Hands the calling M's P and goroutine `g` to the M that `g` is locked
/// to (Go's `startlockedm`).
pub(crate) fn start_locked_m(target: usize, p: u32, g: usize) {
    let m = &MS[target];
    m.nextg.store(g as u32 + 1, Ordering::Relaxed);
    m.nextp.store(p, Ordering::Release);
    notewakeup(m);
}

/// Whether the runtime is stopping (Ms should return).
#[inline]
pub(crate) fn stopping() -> bool {
    SCHED.stop.load(Ordering::Acquire)
}

/// Marks this M as blocked in the netpoller (or not): work arriving from
/// another thread must then interrupt the poll (`netpoll_break`).
pub(crate) fn set_polling(on: bool) {
    if on {
        SCHED.polling.fetch_add(1, Ordering::SeqCst);
        SCHED.lastpoll.store(0, Ordering::SeqCst);
    } else {
        SCHED.polling.fetch_sub(1, Ordering::SeqCst);
        SCHED.lastpoll.store(crate::time::nanotime(), Ordering::SeqCst);
    }
}

/// Claims the poller role: true if no M was blocked in (or about to enter)
/// the netpoller; the caller must `set_polling(false)` when done. A CAS, so
/// two idle Ms can neither both poll nor both back off.
pub(crate) fn try_become_poller() -> bool {
    if SCHED.polling.compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst).is_err() {
        return false;
    }
    SCHED.lastpoll.store(0, Ordering::SeqCst);
    true
}

/// Marks parked goroutine `g` runnable without queueing it (the caller
/// runs it at once).
pub(crate) fn make_runnable_status(g: usize) {
    if g_at(g).status.swap(Status::Runnable as u32, Ordering::AcqRel) != Status::Waiting as u32 {
        crate::error::fatal("goro: sched: ready of a goroutine that is not waiting");
    }
}

/// Whether some M is blocked in the netpoller.
pub(crate) fn someone_polling() -> bool {
    SCHED.polling.load(Ordering::SeqCst) != 0
}

/// Interrupts the M blocked in the netpoller, if any.
pub(crate) fn break_poller() {
    if someone_polling() {
        let f = SCHED.breaker.load(Ordering::Acquire);
        if f != 0 {
            // SAFETY: `breaker` only holds 0 or a `fn()` stored by
            // `set_poll_breaker`.
            unsafe { core::mem::transmute::<usize, fn()>(f)() };
        }
    }
}

/// Installs the function that interrupts a thread blocked in the poller.
pub(crate) fn set_poll_breaker(f: fn()) {
    SCHED.breaker.store(f as *const () as usize, Ordering::Release);
}

/// Stops every M once it finishes its current goroutine.
pub(crate) fn stop() {
    SCHED.stop.store(true, Ordering::SeqCst);
    for m in &MS {
        notewakeup(m);
    }
    SCHED.sysmon_note.store(1, Ordering::SeqCst);
    futex::wake(&SCHED.sysmon_note, 1);
    midle_remove_all();
    let f = SCHED.breaker.load(Ordering::Acquire);
    if f != 0 {
        // SAFETY: as in `break_poller`.
        unsafe { core::mem::transmute::<usize, fn()>(f)() };
    }
}

/// Records that a runtime thread (not M 0) has finished, and wakes `run`.
pub(crate) fn thread_exited() {
    SCHED.mlive.fetch_sub(1, Ordering::SeqCst);
    futex::wake(&SCHED.mlive, u32::MAX);
}

/// Waits until every runtime thread but the caller has finished.
pub(crate) fn wait_threads() {
    loop {
        let n = SCHED.mlive.load(Ordering::SeqCst);
        if n == 0 {
            return;
        }
        futex::wait(&SCHED.mlive, n);
    }
}

// ---- goroutine side ----

/// Switches away from the running goroutine `i`, which wants `what` done
/// once it is off its stack: straight to the next goroutine of its P if
/// [`direct_next`] finds one, else to its M's g0. Returns when the
/// goroutine is resumed (possibly on another M).
#[inline]
fn switch_away(i: usize, what: Pending) {
    let g = g_at(i);
    let mi = g.m.load(Ordering::Relaxed) as usize;
    let m = &MS[mi];
    let next = match what {
        Pending::Exit => exit_to_joiner(m, i).or_else(|| direct_next(m)),
        _ => direct_next(m),
    };
    match next {
        Some(n) => {
            let ng = g_at(n);
            ng.status.store(Status::Running as u32, Ordering::Relaxed);
            ng.m.store(mi as u32, Ordering::Relaxed);
            ng.preempt.store(false, Ordering::Relaxed);
            m.curg.store(n as u32 + 1, Ordering::Relaxed);
            bump(&m.stats.switches);
            // `handoff` is empty: the last one was taken right after its switch.
            // SAFETY: M `mi`'s cells are ours (its thread runs us); `g.sp` is written only by this switch; `n` came
            // off our P's queue, so its saved (or fresh) context is suspended and nobody else will resume it.
            unsafe {
                *m.handoff.get() = Handoff { prev: i, what };
                crate::arch::goro_switch(g.sp.as_ptr(), ng.sp.load(Ordering::Relaxed));
            }
        }
        // SAFETY: as above for the cells and `g.sp`; `g0_sp` was saved by
        // the switch that started us (or a goroutine before us) on this M.
        None => unsafe {
            *m.pending.get() = what;
            *m.pending_g.get() = i;
            crate::arch::goro_switch(g.sp.as_ptr(), *m.g0_sp.get());
        },
    }
    after_switch(i);
}

/// The P of M `m` if a goroutine leaving `m` may switch straight to
/// another goroutine: not if the M is locked to a goroutine, the runtime
/// is stopping, sysmon left goroutines in the global queue for a busy
/// runtime (`global_due`), or this is every 61st round (then g0 runs its
/// timer, global-queue and netpoll checks). Returns the round number too.
#[inline]
fn direct_p(m: &M) -> Option<(&'static P, u32)> {
    if m.lockedg.load(Ordering::Relaxed) != 0 || stopping() || SCHED.global_due.load(Ordering::Relaxed) {
        return None;
    }
    let p = m.p.load(Ordering::Relaxed);
    if p == NO_P {
        return None;
    }
    let pp = &PS[p as usize];
    // Only the P's owner (us) writes schedtick; g0 counts the round it does.
    let tick = pp.schedtick.load(Ordering::Relaxed);
    (!tick.is_multiple_of(61)).then_some((pp, tick))
}

/// The goroutine a goroutine leaving M `m` may switch straight to: the
/// next one of its P (see [`direct_p`]) unless it is locked to an M.
#[inline]
fn direct_next(m: &M) -> Option<usize> {
    let (pp, tick) = direct_p(m)?;
    let n = pp.get()?;
    pp.schedtick.store(tick.wrapping_add(1), Ordering::Relaxed);
    if g_at(n).lockedm.load(Ordering::Acquire) != 0 {
        // It must run on its own M: g0's schedule loop hands it over.
        pp.put(n, true);
        return None;
    }
    if let Some(after) = pp.peek() {
        prefetch_context(after);
    }
    Some(n)
}

/// Prefetches the saved context of goroutine `i`, which will probably be
/// resumed after the one we are switching to: its stack lines are cold
/// when many goroutines take turns (at 1000 echo connections, the first
/// load from the resumed stack in `goro_switch` took 6% of the server's
/// CPU samples), and the goroutine we switch to runs long enough (it
/// usually makes a system call) for the lines to arrive meanwhile.
#[inline]
fn prefetch_context(i: usize) {
    let Some(g) = SCHED.gs.try_at(i) else { return };
    // A hint: if the goroutine was taken and resumed meanwhile, this only
    // prefetches lines it no longer needs.
    let sp = g.sp.load(Ordering::Relaxed);
    for line in 0..PREFETCH_LINES {
        crate::arch::prefetch(sp.wrapping_add(line * 64));
    }
}

/// Cache lines prefetched from a saved stack pointer upwards: the saved
/// registers (64 bytes on x86_64, 176 on aarch64) and the frames the
/// resumed goroutine returns through first.
const PREFETCH_LINES: usize = 4;

/// For exiting goroutine `i`: the goroutine parked joining it, taken to
/// run next on this M (the exit would ready it anyway; `spawn::on_exit`,
/// run by it right after the switch, then does not). Only the exit wakes
/// a parked joiner, so nobody else can resume it meanwhile.
#[inline]
fn exit_to_joiner(m: &M, i: usize) -> Option<usize> {
    let j = g_at(i).join.load(Ordering::Acquire);
    if j < JOIN_G {
        return None;
    }
    let (pp, tick) = direct_p(m)?;
    let jg = g_at((j - JOIN_G) as usize);
    if jg.lockedm.load(Ordering::Acquire) != 0
        || jg
            .status
            .compare_exchange(Status::Waiting as u32, Status::Running as u32, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
    {
        return None;
    }
    pp.schedtick.store(tick.wrapping_add(1), Ordering::Relaxed);
    Some((j - JOIN_G) as usize)
}

/// First thing a goroutine does whenever it is resumed, and when it
/// starts: finishes the action of a goroutine that switched straight to it
/// (that goroutine is now off its stack).
#[inline]
pub(crate) fn after_switch(me: usize) {
    let m = &MS[g_at(me).m.load(Ordering::Relaxed) as usize];
    // SAFETY: whoever resumed us set our `m` to its own M, on this thread,
    // so the M's cells are ours; only the switch to us fills `handoff`.
    if !matches!(unsafe { &*m.handoff.get() }.what, Pending::None) {
        finish_handoff(m);
    }
}

/// Carries out the action in `m.handoff` and empties it. The record is
/// read field by field where it lies, not copied out: `switch_away` stored
/// it a few dozen instructions ago, and a copy's wide loads straddle its
/// separate stores, which the CPU cannot forward from its store buffer (a
/// stall on every switch that showed up as spawn+exit+join going from 76
/// to 83 ns when inlining changed around it).
fn finish_handoff(m: &M) {
    // Each arm empties the record once it has read it, before its action
    // runs (an action must not switch, but should one, the record it fills
    // is not ours to clear afterwards).
    // SAFETY: as in `after_switch`: the M's cells are ours.
    let h = unsafe { &mut *m.handoff.get() };
    let prev = h.prev;
    let g = g_at(prev);
    let requeue = |prev: usize| {
        // We hold the P we switched on (it leaves an M only on its g0).
        let p = m.p.load(Ordering::Relaxed);
        PS[p as usize].put(prev, false);
    };
    match h.what {
        Pending::Yield => {
            h.what = Pending::None;
            bump(&m.stats.yields);
            g.status.store(Status::Runnable as u32, Ordering::Relaxed);
            requeue(prev);
        }
        Pending::Park(rec) => {
            h.what = Pending::None;
            bump(&m.stats.parks);
            g.status.store(Status::Waiting as u32, Ordering::Release);
            // SAFETY: `rec` is the commit record `park` left on the
            // parked goroutine's stack, which is suspended and stays put.
            if !unsafe { ((*rec).run)(rec, prev) } {
                // A wake-up beat the commit: it runs again, after us.
                if g.status.swap(Status::Runnable as u32, Ordering::AcqRel) != Status::Waiting as u32 {
                    crate::error::fatal("goro: sched: failed commit of a goroutine someone readied");
                }
                requeue(prev);
            }
        }
        Pending::ParkUnlock(flag) => {
            h.what = Pending::None;
            commit_park_unlock(m, g, flag);
        }
        Pending::Exit => {
            h.what = Pending::None;
            g.status.store(Status::Dead as u32, Ordering::Release);
            crate::rt::on_exit(prev);
        }
        Pending::None => {}
    }
}

/// Yields the processor: the goroutine goes to the back of its P's run
/// queue. Outside a goroutine this does nothing.
pub fn yield_now() {
    if let Some(i) = current() {
        switch_away(i, Pending::Yield);
    }
}

/// Honours a preemption request (from sysmon) at a yield point that did
/// not otherwise switch: goro's I/O calls call this after a fast path.
#[inline]
pub(crate) fn preempt_point() {
    if let Some(i) = current() {
        if g_at(i).preempt.load(Ordering::Relaxed) {
            switch_away(i, Pending::Yield);
        }
    }
}

/// Parks the running goroutine `i`. `commit(i)` runs on g0 once the
/// goroutine is off its stack; it publishes the goroutine to whoever will
/// `ready` it and returns true, or returns false if the goroutine should
/// continue at once. The closure may borrow from the parking goroutine's
/// stack (which stays put while it is parked); it must not park.
pub(crate) fn park<C: FnOnce(usize) -> bool>(i: usize, commit: C) {
    #[repr(C)]
    struct Record<C> {
        head: ParkCommit,
        commit: Option<C>,
    }
    /// # Safety
    /// `rec` points at the `Record<C>` below (its head is its first field),
    /// alive on the parked goroutine's stack.
    unsafe fn run<C: FnOnce(usize) -> bool>(rec: *mut ParkCommit, g: usize) -> bool {
        // SAFETY: per the contract; g0 calls this exactly once per park.
        let c = unsafe { (*rec.cast::<Record<C>>()).commit.take() };
        c.is_some_and(|c| c(g))
    }
    let mut rec = Record { head: ParkCommit { run: run::<C> }, commit: Some(commit) };
    switch_away(i, Pending::Park(&mut rec as *mut Record<C> as *mut ParkCommit));
}

/// Parks the running goroutine `i`, which holds the spin lock whose flag is
/// `lock`; the park commits by releasing it (Go's `parkunlock`) once `i` is
/// off its stack, so whoever takes the lock next finds `i` parked.
///
/// # Safety
///
/// The caller holds that lock (its flag is true and is ours to clear), and
/// the lock outlives the park.
pub(crate) unsafe fn park_unlock(i: usize, lock: &AtomicBool) {
    switch_away(i, Pending::ParkUnlock(lock));
}

/// Commits a `park_unlock` of goroutine `g`, now off its stack: it is
/// `Waiting`, then the lock is released (after which a waker may ready it).
#[inline]
fn commit_park_unlock(m: &M, g: &G, flag: *const AtomicBool) {
    bump(&m.stats.parks);
    g.status.store(Status::Waiting as u32, Ordering::Release);
    // SAFETY: `park_unlock`'s caller held this lock when it parked, and the
    // lock outlives the parked goroutine's borrow of it.
    unsafe { (*flag).store(false, Ordering::Release) };
}

/// Ends the running goroutine `i`; its result is already stored.
pub(crate) fn goexit(i: usize) -> ! {
    switch_away(i, Pending::Exit);
    crate::error::fatal("goro: sched: dead goroutine resumed")
}

// ---- M side (g0) ----

/// What became of a goroutine that `execute` ran.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Yielded,
    Parked,
    Exited,
}

/// Runs goroutine `i` on M `mi` until a goroutine switches back to g0
/// (`i` itself, or one it or its successors switched to directly), and
/// carries out what that goroutine asked for; the outcome is about it.
pub(crate) fn execute(mi: usize, i: usize) -> Outcome {
    let m = &MS[mi];
    let mut run = i;
    let (outcome, who) = loop {
        let g = g_at(run);
        m.curg.store(run as u32 + 1, Ordering::Relaxed);
        g.status.store(Status::Running as u32, Ordering::Relaxed);
        g.m.store(mi as u32, Ordering::Relaxed);
        g.preempt.store(false, Ordering::Relaxed);
        bump(&m.stats.switches);
        // SAFETY: we are g0 of M `mi` on its own thread; `g.sp` is a context saved by goro_switch or built by
        // init_stack, of a goroutine running nowhere (taken from a run queue, or it just switched to us).
        let (pending, who) = unsafe {
            crate::arch::goro_switch(m.g0_sp.get(), g.sp.load(Ordering::Relaxed));
            (core::mem::replace(&mut *m.pending.get(), Pending::None), *m.pending_g.get())
        };
        let g = g_at(who);
        match pending {
            Pending::Yield => {
                bump(&m.stats.yields);
                g.status.store(Status::Runnable as u32, Ordering::Relaxed);
                let p = m.p.load(Ordering::Relaxed);
                if p == NO_P {
                    global_put(who);
                } else {
                    PS[p as usize].put(who, false);
                }
                break (Outcome::Yielded, who);
            }
            Pending::Park(rec) => {
                bump(&m.stats.parks);
                g.status.store(Status::Waiting as u32, Ordering::Release);
                // SAFETY: `rec` is the commit record `park` left on the
                // goroutine's stack, which is suspended and stays put.
                if unsafe { ((*rec).run)(rec, who) } {
                    break (Outcome::Parked, who);
                }
                // A wake-up beat the commit: run the goroutine again now.
                if g.status.swap(Status::Running as u32, Ordering::AcqRel) != Status::Waiting as u32 {
                    crate::error::fatal("goro: sched: failed commit of a goroutine someone readied");
                }
                run = who;
            }
            Pending::ParkUnlock(flag) => {
                commit_park_unlock(m, g, flag);
                break (Outcome::Parked, who);
            }
            Pending::Exit => {
                g.status.store(Status::Dead as u32, Ordering::Release);
                break (Outcome::Exited, who);
            }
            Pending::None => crate::error::fatal("goro: sched: goroutine switched to g0 with nothing pending"),
        }
    };
    m.curg.store(0, Ordering::Relaxed);
    if outcome == Outcome::Exited {
        crate::rt::on_exit(who);
    }
    outcome
}

/// Runs `entry(mi)` on M `mi`'s g0 stack (in the stack region); returns
/// to the calling thread's own stack when `entry` calls [`leave_g0`]. The
/// slot's pages must already be writable.
pub(crate) fn run_on_g0(mi: usize, entry: fn(usize) -> !) {
    let m = &MS[mi];
    m.g0_entry.store(entry as *const () as usize, Ordering::Relaxed);
    let top = REGION.slot_base(g0_slot(mi)) + REGION.slot_size();
    // SAFETY: the g0 slot of M `mi` belongs to this thread alone (one thread per M slot), its pages are writable, and
    // nothing runs on it now; the frame is built at its 16-aligned top.
    unsafe {
        let sp = crate::arch::init_stack(top & !15, g0_start, mi);
        crate::arch::goro_switch(m.native_sp.get(), sp);
    }
}

/// First code on an M's g0 stack (called by the arch trampoline).
///
/// # Safety
///
/// `mi` is the M whose `g0_entry` `run_on_g0` just stored.
unsafe extern "C" fn g0_start(mi: usize) -> ! {
    let f = MS[mi].g0_entry.load(Ordering::Relaxed);
    // SAFETY: `g0_entry` was stored from a `fn(usize) -> !` by `run_on_g0`.
    let f = unsafe { core::mem::transmute::<usize, fn(usize) -> !>(f) };
    f(mi)
}

/// Ends M `mi`'s g0 and resumes its thread's own stack (in `run_on_g0`).
pub(crate) fn leave_g0(mi: usize) -> ! {
    let m = &MS[mi];
    let mut dead = 0usize;
    // SAFETY: called on M `mi`'s g0, which `run_on_g0` entered from the
    // native stack whose sp it saved; the g0 context is abandoned.
    unsafe { crate::arch::goro_switch(&mut dead, *m.native_sp.get()) };
    crate::error::fatal("goro: sched: dead g0 resumed")
}
