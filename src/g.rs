//! The goroutine control block.
//!
//! One `G` per slot of the goroutine arena. Slot `i` of the arena always owns
//! stack slot `i` of the stack region, so the running goroutine is found from
//! its stack pointer alone (see `stack::Region::index_of`).
//!
//! # Status (who moves it)
//!
//! ```text
//!   Free --spawn--> Runnable --M runs it--> Running --goexit--> Dead --joined/detached--> Free
//!                      ^                      |  |
//!                      |          yield ------+  +-- park: Waiting (after the commit)
//!                      +------- ready() ---------------------+
//! ```
//!
//! `Dead` keeps the slot, its stack and the closure's result until the join
//! handle takes the result or is dropped.
//!
//! # The saved stack pointer
//!
//! `sp` is written only by `goro_switch` (through a raw pointer, from
//! assembly) while this goroutine is suspending itself on the M that runs
//! it, and by `spawn` for a fresh slot; the M that resumes it reads it after
//! acquiring the goroutine from a run queue or a wake-up, which orders the
//! two. It is atomic so that a hint may read it without that ordering: the
//! scheduler prefetches the saved context of the goroutine likely to run
//! next, and a stale value there only prefetches the wrong lines.

use crate::time::Timer;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};

/// `G::status` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Status {
    Free = 0,
    Runnable = 1,
    Running = 2,
    Waiting = 3,
    Dead = 4,
}

/// `G::join` values below `JOIN_G`; from `JOIN_G` up, `JOIN_G + i` means
/// goroutine `i` is parked in `join`.
pub(crate) const JOIN_NONE: u32 = 0;
pub(crate) const JOIN_DETACHED: u32 = 1;
pub(crate) const JOIN_DONE: u32 = 2;
/// A thread outside the runtime waits on the futex at `G::join`.
pub(crate) const JOIN_HOST: u32 = 3;
pub(crate) const JOIN_G: u32 = 4;

/// Goroutine control block.
pub(crate) struct G {
    /// A `Status`; written by the M that owns the goroutine's current step.
    pub status: AtomicU32,
    /// Saved stack pointer while suspended (see "The saved stack pointer" in
    /// the module docs).
    pub sp: AtomicUsize,
    /// Run-queue link: next goroutine index + 1 (0 = none); guarded by the
    /// run queue's lock.
    pub schedlink: AtomicU32,
    /// Index of the M running (or last running) this goroutine.
    pub m: AtomicU32,
    /// Goroutine id for messages (1 = main), unique per process.
    pub goid: AtomicU64,
    /// The stack slot's pages have been made writable (done once per slot).
    pub stack_ready: AtomicBool,
    /// Join protocol word (`JOIN_*`); also a futex for host joiners.
    pub join: AtomicU32,
    /// Address of the result slot in the spawn packet on this stack.
    pub result: AtomicUsize,
    /// `unsafe fn(usize)` that drops the result at `result` (its type is
    /// known only to `spawn`); used when the goroutine was detached.
    pub drop_result: AtomicUsize,
    /// Timer for `sleep` and timed waits (timer id = arena index).
    pub timer: Timer,
    /// Set by sysmon when the goroutine has run too long without a yield
    /// point; the next yield point switches away.
    pub preempt: AtomicBool,
    /// The M this goroutine is locked to (index + 1; 0 = none).
    pub lockedm: AtomicU32,
    /// Wait token of `goro::sync` (`seq << 32 | state << 30 | case`): every
    /// waker of a sync wait claims it with a CAS, so a goroutine waiting on
    /// several things at once is woken exactly once (see `sync/waiter.rs`).
    /// A new wait is started only by the goroutine itself.
    pub sync_token: AtomicU64,
    /// xorshift state for `select`'s random case order; touched only by
    /// the goroutine itself (0 = not seeded yet).
    pub sync_rand: AtomicU64,
}

impl G {
    pub(crate) const fn new() -> Self {
        G {
            status: AtomicU32::new(Status::Free as u32),
            sp: AtomicUsize::new(0),
            schedlink: AtomicU32::new(0),
            m: AtomicU32::new(0),
            goid: AtomicU64::new(0),
            stack_ready: AtomicBool::new(false),
            join: AtomicU32::new(JOIN_NONE),
            result: AtomicUsize::new(0),
            drop_result: AtomicUsize::new(0),
            timer: Timer::new(),
            preempt: AtomicBool::new(false),
            lockedm: AtomicU32::new(0),
            sync_token: AtomicU64::new(0),
            sync_rand: AtomicU64::new(0),
        }
    }
}
