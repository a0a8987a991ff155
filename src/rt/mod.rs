//! Start-up and configuration: [`Runtime`], [`Config`], [`run`], [`stats`].
//!
//! One runtime runs at a time in a process: `run` takes a process-wide lock
//! (threads that call it concurrently wait their turn). The goroutine arena
//! lives in the `Runtime` value, which the user may place in a `static` with
//! the capacity they need; `goro::run` uses a built-in default.

mod proc;
pub(crate) mod sysmon;
mod trace;

pub use proc::{donate_thread, lock_os_thread, unlock_os_thread};

use crate::arena::{Arena, Slot};
use crate::g::G;
use crate::netpoll::{self, PollDesc};
use crate::sched::{self, MS, PS, SCHED};
use crate::stack::{self, AltStack, REGION};
use crate::sys;
use crate::sys::futex;
use crate::time::{self, Timer};
use crate::{spawn, Error};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;

/// Goroutine capacity of the default runtime used by [`run`].
pub const DEFAULT_MAX_GOROUTINES: usize = 10_000;
/// Poll-descriptor capacity (open sockets and other polled fds) of the
/// default runtime.
pub const DEFAULT_MAX_FDS: usize = 10_000;
/// Default stack slot per goroutine, guard page included (256 KiB).
/// Only the pages a goroutine touches use memory.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;
/// Default of [`Config::poll_spin`].
pub const DEFAULT_POLL_SPIN: Duration = Duration::from_micros(20);
/// The longest [`Config::poll_spin`] accepted.
pub const MAX_POLL_SPIN: Duration = Duration::from_millis(10);

/// Where the runtime's extra OS threads (Ms beyond the caller of `run`,
/// and sysmon) come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Threads {
    /// `std::thread` (needs the `std` feature): safe next to any libc or
    /// std code in the goroutines.
    Std,
    /// Raw `clone` threads from `arch/` with their own guarded stacks, no
    /// libc and no TLS: for programs without libc. They share the calling
    /// thread's TLS pointer, so goroutine code must not use libc or `std`
    /// thread-locals (println!, panics) when they run it.
    Clone,
    /// No threads of goro's own: only the caller of `run` and threads
    /// donated with [`donate_thread`]. There is no sysmon thread then.
    Donated,
}

impl Threads {
    /// `Std` with the `std` feature, else `Clone`.
    pub const fn default_source() -> Self {
        if cfg!(feature = "std") {
            Threads::Std
        } else {
            Threads::Clone
        }
    }
}

/// Runtime settings chosen at start-up. Environment variables override
/// three of them, as Go's do: `GORO_PROCS=<n>`, `GORO_SCHEDTRACE=<ms>` and
/// `GORO_POLLSPIN=<us>`. A value that is not a decimal number is ignored
/// (as Go ignores a malformed `GOMAXPROCS`); a number out of range makes
/// `run` fail with an `InvalidConfig` naming the variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Bytes per goroutine stack slot including its guard page: a power of
    /// two from 16 KiB to 1 GiB (other values are rounded up to one).
    pub stack_size: usize,
    /// Number of Ps (goroutines running in parallel), at most 64; 0 means
    /// the number of CPUs the process may run on (`sched_getaffinity`),
    /// capped at 64.
    pub procs: usize,
    /// Where extra threads come from.
    pub threads: Threads,
    /// Print a `SCHED` line to stderr every this many milliseconds (0: off).
    pub schedtrace_ms: u32,
    /// How long the netpoller may spin, without a system call, before it
    /// sleeps in `epoll_pwait`, while recent polls returned batches (two
    /// goroutines or more made runnable by one of the last 8 blocking
    /// polls); zero turns the spin off. Spinning lets a busy server collect
    /// the next batch without sleeping and being woken for every message,
    /// at the price of this much CPU per blocking poll and as much added
    /// latency for an event that arrives during a spin. A lone connection
    /// or an idle runtime never spins. At most [`MAX_POLL_SPIN`]; default
    /// [`DEFAULT_POLL_SPIN`]. `Stats::poll_spins` counts the spins.
    pub poll_spin: Duration,
}

impl Config {
    /// The defaults.
    pub const fn new() -> Self {
        Config {
            stack_size: DEFAULT_STACK_SIZE,
            procs: 0,
            threads: Threads::default_source(),
            schedtrace_ms: 0,
            poll_spin: DEFAULT_POLL_SPIN,
        }
    }

