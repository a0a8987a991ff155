//! AArch64 frame layout for `goro_switch` (see `arch/aarch64/context.s`).
#![allow(unsafe_code)]

core::arch::global_asm!(include_str!("../../arch/aarch64/context.s"));
core::arch::global_asm!(include_str!("../../arch/aarch64/syscall.s"));
// The program entry and the C memory functions, only for freestanding
// programs (a program with libc gets both from it).
#[cfg(feature = "freestanding")]
core::arch::global_asm!(include_str!("../../arch/aarch64/start.s"));
#[cfg(feature = "freestanding")]
core::arch::global_asm!(include_str!("../../arch/aarch64/mem.s"));

/// Size of the frame `goro_switch` pops (x19-x30, d8-d15, fpcr, padding).
const FRAME: usize = 176;

/// Builds the initial frame of a new goroutine below `top` and returns the
/// stack pointer to hand to `goro_switch`.
///
/// # Safety
///
/// `top` must be 16-byte aligned and the `FRAME` bytes below it writable and
/// owned by the caller (the new goroutine's stack, not yet running).
pub(crate) unsafe fn init_stack(top: usize, entry: super::Entry, arg: usize) -> usize {
    debug_assert_eq!(top % 16, 0, "goro: arch: unaligned stack top");
    let sp = top - FRAME;
    let mut words = [0u64; FRAME / 8];
    words[0] = entry as *const () as usize as u64; // x19: trampoline's callee
    words[1] = arg as u64; // x20: trampoline's argument
    words[10] = 0; // x29: ends frame-pointer chains
    words[11] = super::trampoline_addr() as u64; // x30: where goro_switch returns
    words[20] = 0; // fpcr: round to nearest, no flush-to-zero (the reset value)
                   // SAFETY: the caller guarantees [top - FRAME, top) is writable memory of
                   // a stack nobody runs on yet; `sp` is 16-aligned because `top` is.
    unsafe { core::ptr::copy_nonoverlapping(words.as_ptr(), sp as *mut u64, FRAME / 8) };
    sp
}
