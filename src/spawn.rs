//! `spawn` without a heap, and join handles.
//!
//! The closure is moved into a *packet* at the top of the new goroutine's own
//! stack. When the goroutine finishes, its result is written into the same
//! packet, and the goroutine's slot (with its stack) stays reserved until the
//! [`JoinHandle`] takes the result or is dropped.
//!
//! # Join protocol (`G::join`)
//!
//! ```text
//!  NONE --goroutine exits-------------> DONE --join takes result--> slot freed
//!   |  \--handle dropped--> DETACHED --goroutine exits--> slot freed
//!   +--join parks--> JOIN_G+j --goroutine exits: ready(j)--> DONE
//!   +--host thread joins--> HOST --goroutine exits: futex wake--> DONE
//! ```
//!
//! # Safety
//!
//! The packet is raw memory on another goroutine's stack. It is written by
//! `spawn` before the goroutine first runs, read and overwritten by the
//! goroutine itself, and read by the join handle only after the join word
//! says DONE (an acquire that pairs with the exiting goroutine's release).
#![allow(unsafe_code)]

use crate::arena::RawArena;
use crate::g::{Status, G, JOIN_DETACHED, JOIN_DONE, JOIN_G, JOIN_HOST, JOIN_NONE};
use crate::panic::{catch, Panic};
use crate::sched::{self, gs};
use crate::stack::REGION;
use crate::sys::futex;
use crate::{arena::Handle, Error};
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::mem::{align_of, size_of, ManuallyDrop, MaybeUninit};
use core::sync::atomic::{fence, Ordering};

/// Closure and result, side by side at the top of the goroutine's stack.
/// The result is uninitialised until the goroutine finishes; the join word
/// (DONE) says when it is there, and the handle's ownership that it is read
/// once. (No `Option`: writing `None` at spawn would make debug builds put a
/// result-sized temporary on the spawner's stack.)
struct Packet<F, T> {
    f: ManuallyDrop<F>,
    result: UnsafeCell<MaybeUninit<Result<T, Panic>>>,
}

type ResultSlot<T> = MaybeUninit<Result<T, Panic>>;

/// Why [`JoinHandle::join`] returned no value.
#[derive(Debug)]
#[non_exhaustive]
pub enum JoinError {
    /// The goroutine panicked; with the `std` feature the payload is kept.
    Panicked(Panic),
    /// The runtime that ran the goroutine has stopped; the goroutine was
    /// abandoned (the handle outlived `goro::run`, and may even be used
    /// inside a later run).
    Lost,
    /// A goroutine tried to join itself, which would wait forever. The
    /// handle is dropped (the goroutine is detached and runs on).
    SelfJoin,
}

impl core::fmt::Display for JoinError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            JoinError::Panicked(_) => f.write_str("goroutine panicked"),
            JoinError::Lost => f.write_str("goroutine abandoned when its runtime stopped"),
            JoinError::SelfJoin => f.write_str("a goroutine cannot join itself"),
        }
    }
}

/// An owned permission to wait for a goroutine and take its result.
/// Dropping it detaches the goroutine.
pub struct JoinHandle<T> {
    g: Handle,
    /// The run `g` belongs to (`rt::epoch`).
    epoch: u32,
    result: usize,
    _t: PhantomData<T>,
}

// SAFETY: the handle only carries an arena handle and the address of a
// result that is moved out once; T: Send makes moving the result across
// threads sound.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: a shared JoinHandle allows only `id()` and `is_finished()`, which
// read atomics.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

const ARENA_WHAT: &str = "goroutines: raise MAX_GOROUTINES of the goro::Runtime<MAX_GOROUTINES> you run";

/// Starts `f` on a new goroutine.
///
/// Fails with [`Error::ArenaFull`] when every goroutine slot is in use (slots
/// of finished goroutines are reused once their handle is joined or dropped),
/// [`Error::ClosureTooLarge`] when `f` and its result need more than half a
/// stack (in a debug build, also when the result and the copies of it made
/// as the goroutine returns need more than three quarters), and
/// [`Error::NotInGoroutine`] outside `goro::run`.
///
/// Dropping the handle detaches the goroutine: its result is dropped when
/// it finishes, on its own stack (the destructor may park; a panic in it is
/// caught and discarded).
pub fn spawn<F, T>(f: F) -> Result<JoinHandle<T>, Error>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if sched::current().is_none() {
        return Err(Error::NotInGoroutine);
    }
    spawn_inner(f)
}

