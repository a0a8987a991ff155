//! x86_64 frame layout for `goro_switch` (see `arch/x86_64/context.s`).
#![allow(unsafe_code)]

core::arch::global_asm!(include_str!("../../arch/x86_64/context.s"), options(att_syntax));
core::arch::global_asm!(include_str!("../../arch/x86_64/syscall.s"), options(att_syntax));
// The program entry and the C memory functions, only for freestanding
// programs (a program with libc gets both from it).
#[cfg(feature = "freestanding")]
core::arch::global_asm!(include_str!("../../arch/x86_64/start.s"), options(att_syntax));
#[cfg(feature = "freestanding")]
core::arch::global_asm!(include_str!("../../arch/x86_64/mem.s"), options(att_syntax));

/// Default MXCSR (all exceptions masked, round to nearest) and x87 control
/// word (extended precision, all exceptions masked), as a new process has.
const MXCSR_DEFAULT: u64 = 0x1F80;
const FCW_DEFAULT: u64 = 0x037F;

/// Size of the frame `goro_switch` pops: control words, six registers and the
/// return address.
const FRAME: usize = 8 * 8;

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
    let words: [u64; 8] = [
        MXCSR_DEFAULT | (FCW_DEFAULT << 32), // +0  mxcsr, fcw at +4
        0,                                   // +8  r15
        0,                                   // +16 r14
        arg as u64,                          // +24 r13: trampoline's argument
        entry as *const () as usize as u64,  // +32 r12: trampoline's callee
        0,                                   // +40 rbx
        0,                                   // +48 rbp: ends frame-pointer chains
        super::trampoline_addr() as u64,     // +56 return address
    ];
    // SAFETY: the caller guarantees [top - FRAME, top) is writable memory of
    // a stack nobody runs on yet; `sp` is 8-aligned because `top` is 16-aligned.
    unsafe { core::ptr::copy_nonoverlapping(words.as_ptr(), sp as *mut u64, 8) };
    sp
}
