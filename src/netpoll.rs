//! The netpoller: poll descriptors, the per-direction wait semaphores, the
//! epoll backend, deadlines, and `netpoll_break`. (Go: `runtime/netpoll.go`
//! and `netpoll_epoll.go`.)
//!
//! # The rg/wg state machine (one per direction of each descriptor)
//!
//! ```text
//!  NIL ----I/O readiness----> READY   (sticky: a notification nobody waited for is kept)
//!  READY --waiter consumes--> NIL     (wait returns at once, no park)
//!  NIL ----waiter announces--> WAIT   (then re-checks close/deadline, then parks)
//!  WAIT ---commit (on g0, after the goroutine is off its stack)--> G
//!  WAIT ---readiness before commit--> READY  (commit fails: goroutine runs again)
//!  WAIT ---close/timeout before commit--> NIL (commit fails; goroutine sees the error)
//!  G ------readiness--> READY + ready(G);   G --close/timeout--> NIL + ready(G)
//! ```
//!
//! Only one goroutine may wait per direction (the poll layer's read and
//! write locks guarantee it; a second is a fatal "double wait").
//! Close and deadline expiry publish their state (`info`) *before* reading
//! rg/wg, and a waiter publishes WAIT *before* re-checking `info`, so one of
//! the two always sees the other and no wake-up is lost.
//!
//! # Descriptors
//!
//! `PollDesc`s live in the runtime's fixed arena, never freed, reused with a
//! new generation. The epoll data word is the descriptor's arena handle
//! (index and generation); an event carrying an older generation belongs to
//! a closed fd and is dropped. The wake-up eventfd uses a reserved index in
//! the same encoding. Each fd is registered once, edge-triggered, for both
//! directions, and never modified.

use crate::arena::{ArenaCell, Handle, RawArena};
use crate::sched::{self, GList};
use crate::sys::{self, epoll, AsFd, Errno};
use crate::time::{self, Timer};
use crate::Error;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Which direction of a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Read,
    Write,
}

// rg/wg values; a parked goroutine with arena index i is stored as i + G_BASE.
const PD_NIL: usize = 0;
const PD_READY: usize = 1;
const PD_WAIT: usize = 2;
const G_BASE: usize = 3;

// `info` bits: a lock-free summary of the locked state, for the fast path.
const INFO_CLOSING: u32 = 1;
const INFO_R_EXPIRED: u32 = 2;
const INFO_W_EXPIRED: u32 = 4;

/// What bounds a direction's waits: the user's deadline and the current
/// operation's timeout (absolute ns; 0: none). The armed deadline is the
/// earlier of the two, so setting one never drops the other, whoever sets
/// it and whenever (a deadline changed while a read with a timeout is
/// parked keeps the read's timeout).
#[derive(Clone, Copy)]
struct Limits {
    deadline: i64,
    op: i64,
}

impl Limits {
    const NONE: Limits = Limits { deadline: 0, op: 0 };

    fn earliest(self) -> i64 {
        match (self.deadline, self.op) {
            (0, x) | (x, 0) => x,
            (a, b) => a.min(b),
        }
    }
}

/// Which limit [`set_deadline`] sets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Limit {
    /// `set_read_deadline` / `set_write_deadline`.
    Deadline,
    /// The running operation's timeout (`set_read_timeout`, ...).
    Op,
}

/// State changed only under `PollDesc::lock`.
struct Locked {
    closing: bool,
    /// Armed deadlines (the earlier of the limits): 0 none, -1 expired,
    /// else absolute ns.
    rd: i64,
    wd: i64,
    rlim: Limits,
    wlim: Limits,
    /// Bumped on every deadline change and on close: a timer carrying an
    /// older sequence number is stale.
    rseq: u32,
    wseq: u32,
}