/// Result-sized temporaries a debug build puts on a goroutine's stack as
/// it returns its result (the closure's return value, the `Ok` around it,
/// the by-value argument of the write into the packet, and one more in
/// `catch_unwind`'s frames: a 12,000-byte result overflowed a 60 KiB stack
/// in `entry`'s closure, an 8,000-byte one did not). An optimised build
/// moves the result in place.
const RESULT_COPIES: usize = if cfg!(debug_assertions) { 4 } else { 0 };

/// `spawn` without the caller check: also used by `run` for the main
/// goroutine, from the host thread.
pub(crate) fn spawn_inner<F, T>(f: F) -> Result<JoinHandle<T>, Error>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let size = size_of::<Packet<F, T>>();
    let limit = REGION.usable() / 2;
    if size > limit || align_of::<Packet<F, T>>() > 4096 {
        return Err(Error::ClosureTooLarge { size, limit });
    }
    if RESULT_COPIES > 0 {
        // The copies exist only while the goroutine returns, when the
        // closure's own frames are gone: they may take what the packet
        // leaves of three quarters of the stack.
        let size = size + RESULT_COPIES * size_of::<ResultSlot<T>>();
        let limit = REGION.usable() / 4 * 3;
        if size > limit {
            return Err(Error::ClosureTooLarge { size, limit });
        }
    }
    let arena = gs();
    let (h, g) = arena.alloc().map_err(|e| Error::ArenaFull { what: ARENA_WHAT, capacity: e.capacity })?;
    let i = h.index();
    if !g.stack_ready.load(Ordering::Relaxed) {
        if let Err(e) = REGION.commit(i) {
            arena.free(h);
            return Err(e);
        }
        g.stack_ready.store(true, Ordering::Relaxed);
    }
    let top = REGION.slot_base(i) + REGION.slot_size();
    let packet = (top - size) & !(align_of::<Packet<F, T>>().max(16) - 1);
    let packet_ptr = packet as *mut Packet<F, T>;
    // Only the closure is written; the result stays uninitialised.
    // SAFETY: [packet, top) lies in slot i's writable stack (size <= half the usable stack, alignment honoured
    // above); slot i was just allocated, so nothing runs on it or points into it.
    unsafe { core::ptr::addr_of_mut!((*packet_ptr).f).write(ManuallyDrop::new(f)) };
    // SAFETY: the frame goes right below the packet, on the same unused stack;
    // `packet & !15` is 16-aligned.
    let sp = unsafe { crate::arch::init_stack(packet & !15, entry::<F, T>, packet) };
    // The goroutine is not running: we own its fresh slot.
    g.sp.store(sp, Ordering::Relaxed);
    g.goid.store(sched::account_spawn(), Ordering::Relaxed);
    g.join.store(JOIN_NONE, Ordering::Relaxed);
    g.lockedm.store(0, Ordering::Relaxed);
    g.preempt.store(false, Ordering::Relaxed);
    // SAFETY: `result` is a field of the packet just written.
    let result = unsafe { core::ptr::addr_of!((*packet_ptr).result) } as usize;
    g.result.store(result, Ordering::Relaxed);
    g.drop_result.store(drop_result::<T> as *const () as usize, Ordering::Relaxed);
    g.status.store(Status::Runnable as u32, Ordering::Release);
    sched::put_new(i);
    Ok(JoinHandle { g: h, epoch: crate::rt::epoch(), result, _t: PhantomData })
}