    /// Sets [`Config::stack_size`].
    pub const fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// Sets [`Config::procs`].
    pub const fn procs(mut self, n: usize) -> Self {
        self.procs = n;
        self
    }

    /// Sets [`Config::threads`].
    pub const fn threads(mut self, t: Threads) -> Self {
        self.threads = t;
        self
    }

    /// Sets [`Config::schedtrace_ms`].
    pub const fn schedtrace_ms(mut self, ms: u32) -> Self {
        self.schedtrace_ms = ms;
        self
    }

    /// Sets [`Config::poll_spin`] (`Duration::ZERO`: never spin).
    pub const fn poll_spin(mut self, d: Duration) -> Self {
        self.poll_spin = d;
        self
    }

    /// The poll spin in nanoseconds, if in range.
    fn poll_spin_ns(&self) -> Result<i64, Error> {
        if self.poll_spin > MAX_POLL_SPIN {
            return Err(Error::InvalidConfig("poll_spin must be at most 10 ms"));
        }
        Ok(time::dur_ns(self.poll_spin))
    }

    fn slot_size(&self) -> Result<usize, Error> {
        if self.stack_size < 16 * 1024 || self.stack_size > 1 << 30 {
            return Err(Error::InvalidConfig("stack_size must be between 16 KiB and 1 GiB"));
        }
        let slot = self.stack_size.next_power_of_two();
        // The guard is one page: with 64 KiB pages a 16 KiB slot would be
        // all guard (and its usable size would underflow).
        if slot < 4 * sys::page_size() {
            return Err(Error::InvalidConfig("stack_size must be at least four pages (one is the guard page)"));
        }
        Ok(slot)
    }

    /// Applies `GORO_PROCS`, `GORO_SCHEDTRACE` and `GORO_POLLSPIN` from the
    /// environment.
    fn with_env(mut self) -> Result<Self, Error> {
        if let Some(n) = sys::env_u64(b"GORO_PROCS") {
            if n > sched::MAX_M as u64 {
                return Err(Error::InvalidConfig("GORO_PROCS must be at most 64"));
            }
            self.procs = n as usize;
        }
        if let Some(ms) = sys::env_u64(b"GORO_SCHEDTRACE") {
            self.schedtrace_ms = ms.min(u64::from(u32::MAX)) as u32;
        }
        if let Some(us) = sys::env_u64(b"GORO_POLLSPIN") {
            if Duration::from_micros(us) > MAX_POLL_SPIN {
                return Err(Error::InvalidConfig("GORO_POLLSPIN must be at most 10000 (us)"));
            }
            self.poll_spin = Duration::from_micros(us);
        }
        Ok(self)
    }

    fn nprocs(&self) -> Result<usize, Error> {
        // Automatic: one P per CPU, capped at the 64 Ms there are (a larger
        // machine must not make the default configuration fail).
        let n = if self.procs == 0 { sys::cpu_count().clamp(1, sched::MAX_M) } else { self.procs };
        if n > sched::MAX_M {
            return Err(Error::InvalidConfig("procs must be at most 64"));
        }
        if self.threads == Threads::Std && !cfg!(feature = "std") {
            return Err(Error::InvalidConfig("Threads::Std needs goro's `std` feature"));
        }
        Ok(n)
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
    /// The stack region generation its goroutines' `stack_ready` flags
    /// describe (see `Region::generation`).
    region_gen: AtomicU64,
}

impl<const N: usize, const FDS: usize> Runtime<N, FDS> {
    /// An idle runtime (usable in a `static`; costs nothing until run).
    pub const fn new() -> Self {
        Runtime {
            gs: Arena::new([const { Slot::new(G::new()) }; N]),
            pds: Arena::new([const { Slot::new(PollDesc::new()) }; FDS]),
            region_gen: AtomicU64::new(0),
        }
    }

