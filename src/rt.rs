//! Start-up and configuration: [`Runtime`], [`Config`], [`run`], [`stats`].
//!
//! One runtime runs at a time in a process: `run` takes a process-wide lock
//! (threads that call it concurrently wait their turn). The goroutine arena
//! lives in the `Runtime` value, which the user may place in a `static` with
//! the capacity they need; `goro::run` uses a built-in default.

use crate::arena::{Arena, Slot};
use crate::g::G;
use crate::netpoll::{self, PollDesc};
use crate::sched::{self, GList, MS, SCHED};
use crate::stack::{self, AltStack, REGION};
use crate::sys;
use crate::sys::futex;
use crate::time::{self, Timer};
use crate::{spawn, Error};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use core::time::Duration;

/// Goroutine capacity of the default runtime used by [`run`].
pub const DEFAULT_MAX_GOROUTINES: usize = 10_000;
/// Poll-descriptor capacity (open sockets and other polled fds) of the
/// default runtime.
pub const DEFAULT_MAX_FDS: usize = 10_000;
/// Default stack slot per goroutine, guard page included (256 KiB).
/// Only the pages a goroutine touches use memory.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Runtime settings chosen at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Bytes per goroutine stack slot including its guard page: a power of
    /// two from 16 KiB to 1 GiB (other values are rounded up to one).
    pub stack_size: usize,
}

impl Config {
    /// The defaults.
    pub const fn new() -> Self {
        Config { stack_size: DEFAULT_STACK_SIZE }
    }

    /// Sets [`Config::stack_size`].
    pub const fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    fn slot_size(&self) -> Result<usize, Error> {
        if self.stack_size < 16 * 1024 || self.stack_size > 1 << 30 {
            return Err(Error::InvalidConfig("stack_size must be between 16 KiB and 1 GiB"));
        }
        Ok(self.stack_size.next_power_of_two())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

/// Storage for a runtime with room for `MAX_GOROUTINES` goroutines and
/// `MAX_FDS` open pollable fds (sockets).
///
/// ```no_run
/// static RT: goro::Runtime<100_000, 20_000> = goro::Runtime::new();
/// let sum = RT.run(goro::Config::new(), || 1 + 1).unwrap();
/// ```
pub struct Runtime<const MAX_GOROUTINES: usize = DEFAULT_MAX_GOROUTINES, const MAX_FDS: usize = DEFAULT_MAX_FDS> {
    gs: Arena<G, MAX_GOROUTINES>,
    pds: Arena<PollDesc, MAX_FDS>,
}

impl<const N: usize, const FDS: usize> Runtime<N, FDS> {
    /// An idle runtime (usable in a `static`; costs nothing until run).
    pub const fn new() -> Self {
        Runtime {
            gs: Arena::new([const { Slot::new(G::new()) }; N]),
            pds: Arena::new([const { Slot::new(PollDesc::new()) }; FDS]),
        }
    }

    /// Runs `main` as the first goroutine and returns its result once it
    /// returns; goroutines still alive then are abandoned without running
    /// their destructors, as a Go program's are at exit.
    ///
    /// If `main` panics (with the `std` feature) the panic resumes here.
    pub fn run<F, T>(&'static self, config: Config, main: F) -> Result<T, Error>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if sched::current().is_some() {
            return Err(Error::InvalidConfig("goro::run called from inside a goroutine"));
        }
        let slot = config.slot_size()?;
        let _lock = RunLock::acquire();
        stack::install_overflow_handler()?;
        let raw = self.gs.raw();
        if REGION.setup(N, slot, sched::goid_of)? {
            for i in 0..N {
                raw.at(i).stack_ready.store(false, Ordering::Relaxed);
            }
        }
        raw.reset();
        self.pds.raw().reset();
        sched::install(self.gs.raw());
        time::install(timer_of);
        netpoll::install(self.pds.raw())?;
        sched::set_poll_breaker(netpoll::netpoll_break);
        raise_fd_limit();
        let _alt = AltStack::ensure()?;
        let h = spawn::spawn_inner(main)?;
        MAIN.store(h.index(), Ordering::Relaxed);
        schedule(0);
        let r = h.join();
        raw.reset();
        self.pds.raw().reset();
        match r {
            Ok(v) => Ok(v),
            Err(e) => resume_panic(e),
        }
    }
}

impl<const N: usize, const FDS: usize> Default for Runtime<N, FDS> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "std")]
fn resume_panic(e: spawn::JoinError) -> ! {
    match e {
        spawn::JoinError::Panicked(p) => std::panic::resume_unwind(p.into_payload()),
        spawn::JoinError::Lost => crate::error::fatal("goro: run: main goroutine lost"),
    }
}

#[cfg(not(feature = "std"))]
fn resume_panic(_: spawn::JoinError) -> ! {
    crate::error::fatal("goro: run: main goroutine panicked")
}

