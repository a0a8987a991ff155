//! Scheduling policy (Go's `schedule` and `findRunnable`), runtime threads,
//! and goroutines locked to threads.
//!
//! Each M runs [`m_loop`]: find a runnable goroutine for its P, run it,
//! repeat. [`find_runnable`] looks, in order: due timers; the global queue
//! every 61st round (fairness); the P's own queue; the global queue; a
//! non-blocking netpoll; stealing from other Ps (only while fewer than half
//! the busy Ps have spinning Ms). With nothing found, the M gives its P
//! back, and either becomes the one thread blocked in the netpoller (until
//! the next timer) or sleeps on its futex until `wakep` hands it a P.

use super::{sysmon, Threads};
use crate::netpoll;
use crate::sched::{self, GList, MAX_M, MS, NO_P, PS, SCHED};
use crate::stack::{AltStack, REGION};
use crate::sys;
use crate::time;
use crate::Error;
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};

/// Thread slot of sysmon (after the M slots).
const SYSMON: usize = MAX_M;

static G0_READY: [AtomicBool; MAX_M] = [const { AtomicBool::new(false) }; MAX_M];

/// The stack region was replaced: g0 stacks must be committed again.
pub(super) fn forget_g0_stacks() {
    for r in &G0_READY {
        r.store(false, Ordering::Relaxed);
    }
}

/// Makes M `mi`'s g0 stack writable (once per region).
pub(super) fn commit_g0(mi: usize) -> Result<(), Error> {
    if !G0_READY[mi].load(Ordering::Acquire) {
        REGION.commit(sched::g0_slot(mi))?;
        G0_READY[mi].store(true, Ordering::Release);
    }
    Ok(())
}

static SOURCE: AtomicU32 = AtomicU32::new(0);

/// Chooses where new threads come from.
pub(super) fn set_thread_source(t: Threads) {
    SOURCE.store(t as u32, Ordering::Relaxed);
    // A new runtime starts with no thread locked (Ms are reset with it).
    LOCKED.store(0, Ordering::Relaxed);
    sched::set_spawner(match t {
        Threads::Donated => None,
        _ => Some(spawn_thread),
    });
}

/// Starts a thread for slot `slot` (an M, or sysmon).
fn spawn_thread(slot: usize) -> bool {
    if slot < MAX_M && commit_g0(slot).is_err() {
        return false;
    }
    if SOURCE.load(Ordering::Relaxed) == Threads::Std as u32 {
        return spawn_std(slot);
    }
    sys::thread::spawn(slot, clone_main, slot)
}

#[cfg(feature = "std")]
fn spawn_std(slot: usize) -> bool {
    std::thread::Builder::new()
        .name(if slot == SYSMON { "goro-sysmon".into() } else { std::format!("goro-m{slot}") })
        .stack_size(128 * 1024)
        .spawn(move || thread_main(slot))
        .is_ok()
}

#[cfg(not(feature = "std"))]
fn spawn_std(_slot: usize) -> bool {
    false
}

extern "C" fn clone_main(slot: usize) {
    thread_main(slot);
}

/// First code of every runtime thread, on its own native stack.
fn thread_main(slot: usize) {
    let _alt = AltStack::ensure();
    if slot == SYSMON {
        sysmon::run();
    } else {
        sched::run_on_g0(slot, m_entry);
    }
    sched::thread_exited();
}

/// g0 entry of a started M: wait to be handed a P, then schedule.
fn m_entry(mi: usize) -> ! {
    if sched::wait_for_p(mi).is_some() {
        m_loop(mi);
    }
    sched::leave_g0(mi)
}

/// g0 entry of M 0 (the thread that called `run`, which holds P 0).
pub(super) fn m0_entry(_: usize) -> ! {
    m_loop(0);
    sched::leave_g0(0)
}

/// g0 entry of a donated thread: look for work with an idle P if there is
/// one (work may be queued already), else idle until handed a P.
fn donated_entry(mi: usize) -> ! {
    let p = match sched::pidle_get() {
        Some(p) => {
            MS[mi].p.store(p, Ordering::Release);
            Some(p)
        }
        None => sched::stop_m(mi),
    };
    if p.is_some() {
        m_loop(mi);
    }
    sched::leave_g0(mi)
}