/// One per open pollable fd.
pub(crate) struct PollDesc {
    /// The fd, fixed while the descriptor is in use.
    pub(crate) fd: AtomicI32,
    rg: AtomicUsize,
    wg: AtomicUsize,
    /// `INFO_*` bits, recomputed from `lock`'s state by `publish`.
    info: AtomicU32,
    lock: spin::Mutex<Locked>,
    rt: Timer,
    wt: Timer,
    /// Read-readiness events delivered so far (the short-read guard: see
    /// `poll::Fd::read`). Written by the poller, read by the reader.
    pub(crate) rev: AtomicU32,
    /// `rev` as it was before the last short read; valid if `drained`.
    pub(crate) drained_at: AtomicU32,
    pub(crate) drained: AtomicBool,
    /// A read event carried RDHUP, HUP or ERR (end of stream or an error
    /// is pending and will not raise another edge) or PRI (TCP urgent
    /// data: a read stops short at the urgent mark with bytes queued behind
    /// it). Either way a short read no longer means drained, so reads never
    /// skip the syscall again on this descriptor.
    pub(crate) no_skip: AtomicBool,
    /// The poll layer's reference count and locks (see `poll`).
    pub(crate) fdmu: spin::Mutex<crate::poll::FdMu>,
}

impl PollDesc {
    /// A free descriptor. Every field starts as zero bytes (the fd's
    /// initial value is never read), so a `static` arena of descriptors is
    /// all zeros and lands in `.bss`: a freestanding image's file does not
    /// carry it (`tests-qemu` checks the echo image stays small).
    pub(crate) const fn new() -> Self {
        PollDesc {
            fd: AtomicI32::new(0),
            rg: AtomicUsize::new(PD_NIL),
            wg: AtomicUsize::new(PD_NIL),
            info: AtomicU32::new(0),
            lock: spin::Mutex::new(Locked {
                closing: false,
                rd: 0,
                wd: 0,
                rlim: Limits::NONE,
                wlim: Limits::NONE,
                rseq: 0,
                wseq: 0,
            }),
            rt: Timer::new(),
            wt: Timer::new(),
            rev: AtomicU32::new(0),
            drained_at: AtomicU32::new(0),
            drained: AtomicBool::new(false),
            no_skip: AtomicBool::new(false),
            fdmu: spin::Mutex::new(crate::poll::FdMu::new()),
        }
    }

    fn gpp(&self, mode: Mode) -> &AtomicUsize {
        match mode {
            Mode::Read => &self.rg,
            Mode::Write => &self.wg,
        }
    }

    /// Recomputes `info` from the locked state (call with the lock held).
    fn publish(&self, l: &Locked) {
        let mut b = 0;
        if l.closing {
            b |= INFO_CLOSING;
        }
        if l.rd < 0 {
            b |= INFO_R_EXPIRED;
        }
        if l.wd < 0 {
            b |= INFO_W_EXPIRED;
        }
        self.info.store(b, Ordering::SeqCst);
    }

    /// Closed, or the deadline for `mode` has passed (closing wins).
    pub(crate) fn check(&self, mode: Mode) -> Result<(), Error> {
        let info = self.info.load(Ordering::SeqCst);
        if info & INFO_CLOSING != 0 {
            return Err(Error::Closed);
        }
        let expired = match mode {
            Mode::Read => INFO_R_EXPIRED,
            Mode::Write => INFO_W_EXPIRED,
        };
        if info & expired != 0 {
            return Err(Error::TimedOut);
        }
        Ok(())
    }

    /// Go's `pollReset`: forget a stale readiness before trying the syscall
    /// (the syscall itself will tell whether the fd is ready).
    pub(crate) fn prepare(&self, mode: Mode) -> Result<(), Error> {
        self.check(mode)?;
        self.gpp(mode).store(PD_NIL, Ordering::SeqCst);
        Ok(())
    }

