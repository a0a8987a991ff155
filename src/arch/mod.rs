//! Per-architecture glue: the assembly in the top-level `arch/` folder and the
//! Rust that knows its frame layouts.
//!
//! Both architectures export the same symbols:
//!
//! | symbol | what |
//! |---|---|
//! | `goro_switch(save_sp, load_sp)` | save callee-saved state, switch stacks |
//! | `goro_trampoline` | first code of a new goroutine |
//! | `goro_syscall5(nr, a0..a4)` | raw system call for what rustix keeps private |
//! | `goro_sigreturn` | `SA_RESTORER` trampoline |
//! | `goro_clone(flags, stack, ctid, f, arg)` | raw thread creation (no TLS) |
//!
//! With the `freestanding` feature, also (`start.s`, `mem.s`):
//!
//! | symbol | what |
//! |---|---|
//! | `_start` | program entry: calls `goro_start(&argc)` (in `freestanding`) |
//! | `memcpy`, `memmove`, `memset`, `memcmp`, `bcmp`, `strlen` | what compiled code calls, as libc would provide |
//!
//! # Safety
//!
//! This module opts in to `unsafe` (HACKING.md lists the modules that do):
//! it declares foreign assembly functions, writes initial stack frames into
//! raw stack memory, and runs the benchmark floors on a private stack.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
#[path = "x86_64.rs"]
mod imp;

#[cfg(target_arch = "aarch64")]
#[path = "aarch64.rs"]
mod imp;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("goro supports x86_64 and aarch64 only");

mod floor;

pub use floor::bench_chan_floor_round_trips;
pub(crate) use imp::init_stack;

extern "C" {
    /// Saves the callee-saved state of the running context on its stack,
    /// stores its stack pointer in `*save_sp`, then resumes the context whose
    /// stack pointer is `load_sp`.
    pub(crate) fn goro_switch(save_sp: *mut usize, load_sp: usize);
    fn goro_trampoline();
    /// Raw Linux system call with up to five arguments; returns the raw
    /// result (negative errno on failure).
    pub(crate) fn goro_syscall5(nr: usize, a0: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> isize;
    fn goro_sigreturn();
    /// Raw `clone`: the child runs `f(arg)` on `stack`, then `exit(0)`.
    pub(crate) fn goro_clone(flags: usize, stack: usize, ctid: *mut i32, f: extern "C" fn(usize), arg: usize) -> isize;
}

/// Asks the CPU to bring the cache line holding `addr` (and its
/// translation) close, for a read soon. A hint: it never faults, whatever
/// `addr` is, and has no other effect.
#[inline(always)]
pub(crate) fn prefetch(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch instruction reads no architectural state and never faults (an unmapped or
    // protected address is simply not fetched); it touches no register but its address operand.
    unsafe {
        core::arch::asm!("prefetcht0 [{0}]", in(reg) addr, options(nostack, preserves_flags, readonly))
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above, for PRFM, which never faults either.
    unsafe {
        core::arch::asm!("prfm pldl1keep, [{0}]", in(reg) addr, options(nostack, preserves_flags, readonly))
    };
}

/// Address of the signal-return trampoline, for `sa_restorer`.
pub(crate) fn sigreturn_addr() -> usize {
    goro_sigreturn as *const () as usize
}

fn trampoline_addr() -> usize {
    goro_trampoline as *const () as usize
}

/// The entry point a new goroutine's trampoline calls with its argument.
pub(crate) type Entry = unsafe extern "C" fn(arg: usize) -> !;

/// Benchmark support, not API: times `n` round trips of bare `goro_switch`
/// (two switches each) between the calling thread and a second context on
/// a private stack, with no scheduler work at all. `goro-bench` prints it
/// as the floor under the yield round trip. Returns nanoseconds in total,
/// or `None` if another call is running.
#[doc(hidden)]
pub fn bench_switch_round_trips(n: u64) -> Option<u64> {
    use core::sync::atomic::{AtomicBool, Ordering};

    #[repr(C, align(16))]
    struct Stack([u8; 16 * 1024]);
    struct Ctx {
        main_sp: usize,
        other_sp: usize,
    }
    static BUSY: AtomicBool = AtomicBool::new(false);
    static mut STACK: Stack = Stack([0; 16 * 1024]);

    /// # Safety
    /// `arg` points at the `Ctx` of the running `bench_switch_round_trips`.
    unsafe extern "C" fn bounce(arg: usize) -> ! {
        let c = arg as *mut Ctx;
        loop {
            // SAFETY: per the contract; `main_sp` holds the suspended caller.
            unsafe { goro_switch(&raw mut (*c).other_sp, (*c).main_sp) };
        }
    }

    if BUSY.swap(true, Ordering::Acquire) {
        return None;
    }
    let mut c = Ctx { main_sp: 0, other_sp: 0 };
    let top = (&raw mut STACK) as usize + core::mem::size_of::<Stack>();
    // SAFETY: BUSY gives us the private stack alone; the frame is built at its 16-aligned top, and nothing else runs
    // on it. The context left suspended there from an earlier call is simply overwritten.
    c.other_sp = unsafe { init_stack(top & !15, bounce, &raw mut c as usize) };
    let t0 = crate::time::nanotime();
    for _ in 0..n {
        // SAFETY: `other_sp` is the suspended `bounce` context (fresh or
        // saved by its last switch), which switches straight back to us.
        unsafe { goro_switch(&raw mut c.main_sp, c.other_sp) };
    }
    let ns = (crate::time::nanotime() - t0) as u64;
    BUSY.store(false, Ordering::Release);
    Some(ns)
}