    /// Runs `main` as the first goroutine and returns its result once it
    /// returns. The calling thread becomes M 0; more threads start as
    /// goroutines need them (up to `procs` running goroutines at once).
    /// Goroutines still alive when `main` returns are abandoned without
    /// running their destructors, as a Go program's are at exit; `run`
    /// returns once every runtime thread has stopped (a goroutine spinning
    /// without ever reaching a yield point keeps its thread, and so `run`,
    /// from finishing).
    ///
    /// If `main` panics (with the `std` feature) the panic resumes here.
    pub fn run<F, T>(&'static self, config: Config, main: F) -> Result<T, Error>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if sched::current_m().is_some() {
            return Err(Error::InvalidConfig("goro::run called from inside the runtime"));
        }
        // Take the lock first: reading the environment opens a file, and an
        // fd opened while another runtime runs could disturb its fd numbers.
        let _lock = RunLock::acquire();
        let config = config.with_env()?;
        let slot = config.slot_size()?;
        let nprocs = config.nprocs()?;
        let poll_spin = config.poll_spin_ns()?;
        stack::install_overflow_handler()?;
        let raw = self.gs.raw();
        if REGION.setup(N + sched::MAX_M, slot, sched::goid_of)? {
            proc::forget_g0_stacks();
        }
        if self.region_gen.load(Ordering::Relaxed) != REGION.generation() {
            // Our slots were committed in an earlier region (or never).
            for i in 0..N {
                raw.at(i).stack_ready.store(false, Ordering::Relaxed);
            }
            self.region_gen.store(REGION.generation(), Ordering::Relaxed);
        }
        // A new epoch before the arenas are installed: whoever sees them
        // installed sees the new epoch too (see `epoch`).
        EPOCH.fetch_add(1, Ordering::Release);
        raw.reset();
        self.pds.raw().reset();
        sched::install(raw, nprocs);
        time::install(timer_of);
        netpoll::install(self.pds.raw())?;
        sched::set_poll_breaker(netpoll::netpoll_break);
        raise_fd_limit();
        proc::set_thread_source(config.threads);
        proc::set_poll_spin(poll_spin);
        let _alt = AltStack::ensure()?;
        proc::commit_g0(0)?;
        // The arena was just reset, so main takes slot 0. Publish that before
        // main can run: another M may run it to completion before
        // spawn_inner even returns, and on_exit must recognise it.
        MAIN.store(0, Ordering::SeqCst);
        let h = spawn::spawn_inner(main)?;
        if h.index() != 0 {
            crate::fatal("goro: run: main goroutine did not get slot 0");
        }
        proc::start_sysmon(config.schedtrace_ms);
        sched::run_on_g0(0, proc::m0_entry);
        sched::wait_threads();
        sched::set_spawner(None);
        let r = h.join();
        raw.reset();
        spawn::wake_abandoned_joiners(raw);
        self.pds.raw().reset();
        // Timers of abandoned goroutines and descriptors, while our arenas
        // (reset: no handle reaches them any more) still resolve them.
        time::clear();
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
        spawn::JoinError::Lost | spawn::JoinError::SelfJoin => crate::error::fatal("goro: run: main goroutine lost"),
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

/// Puts the calling goroutine to sleep for `d` (a thread outside the
/// runtime sleeps the whole thread).
pub fn sleep(d: Duration) {
    let Some(i) = sched::current() else {
        crate::sys::thread_sleep(time::dur_ns(d));
        return;
    };
    let when = time::nanotime().saturating_add(time::dur_ns(d));
    sched::park(i, |gi| {
        if time::arm(gi as u32, when, wake_sleeper, gi, 0) {
            // Earlier than what the poller sleeps until: let it recompute.
            sched::break_poller();
        }
        true
    });
}

fn wake_sleeper(g: usize, _seq: u32) {
    sched::ready(g);
}

/// Bumped by every run before it installs its arenas. Join handles and
/// `Fd`s remember the epoch they were made in: an arena handle kept past
/// its run must not resolve in the next run's arenas, which may belong to
/// another `Runtime` whose slot has the same index and generation.
static EPOCH: AtomicU32 = AtomicU32::new(0);

/// The current run's epoch. Read it *after* the arena it qualifies: a run
/// bumps it before installing its arenas (release), so a reader that got
/// the new arena also gets the new epoch.
pub(crate) fn epoch() -> u32 {
    EPOCH.load(Ordering::Acquire)
}

/// Arena slot of the main goroutine.
static MAIN: AtomicUsize = AtomicUsize::new(usize::MAX);

pub(crate) fn on_exit(i: usize) {
    proc::unlock_on_exit(i);
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

/// System calls goro made, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Syscalls {
    /// read, readv, recv, recvfrom (and eventfd reads).
    pub read: u64,
    /// write, writev, send, sendto (and eventfd writes).
    pub write: u64,
    /// accept4.
    pub accept: u64,
    /// connect.
    pub connect: u64,
    /// epoll_pwait.
    pub epoll_wait: u64,
    /// epoll_ctl.
    pub epoll_ctl: u64,
    /// futex waits and wakes.
    pub futex: u64,
    /// Everything else (socket, bind, close, setsockopt, ...).
    pub other: u64,
}

/// Runtime counters, summed over all threads (monotonic since the process
/// started, except `goroutines_live`, `threads` and `procs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Goroutines whose slot is in use (running, waiting, or finished and
    /// not yet joined).
    pub goroutines_live: u64,
    /// Goroutines spawned.
    pub goroutines_spawned: u64,
    /// Switches from a scheduler context into a goroutine.
    pub context_switches: u64,
    /// The same, per M (thread slot): which threads ran goroutines.
    pub context_switches_per_m: [u64; sched::MAX_M],
    /// `yield_now` calls (and preemption points) that switched.
    pub yields: u64,
    /// Goroutine parks.
    pub parks: u64,
    /// Goroutines taken from another P's queue.
    pub steals: u64,
    /// Calls into the netpoller (blocking or not).
    pub polls: u64,
    /// Readiness events the netpoller handled.
    pub poll_events: u64,
    /// Goroutines the netpoller made runnable.
    pub injected: u64,
    /// sysmon rounds.
    pub sysmon_ticks: u64,
    /// Non-blocking polls sysmon made because nobody had polled for 10 ms.
    pub sysmon_polls: u64,
    /// Spins the netpoller made before a blocking poll (see
    /// [`Config::poll_spin`]).
    pub poll_spins: u64,
    /// Goroutines asked to yield after running 10 ms without a yield point.
    pub preempt_requests: u64,
    /// Runtime threads in use (M slots).
    pub threads: u64,
    /// Ps of the running (or last) runtime.
    pub procs: u64,
    /// System calls by kind.
    pub syscalls: Syscalls,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            goroutines_live: 0,
            goroutines_spawned: 0,
            context_switches: 0,
            context_switches_per_m: [0; sched::MAX_M],
            yields: 0,
            parks: 0,
            steals: 0,
            polls: 0,
            poll_events: 0,
            injected: 0,
            sysmon_ticks: 0,
            sysmon_polls: 0,
            poll_spins: 0,
            preempt_requests: 0,
            threads: 0,
            procs: 0,
            syscalls: Syscalls::default(),
        }
    }
}