    /// Parks the running goroutine until `mode` is ready, the descriptor is
    /// closed, or the deadline passes. `Ok` can be spurious: retry the I/O.
    pub(crate) fn wait(&self, mode: Mode) -> Result<(), Error> {
        self.check(mode)?;
        let me = sched::current().ok_or(Error::NotInGoroutine)?;
        while !self.block(me, mode) {
            // Woken without readiness: closed or timed out, or a deadline
            // fired and was reset before we ran (then wait again).
            self.check(mode)?;
        }
        Ok(())
    }

    /// Go's `netpollblock`: true if readiness was consumed.
    fn block(&self, me: usize, mode: Mode) -> bool {
        let gpp = self.gpp(mode);
        loop {
            if gpp.compare_exchange(PD_READY, PD_NIL, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                return true;
            }
            if gpp.compare_exchange(PD_NIL, PD_WAIT, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                break;
            }
            let v = gpp.load(Ordering::Acquire);
            if v != PD_READY && v != PD_NIL {
                crate::fatal("goro: netpoll: double wait");
            }
        }
        // WAIT is published (SeqCst CAS above); re-check close and deadline.
        if self.check(mode).is_ok() {
            sched::park(me, |g| gpp.compare_exchange(PD_WAIT, G_BASE + g, Ordering::AcqRel, Ordering::Acquire).is_ok());
        }
        let old = gpp.swap(PD_NIL, Ordering::AcqRel);
        if old > PD_WAIT {
            crate::fatal("goro: netpoll: corrupted wait state");
        }
        old == PD_READY
    }

    /// Go's `netpollunblock`: notifies the `mode` waiter. With `ioready` the
    /// state becomes READY (kept if nobody waits); otherwise NIL. Returns the
    /// goroutine to make runnable, if one was parked.
    fn unblock(&self, mode: Mode, ioready: bool) -> Option<usize> {
        let gpp = self.gpp(mode);
        loop {
            let old = gpp.load(Ordering::Acquire);
            if old == PD_READY || (old == PD_NIL && !ioready) {
                return None;
            }
            let new = if ioready { PD_READY } else { PD_NIL };
            if gpp.compare_exchange(old, new, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                return (old >= G_BASE).then(|| old - G_BASE);
            }
        }
    }
}

// ---- the arena and the poller ----

struct Poller {
    ep: AtomicI32,
    efd: AtomicI32,
    /// A wake-up is in flight (0 -> 1 writes the eventfd; only a blocking
    /// poll clears it).
    wake_sig: AtomicU32,
    pds: ArenaCell<PollDesc>,
    /// Goroutines parked on descriptors, approximately (for idle decisions).
    waiters: AtomicI64,
}

static POLLER: Poller = Poller {
    ep: AtomicI32::new(-1),
    efd: AtomicI32::new(-1),
    wake_sig: AtomicU32::new(0),
    pds: ArenaCell::new(),
    waiters: AtomicI64::new(0),
};

/// epoll data word of the wake-up eventfd: a handle with an index no arena
/// can have.
const BREAK_DATA: u64 = u32::MAX as u64;

/// The descriptor arena of the running runtime.
#[inline]
pub(crate) fn pds() -> RawArena<'static, PollDesc> {
    POLLER.pds.get()
}

/// Whether a runtime has installed its descriptor arena (none has before
/// the process's first `run`).
pub(crate) fn installed() -> bool {
    POLLER.pds.is_set()
}

/// Makes `slots` the descriptor arena and creates the epoll instance and
/// wake-up eventfd (once per process; they outlive runtimes).
pub(crate) fn install(arena: RawArena<'static, PollDesc>) -> Result<(), Error> {
    // Goroutines of an earlier run that were abandoned parked on a
    // descriptor of this arena left their index in its semaphores: forget
    // them (those goroutines are gone; the handles to these descriptors
    // are stale since the arena was reset).
    for i in 0..arena.touched() {
        let pd = arena.at(i);
        pd.rg.store(PD_NIL, Ordering::Relaxed);
        pd.wg.store(PD_NIL, Ordering::Relaxed);
    }
    POLLER.pds.set(arena);
    POLLER.waiters.store(0, Ordering::Relaxed);
    if POLLER.ep.load(Ordering::Acquire) >= 0 {
        return Ok(());
    }
    let ep = epoll::create()?;
    let efd = epoll::eventfd()?;
    // Level-triggered: the eventfd stays readable until a blocking poll
    // drains it, so a break is never missed.
    epoll::add(ep.as_fd(), efd.as_fd(), BREAK_DATA, epoll::Flags::IN)?;
    POLLER.efd.store(sys::into_raw(efd), Ordering::Relaxed);
    POLLER.ep.store(sys::into_raw(ep), Ordering::Release);
    Ok(())
}

