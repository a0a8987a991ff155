//! Runtime threads by raw `clone` (no libc, no TLS), and CPU counting.
#![allow(unsafe_code)]

use crate::arch::goro_clone;
use core::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use linux_raw_sys::general as k;

/// Native stack of each clone thread (the thread soon moves to its g0
/// stack in the stack region; this one only holds its first frames).
const STACK: usize = 64 * 1024;
/// Thread slots: one per M plus sysmon.
pub(crate) const SLOTS: usize = crate::sched::MAX_M + 1;

/// Stack base per slot (reserved once, reused by the slot's next thread).
static STACKS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
/// Child tid per slot: the kernel clears it (and futex-wakes) when the
/// thread has exited, so its stack may be reused.
static TIDS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];

/// Starts a thread running `f(arg)` on thread slot `slot`'s stack.
pub(crate) fn spawn(slot: usize, f: extern "C" fn(usize), arg: usize) -> bool {
    let tid = &TIDS[slot];
    // Wait for the slot's previous thread (if any) to be gone entirely.
    loop {
        let t = tid.load(Ordering::Acquire);
        if t == 0 {
            break;
        }
        // Not FUTEX_PRIVATE: the kernel's clear-tid wake is a shared one.
        let _ = rustix::thread::futex::wait(as_u32(tid), rustix::thread::futex::Flags::empty(), t as u32, None);
    }
    let mut base = STACKS[slot].load(Ordering::Acquire);
    if base == 0 {
        let page = super::page_size();
        let Ok(b) = super::reserve(STACK + page) else { return false };
        // SAFETY: the range is inside the mapping just reserved; its first
        // page stays PROT_NONE as a guard.
        if unsafe { super::make_rw(b + page, STACK) }.is_err() {
            return false;
        }
        STACKS[slot].store(b, Ordering::Release);
        base = b;
    }
    let top = (base + super::page_size() + STACK) & !15;
    let flags = k::CLONE_VM
        | k::CLONE_FS
        | k::CLONE_FILES
        | k::CLONE_SIGHAND
        | k::CLONE_THREAD
        | k::CLONE_SYSVSEM
        | k::CLONE_CHILD_CLEARTID;
    tid.store(-1, Ordering::Release);
    // The slot's previous thread has exited: its tid was cleared. `f` runs without TLS, which goro's threads never use.
    // SAFETY: `top` is the 16-aligned top of a writable stack no thread uses; `ctid` points at a static the kernel
    // clears at thread exit.
    let r = unsafe { goro_clone(flags as usize, top, tid.as_ptr(), f, arg) };
    if r < 0 {
        tid.store(0, Ordering::Release);
        return false;
    }
    // CLONE_CHILD_CLEARTID clears the word at exit; until then it must
    // be non-zero, which -1 (or the tid, if we stored it) ensures.
    true
}

fn as_u32(a: &AtomicI32) -> &core::sync::atomic::AtomicU32 {
    // SAFETY: AtomicI32 and AtomicU32 have the same size, alignment and
    // bit validity; the futex call only reads the word.
    unsafe { &*(a as *const AtomicI32 as *const core::sync::atomic::AtomicU32) }
}

/// CPUs this process may run on (`sched_getaffinity`), at least 1.
pub(crate) fn cpu_count() -> usize {
    match rustix::thread::sched_getaffinity(None) {
        Ok(set) => set.count() as usize,
        Err(_) => 1,
    }
    .max(1)
}