/// A snapshot of the runtime's counters.
pub fn stats() -> Stats {
    let mut s = Stats {
        goroutines_live: if sched::has_arena() { sched::gs().live() as u64 } else { 0 },
        goroutines_spawned: SCHED.spawned.load(Ordering::Relaxed),
        preempt_requests: SCHED.preempt_requests.load(Ordering::Relaxed),
        threads: u64::from(SCHED.mcount.load(Ordering::Relaxed)),
        procs: u64::from(SCHED.nprocs.load(Ordering::Relaxed)),
        ..Stats::default()
    };
    for (i, m) in MS.iter().enumerate() {
        let n = m.stats.switches.load(Ordering::Relaxed);
        s.context_switches_per_m[i] = n;
        s.context_switches += n;
        s.yields += m.stats.yields.load(Ordering::Relaxed);
        s.parks += m.stats.parks.load(Ordering::Relaxed);
        s.goroutines_spawned += m.stats.spawns.load(Ordering::Relaxed);
    }
    for p in &PS {
        s.steals += p.steals.load(Ordering::Relaxed);
    }
    let (polls, events, injected) = netpoll::counters();
    s.polls = polls;
    s.poll_events = events;
    s.injected = injected;
    let (ticks, spolls) = sysmon::counters();
    s.sysmon_ticks = ticks;
    s.sysmon_polls = spolls;
    s.poll_spins = proc::spins();
    let c = |k: sys::Sys| sys::SYSCALLS[k as usize].load(Ordering::Relaxed);
    s.syscalls = Syscalls {
        read: c(sys::Sys::Read),
        write: c(sys::Sys::Write),
        accept: c(sys::Sys::Accept),
        connect: c(sys::Sys::Connect),
        epoll_wait: c(sys::Sys::EpollWait),
        epoll_ctl: c(sys::Sys::EpollCtl),
        futex: c(sys::Sys::Futex),
        other: c(sys::Sys::Other),
    };
    s
}