/// Timer id of a descriptor's read (or write) deadline timer.
fn timer_id(index: usize, mode: Mode) -> u32 {
    let base = sched::gs().capacity();
    (base + 2 * index + (mode == Mode::Write) as usize) as u32
}

/// Resolves descriptor timer ids (those from the goroutine capacity up).
pub(crate) fn timer_of(id: u32, gcap: usize) -> &'static Timer {
    let k = id as usize - gcap;
    let pd = pds().at(k / 2);
    if k.is_multiple_of(2) {
        &pd.rt
    } else {
        &pd.wt
    }
}

/// Registers `fd` with the poller and returns its descriptor handle.
pub(crate) fn open(fd: i32) -> Result<Handle, Error> {
    let arena = pds();
    let (h, pd) = arena.alloc().map_err(|e| Error::ArenaFull {
        what: "poll descriptors (open fds): raise MAX_FDS of the goro::Runtime<MAX_GOROUTINES, MAX_FDS> you run",
        capacity: e.capacity,
    })?;
    {
        let mut l = pd.lock.lock();
        if pd.rg.load(Ordering::Relaxed) > PD_WAIT || pd.wg.load(Ordering::Relaxed) > PD_WAIT {
            crate::fatal("goro: netpoll: blocked goroutine on a free descriptor");
        }
        pd.fd.store(fd, Ordering::Relaxed);
        l.closing = false;
        l.rd = 0;
        l.wd = 0;
        l.rlim = Limits::NONE;
        l.wlim = Limits::NONE;
        l.rseq = l.rseq.wrapping_add(1);
        l.wseq = l.wseq.wrapping_add(1);
        pd.rg.store(PD_NIL, Ordering::Relaxed);
        pd.wg.store(PD_NIL, Ordering::Relaxed);
        pd.rev.store(0, Ordering::Relaxed);
        pd.drained.store(false, Ordering::Relaxed);
        pd.no_skip.store(false, Ordering::Relaxed);
        pd.publish(&l);
    }
    let ep = epoll::borrow(POLLER.ep.load(Ordering::Acquire));
    // PRI as well as Go's set: TCP urgent data must switch off the
    // short-read shortcut (`PollDesc::no_skip`).
    let flags = epoll::Flags::IN | epoll::Flags::PRI | epoll::Flags::OUT | epoll::Flags::RDHUP | epoll::Flags::ET;
    if let Err(e) = epoll::add(ep, epoll::borrow(fd), h.to_u64(), flags) {
        arena.free(h);
        return Err(e.into());
    }
    Ok(h)
}

/// Go's `pollUnblock`: marks the descriptor closing and wakes both
/// waiters (they get `Closed`). The fd stays open and registered.
pub(crate) fn evict(h: Handle, out: &mut GList) {
    let Some(pd) = pds().get(h) else { return };
    {
        let mut l = pd.lock.lock();
        if l.closing {
            return;
        }
        l.closing = true;
        l.rseq = l.rseq.wrapping_add(1);
        l.wseq = l.wseq.wrapping_add(1);
        pd.publish(&l);
        for mode in [Mode::Read, Mode::Write] {
            if let Some(g) = pd.unblock(mode, false) {
                out.push(g);
            }
        }
    }
    time::disarm(timer_id(h.index(), Mode::Read));
    time::disarm(timer_id(h.index(), Mode::Write));
}

