//! sysmon: the monitor thread (Go's `sysmon`), without a P.
//!
//! It sleeps 20 us, doubling after 1 ms of rounds without a preemption
//! request up to 10 ms (back to 20 us after one, as Go's sysmon), and
//! sleeps deeply (futex, no timeout) while every P is idle until one is
//! taken off the idle list (`sched::pidle_get`, `start_m`). Each round it:
//! - polls the network without blocking if nobody has for 10 ms, and makes
//!   what is ready runnable (the fallback when every P is busy);
//! - fires overdue timers;
//! - asks goroutines that have run 10 ms without reaching a yield point to
//!   yield at their next one (the request is counted in stats);
//! - wakes an M to steal goroutines queued on a P that has not scheduled
//!   since the last round while another P is idle;
//! - prints the schedtrace line when one is due.

use crate::netpoll;
use crate::sched::{self, GList, MAX_M, MS, PS, SCHED};
use crate::sys::{self, futex};
use crate::time;
use core::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

static TICKS: AtomicU64 = AtomicU64::new(0);
static POLLS: AtomicU64 = AtomicU64::new(0);
static TRACE_MS: AtomicU32 = AtomicU32::new(0);

/// (rounds, fallback polls) since the process started.
pub(crate) fn counters() -> (u64, u64) {
    (TICKS.load(Ordering::Relaxed), POLLS.load(Ordering::Relaxed))
}

pub(super) fn configure(schedtrace_ms: u32) {
    TRACE_MS.store(schedtrace_ms, Ordering::Relaxed);
}

const MS_NS: i64 = 1_000_000;
const FORCE_POLL: i64 = 10 * MS_NS;
const PREEMPT_AFTER: i64 = 10 * MS_NS;

/// Per-P observation for the long-runner check.
struct Seen {
    tick: AtomicU32,
    since: AtomicI64,
}

static SEEN: [Seen; MAX_M] = [const { Seen { tick: AtomicU32::new(0), since: AtomicI64::new(0) } }; MAX_M];

pub(super) fn run() {
    let start = time::nanotime();
    let trace_ns = i64::from(TRACE_MS.load(Ordering::Relaxed)) * MS_NS;
    let mut next_trace = if trace_ns > 0 { start + trace_ns } else { i64::MAX };
    let mut idle_rounds: u32 = 0;
    let mut delay_us: i64 = 20;
    for s in &SEEN {
        s.tick.store(0, Ordering::Relaxed);
        s.since.store(start, Ordering::Relaxed);
    }
    let mut ready = GList::new();
    while !sched::stopping() {
        delay_us = if idle_rounds < 50 { 20 } else { (delay_us * 2).min(10_000) };
        let nprocs = SCHED.nprocs.load(Ordering::Relaxed);
        if trace_ns == 0 && SCHED.npidle.load(Ordering::SeqCst) == nprocs {
            // Every P idle: sleep until start_m wakes us (or shutdown).
            SCHED.sysmon_note.store(0, Ordering::SeqCst);
            SCHED.sysmon_sleeping.store(true, Ordering::SeqCst);
            if SCHED.npidle.load(Ordering::SeqCst) == nprocs && !sched::stopping() {
                // The poller sleeps until the next timer; as a safety net
                // (as Go's sysmon does) wake for it too.
                match time::next_when() {
                    Some(w) => futex::wait_timeout(&SCHED.sysmon_note, 0, (w - time::nanotime()).max(1)),
                    None => futex::wait(&SCHED.sysmon_note, 0),
                }
            }
            SCHED.sysmon_sleeping.store(false, Ordering::SeqCst);
            // Fall through: one round after the usual delay (it fires a
            // timer that woke us). The backed-off delay is kept: a server
            // whose Ps go idle between bursts wakes sysmon at every burst,
            // and a 20 us cadence after each would cost it a few percent of
            // a CPU; what sysmon watches for (10 ms without a poll or a
            // schedule) needs no finer cadence.
        }
        sys::thread_sleep(delay_us * 1000);
        TICKS.fetch_add(1, Ordering::Relaxed);
        let mut readied = false;
        let now = time::nanotime();
        // Network fallback: nobody polled for 10 ms.
        let last = SCHED.lastpoll.load(Ordering::SeqCst);
        if last != 0 && now - last > FORCE_POLL {
            SCHED.lastpoll.store(now, Ordering::SeqCst);
            POLLS.fetch_add(1, Ordering::Relaxed);
            if netpoll::netpoll(0, &mut ready) > 0 && !ready.is_empty() {
                netpoll::count_injected(ready.len());
                readied = true;
                sched::ready_list(&mut ready); // no P here: global queue
            }
        }
        if time::next_when().is_some_and(|w| w <= now) {
            readied |= time::run_due(now) > 0;
        }
        // What we readied went to the global queue; with every P busy
        // (goroutines that reach a yield point only when preempted, every
        // 10 ms) its every-61st look would leave it waiting for about 0.6 s.
        // (Only then: goroutines that overflowed a ring keep their turn,
        // and one P's schedule stays a function of the program.)
        if readied && SCHED.npidle.load(Ordering::SeqCst) == 0 {
            SCHED.global_due.store(true, Ordering::Relaxed);
        }
        // As Go's sysmon: only a preemption request brings back the fast
        // cadence. A fallback poll that found work (every 10 ms on a server
        // whose Ps never run dry) does not: 20 us rounds after each would
        // cost it a few percent of a CPU for nothing.
        let did = retake(now, nprocs as usize);
        if now >= next_trace {
            super::trace::print(now - start);
            next_trace = now + trace_ns;
        }
        idle_rounds = if did { 0 } else { idle_rounds.saturating_add(1) };
    }
}

/// Flags goroutines that have held their P for 10 ms without a schedule,
/// and wakes an M for work stranded behind one. Returns whether it did
/// either (sysmon then keeps its fast cadence).
fn retake(now: i64, nprocs: usize) -> bool {
    let mut any = false;
    for (i, p) in PS[..nprocs].iter().enumerate() {
        let tick = p.schedtick.load(Ordering::Relaxed);
        let seen = &SEEN[i];
        if seen.tick.load(Ordering::Relaxed) != tick {
            seen.tick.store(tick, Ordering::Relaxed);
            seen.since.store(now, Ordering::Relaxed);
            continue;
        }
        // No schedule on this P since the last round, yet goroutines wait
        // in its queue while another P idles with nobody looking for work:
        // its M is stuck in one goroutine (computing, or in a blocking
        // system call goro does not see). Readying I/O waiters wakes no
        // helper for a lone goroutine (`sched::ready_list`); this does,
        // within a round, and a spinning M steals it.
        if !p.is_empty() && SCHED.npidle.load(Ordering::SeqCst) > 0 && SCHED.nmspinning.load(Ordering::SeqCst) == 0 {
            sched::wakep();
            any = true;
        }
        if now - seen.since.load(Ordering::Relaxed) < PREEMPT_AFTER {
            continue;
        }
        // Same schedule round for 10 ms: if a goroutine runs, ask it to yield.
        if let Some(m) = MS.iter().find(|m| m.p.load(Ordering::Relaxed) == i as u32) {
            let g = m.curg.load(Ordering::Relaxed);
            if g != 0 {
                let gg = sched::g_at(g as usize - 1);
                if !gg.preempt.swap(true, Ordering::Relaxed) {
                    SCHED.preempt_requests.fetch_add(1, Ordering::Relaxed);
                    any = true;
                }
                seen.since.store(now, Ordering::Relaxed);
            }
        }
    }
    any
}
