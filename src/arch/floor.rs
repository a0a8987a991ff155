//! The mechanism floor under goro's channel ping-pong (a hidden benchmark
//! hook, like [`bench_switch_round_trips`](super::bench_switch_round_trips)).
//!
//! Two stackful contexts on one thread pass a value back and forth over
//! two unbuffered "channels" with only what such a hand-off needs: a spin
//! lock per channel, one parked-waiter slot per direction holding a pointer
//! to the value on the waiter's stack, a run-next slot, and the park
//! commit (the lock is released by the context switched to, once the
//! parking one is off its stack). No goroutine status, no M or P, no wait
//! token (so no select or timeouts), no counters, no fairness checks: what
//! goro adds to this is what its ping-pong figure costs beyond the floor.

use super::{goro_switch, init_stack};
use core::cell::Cell;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

/// A parked sender's value, or a parked receiver's destination.
struct Waiter {
    ctx: usize,
    slot: *mut u64,
}

struct Chan {
    lock: AtomicBool,
    recvq: Cell<*const Waiter>,
    sendq: Cell<*const Waiter>,
}

impl Chan {
    const fn new() -> Self {
        Chan { lock: AtomicBool::new(false), recvq: Cell::new(ptr::null()), sendq: Cell::new(ptr::null()) }
    }

    #[inline(always)]
    fn lock(&self) {
        while self.lock.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
    }

    #[inline(always)]
    fn unlock(&self) {
        self.lock.store(false, Ordering::Release);
    }
}

/// Both contexts and both channels; lives on the caller's stack for one
/// call of [`bench_chan_floor_round_trips`] and is reached only from its
/// thread.
struct Floor {
    sp: [Cell<usize>; 2],
    cur: Cell<usize>,
    /// The context to run when the current one parks (`usize::MAX`: none).
    next: Cell<usize>,
    /// The lock whose release commits the last park (null: none).
    unlock: Cell<*const AtomicBool>,
    ping: Chan,
    pong: Chan,
}

impl Floor {
    /// Releases the lock of the park that switched to us.
    #[inline(always)]
    fn after_switch(&self) {
        let l = self.unlock.replace(ptr::null());
        if !l.is_null() {
            // SAFETY: `l` is the lock of one of our channels, which live as long as `self`.
            unsafe { (*l).store(false, Ordering::Release) };
        }
    }

    /// Parks the current context on `c` (held): switches to run-next, which
    /// releases the lock.
    #[inline(never)]
    fn park_unlock(&self, c: &Chan) {
        let me = self.cur.get();
        let n = self.next.replace(usize::MAX);
        if n == usize::MAX {
            crate::error::fatal("goro: floor: park with nothing to run");
        }
        self.unlock.set(&c.lock);
        self.cur.set(n);
        // SAFETY: context `n` is suspended (it parked, or was built by init_stack) and only this thread runs either
        // context; `sp[me]` receives our own saved stack pointer.
        unsafe { goro_switch(self.sp[me].as_ptr(), self.sp[n].get()) };
        self.after_switch();
    }

    #[inline(never)]
    fn send(&self, c: &Chan, v: u64) {
        c.lock();
        let w = c.recvq.replace(ptr::null());
        if !w.is_null() {
            // SAFETY: a linked waiter's context is parked in `recv` below, its frame (and `slot`) alive until resumed.
            unsafe {
                *(*w).slot = v;
                self.next.set((*w).ctx);
            }
            c.unlock();
            return;
        }
        let mut val = v;
        let w = Waiter { ctx: self.cur.get(), slot: &mut val };
        c.sendq.set(&w);
        self.park_unlock(c);
    }

    #[inline(never)]
    fn recv(&self, c: &Chan) -> u64 {
        c.lock();
        let w = c.sendq.replace(ptr::null());
        if !w.is_null() {
            // SAFETY: as in `send`: the parked sender's frame holds the value until it is resumed.
            let v = unsafe {
                self.next.set((*w).ctx);
                *(*w).slot
            };
            c.unlock();
            return v;
        }
        let mut slot = 0u64;
        let w = Waiter { ctx: self.cur.get(), slot: &mut slot };
        c.recvq.set(&w);
        self.park_unlock(c);
        slot
    }
}

/// Times `n` round trips of the floor ping-pong; returns the nanoseconds,
/// or `None` if another call is running (one private stack) or a round
/// trip returned the wrong value.
#[doc(hidden)]
pub fn bench_chan_floor_round_trips(n: u64) -> Option<u64> {
    #[repr(C, align(16))]
    struct Stack([u8; 16 * 1024]);
    static BUSY: AtomicBool = AtomicBool::new(false);
    static mut STACK: Stack = Stack([0; 16 * 1024]);

    /// # Safety
    /// `arg` points at the `Floor` of the running `bench_chan_floor_round_trips`.
    unsafe extern "C" fn echo(arg: usize) -> ! {
        // SAFETY: per the contract; the caller's frame outlives every resumption of this context.
        let f = unsafe { &*(arg as *const Floor) };
        f.after_switch();
        loop {
            let v = f.recv(&f.ping);
            f.send(&f.pong, v);
        }
    }

    if BUSY.swap(true, Ordering::Acquire) {
        return None;
    }
    let f = Floor {
        sp: [Cell::new(0), Cell::new(0)],
        cur: Cell::new(0),
        next: Cell::new(usize::MAX),
        unlock: Cell::new(ptr::null()),
        ping: Chan::new(),
        pong: Chan::new(),
    };
    let top = (&raw mut STACK) as usize + core::mem::size_of::<Stack>();
    // SAFETY: BUSY gives us the private stack alone; the frame is built at its 16-aligned top, and nothing else runs
    // on it. A context left suspended there by an earlier call is simply overwritten.
    f.sp[1].set(unsafe { init_stack(top & !15, echo, &f as *const Floor as usize) });
    // Run the echo context first: it parks receiving, and from then on
    // each side parks in `recv` and is woken by the other's `send`, as in
    // goro's ping-pong benchmark.
    f.cur.set(1);
    f.next.set(0);
    // SAFETY: context 1 is the fresh frame built above; it switches back to
    // us (its run-next) when it parks, through `sp[0]`.
    unsafe { goro_switch(f.sp[0].as_ptr(), f.sp[1].get()) };
    f.after_switch();
    let t0 = crate::time::nanotime();
    let mut ok = true;
    for i in 0..n {
        f.send(&f.ping, i);
        ok &= f.recv(&f.pong) == i;
    }
    let ns = (crate::time::nanotime() - t0) as u64;
    // The echo context is left parked or queued on the private stack: it is
    // never resumed (the next call builds a fresh one).
    BUSY.store(false, Ordering::Release);
    ok.then_some(ns)
}

#[cfg(test)]
mod tests {
    /// Every round trip returns the value sent (the hook returns `None`
    /// otherwise), across the first park (into a fresh context) and many
    /// after, twice (the second call rebuilds the abandoned context).
    #[test]
    fn floor_ping_pong_echoes_every_value() {
        for _ in 0..2 {
            assert!(super::bench_chan_floor_round_trips(10_000).is_some());
        }
    }
}