/// Starts sysmon (and with it the schedtrace, if asked for) unless the
/// runtime has no threads of its own.
pub(super) fn start_sysmon(schedtrace_ms: u32) {
    sysmon::configure(schedtrace_ms);
    if SOURCE.load(Ordering::Relaxed) == Threads::Donated as u32 {
        return;
    }
    SCHED.mlive.fetch_add(1, Ordering::SeqCst);
    if !spawn_thread(SYSMON) {
        SCHED.mlive.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Gives the calling host thread to the running runtime as one more M: it
/// runs goroutines until the runtime stops, then returns. Fails if no
/// runtime is running or every M slot is taken.
pub fn donate_thread() -> Result<(), Error> {
    if sched::current_m().is_some() {
        return Err(Error::InvalidConfig("donate_thread called from inside the runtime"));
    }
    if !sched::has_arena() || sched::stopping() {
        return Err(Error::InvalidConfig("no goro runtime is running"));
    }
    let mi = sched::claim_m().ok_or(Error::InvalidConfig("every M slot is in use (64)"))?;
    let r = commit_g0(mi).and_then(|_| AltStack::ensure());
    match r {
        Ok(_alt) => {
            sched::run_on_g0(mi, donated_entry);
            sched::thread_exited();
            Ok(())
        }
        Err(e) => {
            sched::thread_exited();
            Err(e)
        }
    }
}

/// Go's `schedule` loop for M `mi` (which holds a P).
fn m_loop(mi: usize) {
    let m = &MS[mi];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (mi as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    loop {
        // A goroutine handed over with a P (to a locked M). Load first: the
        // swap (an atomic read-modify-write) is rarely needed.
        let handed = if m.nextg.load(Ordering::Acquire) != 0 { m.nextg.swap(0, Ordering::AcqRel) } else { 0 };
        let g = if handed != 0 {
            handed as usize - 1
        } else {
            match find_runnable(mi, &mut rng) {
                Some(g) => g,
                None => return,
            }
        };
        if m.spinning.load(Ordering::Relaxed) {
            reset_spinning(mi);
        }
        // A goroutine locked to another M runs there: hand it our P.
        let lm = sched::g_at(g).lockedm.load(Ordering::Acquire);
        if lm != 0 && lm as usize - 1 != mi {
            let p = m.p.swap(NO_P, Ordering::AcqRel);
            sched::start_locked_m(lm as usize - 1, p, g);
            if sched::stop_m(mi).is_none() {
                return;
            }
            continue;
        }
        let out = sched::execute(mi, g);
        if m.lockedg.load(Ordering::Acquire) != 0 && out != sched::Outcome::Exited {
            // Our locked goroutine is parked or queued: give the P away
            // and wait until it is handed back to us with a P.
            let p = m.p.swap(NO_P, Ordering::AcqRel);
            sched::handoff_p(p);
            if sched::wait_for_p(mi).is_none() {
                return;
            }
        }
    }
}

fn reset_spinning(mi: usize) {
    MS[mi].spinning.store(false, Ordering::Relaxed);
    if SCHED.nmspinning.fetch_sub(1, Ordering::SeqCst) == 1 {
        // We were the last spinner and found work: there may be more.
        sched::wakep();
    }
}

/// Go's `findRunnable`. Returns `None` only when the runtime stops.
fn find_runnable(mi: usize, rng: &mut Rng) -> Option<usize> {
    let m = &MS[mi];
    let mut ready = GList::new();
    loop {
        if sched::stopping() {
            release_p(mi);
            return None;
        }
        let p = m.p.load(Ordering::Relaxed);
        let pp = &PS[p as usize];
        let nprocs = SCHED.nprocs.load(Ordering::Relaxed) as usize;
        if time::next_when().is_some_and(|w| w <= time::nanotime()) {
            time::run_due(time::nanotime());
        }
        // Only the P's owner writes schedtick (sysmon reads it).
        let tick = pp.schedtick.load(Ordering::Relaxed);
        pp.schedtick.store(tick.wrapping_add(1), Ordering::Relaxed);
        // Cleared whether or not the queue still holds anything (another P
        // may have emptied it): a flag left set would send every switch
        // through g0.
        let due = SCHED.global_due.load(Ordering::Relaxed);
        if due {
            SCHED.global_due.store(false, Ordering::Relaxed);
        }
        if (tick.is_multiple_of(61) || due) && SCHED.global.len() > 0 {
            if let Some(g) = sched::global_get(pp, nprocs, 1) {
                return Some(g);
            }
        }
        if let Some(g) = pp.get() {
            return Some(g);
        }
        if let Some(g) = sched::global_get(pp, nprocs, usize::MAX) {
            return Some(g);
        }
        // Non-blocking poll, unless a thread is blocked in the poller. With
        // one P there is nobody to steal from, so finding nothing here
        // would lead straight to the blocking poll below: go there at once
        // (it returns at once too if events are pending), one system call
        // instead of two per idle round.
        if nprocs > 1 && !sched::someone_polling() && netpoll::netpoll(0, &mut ready) > 0 {
            if let Some(g) = inject(&mut ready, true) {
                return Some(g);
            }
        }
        // Steal, if not too many Ms are already spinning.
        let busy = nprocs as u32 - SCHED.npidle.load(Ordering::SeqCst);
        if m.spinning.load(Ordering::Relaxed) || 2 * SCHED.nmspinning.load(Ordering::SeqCst) < busy {
            if !m.spinning.load(Ordering::Relaxed) {
                m.spinning.store(true, Ordering::Relaxed);
                SCHED.nmspinning.fetch_add(1, Ordering::SeqCst);
            }
            if let Some(g) = steal_work(p, nprocs, rng) {
                return Some(g);
            }
        }
        // Nothing to do: give up the P.
        if SCHED.global.len() > 0 {
            if let Some(g) = sched::global_get(pp, nprocs, usize::MAX) {
                return Some(g);
            }
        }
        release_p(mi);
        let was_spinning = m.spinning.swap(false, Ordering::Relaxed);
        if was_spinning {
            SCHED.nmspinning.fetch_sub(1, Ordering::SeqCst);
            // Work may have been queued after we looked but before we
            // stopped counting as spinning: look once more.
            if work_anywhere(nprocs) {
                if let Some(p) = sched::pidle_get() {
                    m.p.store(p, Ordering::Release);
                    m.spinning.store(true, Ordering::Relaxed);
                    SCHED.nmspinning.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
            }
        }
        // Become the poller if nobody is, and sleep there until the next
        // timer or until woken.
        if !sched::someone_polling() && become_poller() {
            let mut delay = match time::next_when() {
                Some(w) => (w - time::nanotime()).max(0),
                None => -1,
            };
            if SOURCE.load(Ordering::Relaxed) == Threads::Donated as u32
                && SCHED.npidle.load(Ordering::SeqCst) < nprocs as u32
            {
                // No sysmon: stand in for its backstop (see BACKSTOP_NS).
                delay = if delay < 0 { BACKSTOP_NS } else { delay.min(BACKSTOP_NS) };
            }
            if !sched::stopping() && SCHED.global.len() == 0 && !spin_before_sleep(delay) {
                let before = ready.len();
                netpoll::netpoll(delay, &mut ready);
                let got = ready.len() - before;
                let hot = if got >= 2 { HOT_POLLS } else { HOT.load(Ordering::Relaxed).saturating_sub(1) };
                HOT.store(hot, Ordering::Relaxed);
            }
            sched::set_polling(false);
            if time::next_when().is_some_and(|w| w <= time::nanotime()) {
                time::run_due(time::nanotime()); // we hold no P: they go global
            }
            if let Some(p) = sched::pidle_get() {
                m.p.store(p, Ordering::Release);
                if let Some(g) = inject(&mut ready, true) {
                    return Some(g);
                }
                continue;
            }
            inject(&mut ready, false);
        }
        sched::stop_m(mi)?;
        let g = m.nextg.swap(0, Ordering::AcqRel);
        if g != 0 {
            return Some(g as usize - 1);
        }
    }
}

/// How long the poller sleeps at most while some P is busy, when there is
/// no sysmon (`Threads::Donated`). A goroutine queued on a busy P can miss
/// its wake-up: the `ready` that queued it read "no idle P" or "an M is
/// spinning" before this M gave its P back, and this M's last look at the
/// run queues came before the queued goroutine became visible to it (a
/// store-load race that only a fence on every `ready` would close). With
/// other thread sources, sysmon wakes an M for a P that has queued work
/// but has not scheduled for a round; without it, the poller wakes up,
/// looks for work (stealing it from the busy P) and polls again.
const BACKSTOP_NS: i64 = 10_000_000;

/// Blocking polls left before the poller stops spinning first: reset to
/// `HOT_POLLS` by a poll that readied two goroutines or more (the poller's
/// own wake-ups, `netpoll_break`, do not count), decremented by any other.
static HOT: AtomicU32 = AtomicU32::new(0);
const HOT_POLLS: u32 = 8;

/// How long the poller spins before a blocking poll while `HOT`, in ns
/// (`Config::poll_spin`, default 20 us; 0: never). At 1 P, 100 connections
/// x 64 B, alternated runs gave 2.013 to 2.044 system calls per round trip
/// with 12 us, 2.014 to 2.027 with 20 us and 2.013 to 2.019 with 30 us
/// (tokio 2.017 to 2.021), at the same round-trip rates.
static SPIN_NS: AtomicI64 = AtomicI64::new(0);

/// Spins started (`Stats::poll_spins`).
static SPINS: AtomicU64 = AtomicU64::new(0);

/// Sets the poll spin (ns) of a runtime about to start, whose poller starts
/// cold (no spin before a blocking poll has returned a batch).
pub(super) fn set_poll_spin(ns: i64) {
    SPIN_NS.store(ns, Ordering::Relaxed);
    HOT.store(0, Ordering::Relaxed);
}

/// Spins the poller started, ever.
pub(super) fn spins() -> u64 {
    SPINS.load(Ordering::Relaxed)
}

/// Before a blocking poll while the load has concurrency (one of the last
/// `HOT_POLLS` blocking polls readied two goroutines or more), waits up to
/// `SPIN_NS` without a system call. Readiness that arrives meanwhile is
/// then collected by a poll that does not sleep. Without the wait, a
/// server faster than its clients catches up after every few messages,
/// sleeps in `epoll_pwait`, and is woken for the next one or two: more
/// polls per message, and a cross-CPU wake-up that the thread writing to
/// us pays for. A lone connection, or an idle runtime, stops spinning after
/// `HOT_POLLS` polls (each readies one goroutine or none), so this costs at
/// most `SPIN_NS` of CPU per blocking poll under concurrent load, and an
/// event that arrives during the spin waits for its end. Returns true if
/// work arrived meanwhile (the global queue filled, or the runtime is
/// stopping): then the caller skips the poll and looks for work again.
fn spin_before_sleep(delay: i64) -> bool {
    let spin = SPIN_NS.load(Ordering::Relaxed);
    if spin == 0 || HOT.load(Ordering::Relaxed) == 0 {
        return false;
    }
    SPINS.fetch_add(1, Ordering::Relaxed);
    let budget = if delay < 0 { spin } else { delay.min(spin) };
    let t0 = time::nanotime();
    while time::nanotime() - t0 < budget {
        if SCHED.global.len() > 0 || sched::stopping() {
            return true;
        }
        core::hint::spin_loop();
    }
    false
}

fn become_poller() -> bool {
    sched::try_become_poller()
}

/// Makes the goroutines the netpoller returned runnable; with `take_one`,
/// returns the first to run at once on the caller's P.
fn inject(list: &mut GList, take_one: bool) -> Option<usize> {
    if list.is_empty() {
        return None;
    }
    netpoll::count_injected(list.len());
    let first = if take_one { list.pop() } else { None };
    if let Some(g) = first {
        sched::make_runnable_status(g);
    }
    sched::ready_list(list);
    first
}

fn release_p(mi: usize) {
    let p = MS[mi].p.swap(NO_P, Ordering::AcqRel);
    if p != NO_P {
        sched::pidle_put(p);
    }
}

fn work_anywhere(nprocs: usize) -> bool {
    SCHED.global.len() > 0 || PS[..nprocs].iter().any(|p| !p.is_empty())
}

/// Steals from the other Ps in a random order, four rounds at most.
fn steal_work(me: u32, nprocs: usize, rng: &mut Rng) -> Option<usize> {
    if nprocs < 2 {
        return None;
    }
    for round in 0..4 {
        let start = rng.next() as usize % nprocs;
        let stride = coprime_stride(nprocs, rng);
        let mut i = start;
        for _ in 0..nprocs {
            if i != me as usize {
                if let Some(g) = PS[me as usize].steal_from(&PS[i], round == 3) {
                    return Some(g);
                }
            }
            i = (i + stride) % nprocs;
        }
    }
    None
}

/// A stride coprime to `n`, so `start + k*stride mod n` visits every P.
fn coprime_stride(n: usize, rng: &mut Rng) -> usize {
    loop {
        let s = 1 + rng.next() as usize % n;
        if gcd(s, n) == 1 {
            return s;
        }
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// xorshift64*: victim order for stealing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Threads locked to a goroutine (`lock_os_thread`).
static LOCKED: AtomicU32 = AtomicU32::new(0);

/// Locks the calling goroutine to its current thread, as Go's
/// `runtime.LockOSThread`: until [`unlock_os_thread`], it runs only on
/// this thread and the thread runs nothing else (for thread-local state
/// such as a signal mask or a namespace). Locking again is a no-op.
///
/// Fails with [`Error::NotInGoroutine`] outside a goroutine, and with
/// [`Error::ArenaFull`] when fewer than one thread per P plus one would be
/// left unlocked: a runtime has at most 64 threads (with
/// `Threads::Donated`, the caller of `run` and the donated ones), and a
/// locked thread runs nothing but its goroutine. With every thread in use,
/// a P handed off by a parking goroutine can find no thread to run it and
/// timers stop firing: 63 locked goroutines that slept hung a 2-P runtime
/// every time, 62 never did in the runs made.
pub fn lock_os_thread() -> Result<(), Error> {
    let g = sched::current().ok_or(Error::NotInGoroutine)?;
    let gg = sched::g_at(g);
    if gg.lockedm.load(Ordering::Acquire) != 0 {
        return Ok(());
    }
    let threads = if SOURCE.load(Ordering::Relaxed) == Threads::Donated as u32 {
        SCHED.mcount.load(Ordering::SeqCst).min(MAX_M as u32)
    } else {
        MAX_M as u32
    };
    // Unlocked threads to keep: one per P, and one more.
    let keep = SCHED.nprocs.load(Ordering::Relaxed) + 1;
    let most = threads.saturating_sub(keep);
    LOCKED.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < most).then_some(n + 1)).map_err(|_| {
        Error::ArenaFull {
            what: "threads: lock_os_thread would leave fewer than one per P plus one for the other goroutines \
                   (64 threads at most; with Threads::Donated, donate more)",
            capacity: most as usize,
        }
    })?;
    let mi = gg.m.load(Ordering::Relaxed) as usize;
    MS[mi].lockedg.store(g as u32 + 1, Ordering::Release);
    gg.lockedm.store(mi as u32 + 1, Ordering::Release);
    Ok(())
}

/// Undoes [`lock_os_thread`].
pub fn unlock_os_thread() -> Result<(), Error> {
    let g = sched::current().ok_or(Error::NotInGoroutine)?;
    let gg = sched::g_at(g);
    let lm = gg.lockedm.swap(0, Ordering::AcqRel);
    if lm != 0 {
        MS[lm as usize - 1].lockedg.store(0, Ordering::Release);
        LOCKED.fetch_sub(1, Ordering::AcqRel);
    }
    Ok(())
}

/// A locked goroutine that exits releases its thread.
pub(super) fn unlock_on_exit(g: usize) {
    let locked = &sched::g_at(g).lockedm;
    // Load first: the swap (an atomic read-modify-write) is rarely needed.
    if locked.load(Ordering::Acquire) == 0 {
        return;
    }
    let lm = locked.swap(0, Ordering::AcqRel);
    if lm != 0 {
        MS[lm as usize - 1].lockedg.store(0, Ordering::Release);
        LOCKED.fetch_sub(1, Ordering::AcqRel);
    }
}