/// Resolves a timer id: goroutine `i`'s timer is id `i`; poll descriptor
/// timers follow (see `netpoll::timer_of`).
fn timer_of(id: u32) -> &'static Timer {
    let gs = sched::gs();
    if (id as usize) < gs.capacity() {
        &gs.at(id as usize).timer
    } else {
        netpoll::timer_of(id, gs.capacity())
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, as Go does at start-up:
/// a network server should not stop at 1024 sockets.
fn raise_fd_limit() {
    if let (Some(cur), max) = sys::net::nofile_limit() {
        if max.is_none_or(|m| m > cur) {
            let _ = sys::net::set_nofile_limit(max, max);
        }
    }
}

/// Go's `schedule`/`findRunnable` for M `mi`: run timers, then goroutines;
/// when none is runnable, block in the netpoller until the next timer (or
/// until woken); poll the network now and then even while busy, so I/O
/// waiters are not starved by goroutines that keep yielding.
fn schedule(mi: usize) {
    let mut tick: u32 = 0;
    let mut ready = GList::new();
    while !sched::stopping() {
        if time::next_when().is_some() {
            time::run_due(time::nanotime());
        }
        tick = tick.wrapping_add(1);
        if tick % 61 == 0 && netpoll::inited() && netpoll::netpoll(0, &mut ready) > 0 {
            sched::ready_list(&mut ready);
        }
        if let Some(i) = sched::runq_get() {
            sched::execute(mi, i, on_exit);
            continue;
        }
        let delay = match time::next_when() {
            Some(w) => (w - time::nanotime()).max(0),
            None => -1,
        };
        if netpoll::inited() {
            sched::set_polling(true);
            // Re-check after announcing: work queued before the announcement
            // would not have interrupted the poll.
            if !sched::runq_nonempty() && !sched::stopping() {
                netpoll::netpoll(delay, &mut ready);
            }
            sched::set_polling(false);
            sched::ready_list(&mut ready);
        } else {
            sched::idle_sleep(delay);
        }
    }
}

/// Puts the calling goroutine to sleep for `d` (a thread outside the
/// runtime sleeps the whole thread).
pub fn sleep(d: Duration) {
    let Some(i) = sched::current() else {
        crate::sys::thread_sleep(time::dur_ns(d));
        return;
    };
    let when = time::nanotime().saturating_add(time::dur_ns(d));
    sched::park(i, |gi| {
        time::arm(gi as u32, when, wake_sleeper, gi, 0);
        true
    });
}

fn wake_sleeper(g: usize, _seq: u32) {
    sched::ready(g);
}

/// Arena slot of the main goroutine.
static MAIN: AtomicUsize = AtomicUsize::new(usize::MAX);

fn on_exit(i: usize) {
    spawn::on_exit(i);
    if i == MAIN.load(Ordering::Relaxed) {
        sched::stop();
    }
}

static DEFAULT: Runtime = Runtime::new();

/// Runs `main` on the default runtime ([`DEFAULT_MAX_GOROUTINES`]
/// goroutines, [`Config::new`] settings). See [`Runtime::run`].
pub fn run<F, T>(main: F) -> Result<T, Error>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    DEFAULT.run(Config::new(), main)
}

/// The process-wide "a runtime is running" lock (a futex mutex: waiters
/// sleep). 0 = free, 1 = held, 2 = held with waiters.
static RUN_LOCK: AtomicU32 = AtomicU32::new(0);

struct RunLock;

impl RunLock {
    fn acquire() -> RunLock {
        if RUN_LOCK.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            while RUN_LOCK.swap(2, Ordering::Acquire) != 0 {
                futex::wait(&RUN_LOCK, 2);
            }
        }
        RunLock
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if RUN_LOCK.swap(0, Ordering::Release) == 2 {
            futex::wake(&RUN_LOCK, 1);
        }
    }
}

/// Runtime counters, summed over all threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Goroutines whose slot is in use (running, waiting, or finished and
    /// not yet joined).
    pub goroutines_live: u64,
    /// Goroutines spawned since the process started.
    pub goroutines_spawned: u64,
    /// Switches from a scheduler context into a goroutine.
    pub context_switches: u64,
    /// `yield_now` calls that switched.
    pub yields: u64,
    /// Goroutine parks.
    pub parks: u64,
}

/// A snapshot of the runtime's counters.
pub fn stats() -> Stats {
    let mut s = Stats {
        goroutines_live: if sched::has_arena() { sched::gs().live() as u64 } else { 0 },
        goroutines_spawned: SCHED.spawned.load(Ordering::Relaxed),
        ..Stats::default()
    };
    for m in &MS {
        s.context_switches += m.stats.switches.load(Ordering::Relaxed);
        s.yields += m.stats.yields.load(Ordering::Relaxed);
        s.parks += m.stats.parks.load(Ordering::Relaxed);
    }
    s
}