/// First Rust code of every goroutine (called by the arch trampoline).
///
/// # Safety
///
/// `arg` is the address of a `Packet<F, T>` written by `spawn_inner` on the
/// running goroutine's own stack, whose closure has not been taken.
unsafe extern "C" fn entry<F, T>(arg: usize) -> !
where
    F: FnOnce() -> T,
{
    let i = sched::current().unwrap_or_else(|| crate::error::fatal("goro: spawn: entry off its stack"));
    sched::after_switch(i);
    let packet = arg as *mut Packet<F, T>;
    // SAFETY: per the contract, the closure is initialised and taken once.
    let f = unsafe { ManuallyDrop::take(&mut (*packet).f) };
    // Nobody reads the result before the join word says DONE, which
    // on_exit stores after we switch away for good. The value goes straight
    // into the packet, not through this frame and `catch`'s: in a debug
    // build every move of a large result is a copy on this stack.
    // SAFETY: the packet lives on our own stack (the contract).
    let slot: *mut ResultSlot<T> = unsafe { (*packet).result.get() };
    // SAFETY: the slot is ours to write until we exit, and nothing else has written it.
    if let Err(p) = catch(move || unsafe { (*slot).write(Ok(f())) }) {
        // SAFETY: as above; the closure panicked before writing the slot.
        unsafe { write_panic(slot, p) };
    }
    if sched::g_at(i).join.load(Ordering::Acquire) == JOIN_DETACHED {
        // No handle is left to read the result (detaching is final): drop
        // it here, on this goroutine, where its destructor may park, and a
        // panic in it is caught (and discarded) like one in the goroutine.
        // on_exit then only frees the slot.
        // SAFETY: the slot holds this goroutine's `T` result, which no handle will read.
        let _ = catch(|| unsafe { drop_result::<T>(slot as usize) });
        sched::g_at(i).drop_result.store(0, Ordering::Relaxed);
    }
    sched::goexit(i)
}

/// Writes a panic as the result. Out of line: in a debug build the
/// `Result<T, Panic>` built here is a result-sized temporary, which would
/// otherwise sit in `entry`'s frame under the goroutine's whole run.
///
/// # Safety
///
/// `slot` is the running goroutine's own, unwritten result slot.
#[inline(never)]
unsafe fn write_panic<T>(slot: *mut ResultSlot<T>, p: Panic) {
    // SAFETY: per the contract.
    unsafe { (*slot).write(Err(p)) };
}

/// Runs once goroutine `i` has exited and is off its stack for good (on
/// its M's g0, or on the goroutine it switched to): settles the join
/// protocol.
pub(crate) fn on_exit(i: usize) {
    let g = sched::g_at(i);
    match g.join.swap(JOIN_DONE, Ordering::AcqRel) {
        JOIN_NONE => {}
        JOIN_DETACHED => release(i, true),
        JOIN_HOST => futex::wake(&g.join, 1),
        // Unless the exit switched straight to the joiner, which now runs
        // this (see `sched::exit_to_joiner`).
        j if sched::current() == Some((j - JOIN_G) as usize) => {}
        j => sched::ready((j - JOIN_G) as usize),
    }
}

/// Called by a stopping runtime once its goroutine arena has been reset
/// (every handle to it is stale): host threads blocked in `join` on an
/// abandoned goroutine wake up and return `JoinError::Lost`.
pub(crate) fn wake_abandoned_joiners(arena: RawArena<'static, G>) {
    fence(Ordering::SeqCst);
    for i in 0..arena.capacity() {
        let g = arena.at(i);
        if g.join.compare_exchange(JOIN_HOST, JOIN_NONE, Ordering::SeqCst, Ordering::Relaxed).is_ok() {
            futex::wake(&g.join, 1);
        }
    }
}

/// Drops the unread result at `addr`.
///
/// # Safety
///
/// `addr` is the result slot of a finished goroutine whose result type is
/// `T`, and nobody else will read it.
unsafe fn drop_result<T>(addr: usize) {
    // SAFETY: per the contract above.
    drop(unsafe { (*(addr as *mut ResultSlot<T>)).assume_init_read() });
}

