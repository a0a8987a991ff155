//! Goroutine synchronization: channels, `select`, [`Mutex`], [`RwLock`],
//! [`WaitGroup`], [`Once`] and [`Semaphore`]. Nothing here allocates:
//! capacities are compile-time constants and every wait queue is a list of
//! records on the waiting goroutines' own stacks.
//!
//! A goroutine that has to wait **parks** (its thread runs other
//! goroutines); nothing spins except a few instructions of bookkeeping
//! under a primitive's internal lock. Wake-ups work from any thread: from
//! a goroutine on another M, from a timer, or from a plain host thread.
//!
//! # Sharing without a heap
//!
//! Primitives are plain values with `const fn new`, meant to be placed in a
//! `static`, or (with `std`) in an `Arc`, or in a parent that outlives the
//! users (goroutines need `'static` captures, so in practice: a `static` or
//! an `Arc`). Channels hand out `Copy` [`Sender`]/[`Receiver`] handles that
//! borrow the channel, with its capacity erased from their type:
//!
//! ```no_run
//! use goro::sync::{Channel, Receiver, Sender, WaitGroup};
//! static JOBS: Channel<u64, 16> = Channel::new();
//! static RESULTS: Channel<u64, 16> = Channel::new();
//! static WG: WaitGroup = WaitGroup::new();
//!
//! fn worker(jobs: Receiver<'static, u64>, results: Sender<'static, u64>) {
//!     for n in jobs {
//!         results.send(n * n).unwrap();
//!     }
//!     WG.done();
//! }
//!
//! let sum = goro::run(|| {
//!     for _ in 0..4 {
//!         WG.add(1);
//!         goro::spawn(|| worker(JOBS.receiver(), RESULTS.sender())).unwrap();
//!     }
//!     goro::spawn(|| {
//!         (1..=100).for_each(|n| JOBS.send(n).unwrap());
//!         JOBS.close();
//!     })
//!     .unwrap();
//!     goro::spawn(|| {
//!         WG.wait();
//!         RESULTS.close();
//!     })
//!     .unwrap();
//!     RESULTS.receiver().iter().sum::<u64>()
//! })
//! .unwrap();
//! assert_eq!(sum, 338_350);
//! ```
//!
//! # Outside goroutines
//!
//! Every call works from a thread that is not running a goroutine (a host
//! thread, `goroutine_id() == None`): where a goroutine would park, the
//! thread blocks on a futex, and it is woken the same way. So a host thread
//! can feed a channel that goroutines drain, or wait on a [`WaitGroup`],
//! and these primitives even work between plain threads with no runtime.
//! (A detached goroutine drops its result on its own stack, where the
//! destructor may block; only if the handle is dropped in the instant the
//! goroutine finishes does the scheduler drop it, and a destructor that
//! blocks then blocks that thread.)
//!
//! A goroutine still parked on a primitive when its `goro::run` returns is
//! abandoned, and stays linked in that primitive's wait queue: do not use
//! such a primitive again after that `run`.
//!
//! # Design
//!
//! See `waiter.rs` for the waiter records and the wait token that makes
//! every wake-up happen exactly once, `chan.rs` for the channel state
//! machine, and `select.rs` for how a select waits on several channels.

mod case;
mod chan;
mod chan_error;
mod handle;
mod lock;
mod mutex;
mod once;
mod queue;
mod rwlock;
mod select;
mod semaphore;
mod waiter;
mod waitgroup;

pub use chan::{Channel, Iter, Receiver, SendError, SendTimeoutError, Sender, TryRecvError, TrySendError};
pub use mutex::{Mutex, MutexGuard};
pub use once::Once;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use select::{
    Block, Case, Cases, Cons, DefaultArm, Nil, Otherwise, RecvCase, Select, SendCase, TimeoutArm, MAX_CASES,
};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use waitgroup::WaitGroup;