/// Go's `pollClose`: unregisters the fd and frees the descriptor. The caller
/// closes the fd afterwards (unregister first, so a reused fd number cannot
/// collide) and guarantees that nobody waits on it any more.
pub(crate) fn close(h: Handle) {
    let Some(pd) = pds().get(h) else { return };
    if !pd.lock.lock().closing {
        crate::fatal("goro: netpoll: close without evict");
    }
    if pd.rg.load(Ordering::Acquire) > PD_WAIT || pd.wg.load(Ordering::Acquire) > PD_WAIT {
        crate::fatal("goro: netpoll: close with a blocked goroutine");
    }
    let ep = epoll::borrow(POLLER.ep.load(Ordering::Acquire));
    let _ = epoll::delete(ep, epoll::borrow(pd.fd.load(Ordering::Relaxed)));
    pd.fd.store(-1, Ordering::Relaxed);
    pds().free(h);
}

/// The descriptor for `h`, if `h` is current.
pub(crate) fn get(h: Handle) -> Option<&'static PollDesc> {
    pds().get(h)
}

/// Sets the `mode` limit `which` to `at` (absolute ns; 0 = none) and arms
/// the earlier of the direction's two limits as its deadline (in the past
/// = expire now). Wakes the waiter (with `TimedOut`) if it expired.
pub(crate) fn set_deadline(h: Handle, mode: Mode, which: Limit, at: i64, out: &mut GList) -> Result<(), Error> {
    let Some(pd) = pds().get(h) else { return Err(Error::Closed) };
    let now = time::nanotime();
    let id = timer_id(h.index(), mode);
    let mut l = pd.lock.lock();
    if l.closing {
        return Err(Error::Closed);
    }
    let lim = match mode {
        Mode::Read => &mut l.rlim,
        Mode::Write => &mut l.wlim,
    };
    match which {
        Limit::Deadline => lim.deadline = at,
        Limit::Op => lim.op = at,
    }
    let deadline = lim.earliest();
    let d = if deadline == 0 {
        0
    } else if deadline <= now {
        -1
    } else {
        deadline
    };
    let seq = match mode {
        Mode::Read => {
            l.rd = d;
            l.rseq = l.rseq.wrapping_add(1);
            l.rseq
        }
        Mode::Write => {
            l.wd = d;
            l.wseq = l.wseq.wrapping_add(1);
            l.wseq
        }
    };
    pd.publish(&l);
    let earliest = if d > 0 {
        let f: time::TimerFn = match mode {
            Mode::Read => read_deadline_fired,
            Mode::Write => write_deadline_fired,
        };
        time::arm(id, d, f, h.to_u64() as usize, seq)
    } else {
        time::disarm(id);
        false
    };
    if d < 0 {
        if let Some(g) = pd.unblock(mode, false) {
            out.push(g);
        }
    }
    drop(l);
    if earliest {
        netpoll_break();
    }
    Ok(())
}

fn read_deadline_fired(arg: usize, seq: u32) {
    deadline_fired(arg, seq, Mode::Read);
}

fn write_deadline_fired(arg: usize, seq: u32) {
    deadline_fired(arg, seq, Mode::Write);
}

/// Timer callback: expire the deadline if the timer is still current.
fn deadline_fired(arg: usize, seq: u32, mode: Mode) {
    let Some(pd) = pds().get(Handle::from_u64(arg as u64)) else { return };
    let g = {
        let mut l = pd.lock.lock();
        let current = match mode {
            Mode::Read => l.rseq == seq && l.rd > 0,
            Mode::Write => l.wseq == seq && l.wd > 0,
        };
        if !current {
            return;
        }
        match mode {
            Mode::Read => l.rd = -1,
            Mode::Write => l.wd = -1,
        }
        pd.publish(&l);
        pd.unblock(mode, false)
    };
    if let Some(g) = g {
        sched::ready(g);
    }
}