/// Frees the slot of finished goroutine `i`, first dropping its unread
/// result if `drop_result` and the goroutine has not dropped it itself. A
/// goroutine detached before it exits drops its own result; one detached
/// between that check and its exit has it dropped here, in the scheduler's
/// exit path, where the destructor must not park (a panic in it is caught
/// and discarded).
fn release(i: usize, drop_result: bool) {
    let arena = gs();
    let g = arena.at(i);
    let f = g.drop_result.load(Ordering::Relaxed);
    if drop_result && f != 0 {
        // `drop_result` is 0 once the goroutine dropped the result itself.
        // SAFETY: a nonzero `drop_result` was stored by spawn as `drop_result::<T>`, a `unsafe fn(usize)`.
        let drop_it = unsafe { core::mem::transmute::<usize, unsafe fn(usize)>(f) };
        let addr = g.result.load(Ordering::Relaxed);
        // SAFETY: `addr` is this dead, detached goroutine's result slot, of that T, which no handle will read.
        let _ = catch(|| unsafe { drop_it(addr) });
    }
    g.status.store(Status::Free as u32, Ordering::Relaxed);
    if let Some(h) = arena.handle_at(i) {
        arena.free(h);
    }
}

impl<T> JoinHandle<T> {
    /// Waits for the goroutine to finish and returns its result. From a
    /// goroutine it parks; from a thread outside the runtime it blocks the
    /// thread. A goroutine joining its own handle gets
    /// [`JoinError::SelfJoin`] rather than waiting forever.
    pub fn join(self) -> Result<T, JoinError> {
        let me = sched::current();
        let Some(g) = self.slot() else {
            return Err(JoinError::Lost);
        };
        if me == Some(self.g.index()) {
            return Err(JoinError::SelfJoin); // dropping `self` detaches us
        }
        let this = ManuallyDrop::new(self);
        match me {
            Some(me) => {
                while g.join.load(Ordering::Acquire) != JOIN_DONE {
                    sched::park(me, |me| {
                        g.join
                            .compare_exchange(JOIN_NONE, JOIN_G + me as u32, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                    });
                }
            }
            None => {
                if g.join.compare_exchange(JOIN_NONE, JOIN_HOST, Ordering::SeqCst, Ordering::Acquire).is_ok() {
                    while g.join.load(Ordering::Acquire) != JOIN_DONE {
                        // The runtime may stop and abandon the goroutine:
                        // `wake_abandoned_joiners` makes the handle stale
                        // before it looks for HOST, and we published HOST
                        // before looking at the handle (SeqCst on both
                        // sides), so one of us sees the other.
                        fence(Ordering::SeqCst);
                        if this.slot().is_none() {
                            return Err(JoinError::Lost);
                        }
                        futex::wait(&g.join, JOIN_HOST);
                    }
                    // DONE may come from a goroutine of a later run in the
                    // same slot: take the result only if the handle is current.
                    if this.slot().is_none() {
                        return Err(JoinError::Lost);
                    }
                }
            }
        }
        // SAFETY: DONE (acquired above) means the goroutine stored its result and will never touch its stack again;
        // the handle is consumed, so the result is taken exactly once; T matches the packet's T.
        let r = unsafe { (*(this.result as *mut ResultSlot<T>)).assume_init_read() };
        release(this.g.index(), false);
        r.map_err(JoinError::Panicked)
    }

    /// The goroutine's control block, unless the handle outlived its run.
    fn slot(&self) -> Option<&'static crate::g::G> {
        let g = gs().get(self.g)?;
        (self.epoch == crate::rt::epoch()).then_some(g)
    }

    /// Whether the goroutine has finished (true too for one abandoned when
    /// its runtime stopped).
    pub fn is_finished(&self) -> bool {
        self.slot().is_none_or(|g| g.join.load(Ordering::Acquire) == JOIN_DONE)
    }

    pub(crate) fn index(&self) -> usize {
        self.g.index()
    }

    /// The goroutine's id.
    pub fn id(&self) -> u64 {
        self.slot().map_or(0, |g| g.goid.load(Ordering::Relaxed))
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let Some(g) = self.slot() else { return };
        if g.join.compare_exchange(JOIN_NONE, JOIN_DETACHED, Ordering::AcqRel, Ordering::Acquire).is_err() {
            // Already DONE: nobody will take the result, so drop it here.
            // SAFETY: as in `join`: DONE was acquired, the result is ours.
            drop(unsafe { (*(self.result as *mut ResultSlot<T>)).assume_init_read() });
            release(self.g.index(), false);
        }
    }
}
