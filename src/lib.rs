//! goro: Go's goroutines and netpoller for Rust, with no libc and no heap.
//!
//! Goroutines are stackful green threads on guarded stacks; their control
//! blocks live in a fixed-capacity arena chosen at compile time
//! ([`Runtime`]); every system call goes through `rustix`'s raw Linux
//! backend, and the context switch is a few lines of assembly per
//! architecture (x86_64 and aarch64).
//!
//! ```no_run
//! let total = goro::run(|| {
//!     let hs: Vec<_> = (0..4u64).map(|i| goro::spawn(move || i * 10).unwrap()).collect();
//!     hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
//! })
//! .unwrap();
//! assert_eq!(total, 60);
//! ```
//!
//! Layers, lowest first: `sys`/`arch` (the only system calls and assembly),
//! `arena`, `stack`, `g`, `sched`, then `spawn` and `rt`. See HACKING.md.
#![no_std]
#![deny(unsafe_code, missing_docs)]

#[cfg(feature = "std")]
extern crate std;

mod arch;
pub mod arena;
mod error;
#[cfg(feature = "freestanding")]
pub mod freestanding;
mod g;
pub mod net;
mod netpoll;
mod panic;
pub mod poll;
mod rt;
mod sched;
mod spawn;
mod stack;
pub mod sync;
mod sys;
pub mod time;

#[doc(hidden)]
pub use arch::{bench_chan_floor_round_trips, bench_switch_round_trips};
pub(crate) use error::fatal;
pub use error::Error;
pub use panic::Panic;
pub use rt::{
    donate_thread, lock_os_thread, run, sleep, stats, unlock_os_thread, Config, Runtime, Stats, Syscalls, Threads,
    DEFAULT_MAX_FDS, DEFAULT_MAX_GOROUTINES, DEFAULT_POLL_SPIN, DEFAULT_STACK_SIZE, MAX_POLL_SPIN,
};
pub use sched::yield_now;
pub use spawn::{spawn, JoinError, JoinHandle};

/// Whether the stack region set up by the last run guards its slots with
/// guard regions (Linux 6.13's `MADV_GUARD_INSTALL`: the region is one
/// kernel memory mapping) rather than `PROT_NONE` pages (two mappings per
/// slot used, which `vm.max_map_count` caps). False before any run.
#[doc(hidden)]
pub fn stack_guard_regions() -> bool {
    stack::REGION.uses_guard_regions()
}

/// The id of the running goroutine (1 for the main goroutine of the first
/// run in a process), or `None` outside a goroutine.
pub fn goroutine_id() -> Option<u64> {
    sched::current().map(sched::goid_of)
}

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