static POLLS: AtomicU64 = AtomicU64::new(0);
static EVENTS: AtomicU64 = AtomicU64::new(0);
static INJECTED: AtomicU64 = AtomicU64::new(0);

/// (polls, events handled, goroutines injected) since the process started.
pub(crate) fn counters() -> (u64, u64, u64) {
    (POLLS.load(Ordering::Relaxed), EVENTS.load(Ordering::Relaxed), INJECTED.load(Ordering::Relaxed))
}

/// Counts goroutines made runnable from a poll.
pub(crate) fn count_injected(n: usize) {
    INJECTED.fetch_add(n as u64, Ordering::Relaxed);
}

/// Wakes a thread blocked in [`netpoll`] (at most one write in flight).
pub(crate) fn netpoll_break() {
    let efd = POLLER.efd.load(Ordering::Acquire);
    if efd < 0 || POLLER.wake_sig.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed).is_err() {
        return;
    }
    loop {
        match epoll::eventfd_signal(epoll::borrow(efd)) {
            Err(Errno::INTR) => continue,
            // EAGAIN: the counter is saturated, so the poller is signalled.
            _ => return,
        }
    }
}

/// Polls for I/O readiness: `delay_ns < 0` blocks, `0` does not block,
/// `> 0` waits up to that long (rounded up to whole milliseconds, never
/// down to 0). Goroutines made ready are appended to `out`; returns the
/// number of events handled.
pub(crate) fn netpoll(delay_ns: i64, out: &mut GList) -> usize {
    let ep = POLLER.ep.load(Ordering::Acquire);
    if ep < 0 {
        return 0;
    }
    let timeout_ms: i32 = if delay_ns < 0 {
        -1
    } else if delay_ns == 0 {
        0
    } else {
        // Round up: waking early would only make the caller poll again.
        (delay_ns.saturating_add(999_999) / 1_000_000).min(1_000_000_000) as i32
    };
    let mut buf = [const { core::mem::MaybeUninit::<epoll::Event>::uninit() }; 128];
    let events = loop {
        match epoll::wait(epoll::borrow(ep), &mut buf, timeout_ms) {
            Ok(evs) => break evs,
            // A signal: with a timeout, return so the caller recomputes it.
            Err(Errno::INTR) if timeout_ms > 0 => return 0,
            Err(Errno::INTR) => continue,
            Err(_) => crate::fatal("goro: netpoll: epoll_pwait failed"),
        }
    };
    let arena = pds();
    let n = events.len();
    POLLS.fetch_add(1, Ordering::Relaxed);
    EVENTS.fetch_add(n as u64, Ordering::Relaxed);
    for ev in events.iter() {
        // Copy out of the (packed on x86_64) event before use.
        let flags = ev.flags;
        let data = ev.data.u64();
        if flags.is_empty() {
            continue;
        }
        if data == BREAK_DATA {
            if delay_ns != 0 {
                // Only a blocking poll consumes the break; a non-blocking
                // one leaves it for the thread that is really asleep.
                epoll::eventfd_drain(epoll::borrow(POLLER.efd.load(Ordering::Relaxed)));
                POLLER.wake_sig.store(0, Ordering::Release);
            }
            continue;
        }
        let Some(pd) = arena.get(Handle::from_u64(data)) else { continue };
        use epoll::Flags as F;
        let read = flags.intersects(F::IN | F::PRI | F::RDHUP | F::HUP | F::ERR);
        let write = flags.intersects(F::OUT | F::HUP | F::ERR);
        if read {
            if flags.intersects(F::PRI | F::RDHUP | F::HUP | F::ERR) {
                pd.no_skip.store(true, Ordering::SeqCst);
            }
            pd.rev.fetch_add(1, Ordering::SeqCst);
            if let Some(g) = pd.unblock(Mode::Read, true) {
                out.push(g);
            }
        }
        if write {
            if let Some(g) = pd.unblock(Mode::Write, true) {
                out.push(g);
            }
        }
    }
    n
}
