// goro context switch and goroutine entry, AArch64 (AAPCS64).
//
// The saved state of a suspended context is a 176-byte frame on its own
// stack; only the stack pointer that addresses it is kept elsewhere:
//
//         higher addresses
//     +-------------------+  <- sp before goro_switch (16-byte aligned)
//     | (pad)   | fpcr    |  +160 fpcr, +168 unused
//     | d14     | d15     |  +144
//     | d12     | d13     |  +128
//     | d10     | d11     |  +112
//     | d8      | d9      |  +96   low 64 bits of v8-v15 are callee-saved
//     | x29(fp) | x30(lr) |  +80   x30 is where goro_switch returns to
//     | x27     | x28     |  +64
//     | x25     | x26     |  +48
//     | x23     | x24     |  +32
//     | x21     | x22     |  +16
//     | x19     | x20     |  +0
//     +-------------------+  <- saved sp
//         lower addresses
//
// Only callee-saved state is saved: x19-x28, fp, lr, d8-d15 and the FPCR
// control register (rounding mode, flush-to-zero); the caller of goro_switch
// is compiled code that already treats every other register as clobbered.
// x18 is the platform register and is left alone.

    .text

// void goro_switch(usize *save_sp /* x0 */, usize load_sp /* x1 */)
    .globl goro_switch
    .type goro_switch,%function
    .p2align 4
goro_switch:
    .cfi_startproc
    sub sp, sp, #176              // frame for the callee-saved state; sp stays 16-aligned
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]       // frame pointer and return address
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr                  // floating-point control register
    str x9, [sp, #160]
    mov x10, sp
    str x10, [x0]                 // publish our sp: this context is now suspended
    mov sp, x1                    // adopt the other context's stack
    ldr x10, [sp, #160]
    cmp x9, x10                   // same FPCR (the usual case)?
    b.eq 1f                       // then skip the msr, which can serialize
    msr fpcr, x10
1:
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #176
    ret                           // to x30: where that context called goro_switch, or the trampoline
    .cfi_endproc
    .size goro_switch, .-goro_switch

// goro_trampoline: first code a new goroutine runs, reached by the `ret` of
// goro_switch on a frame built by init_stack.
//
// Entry: x19 = entry function `extern "C" fn(*mut u8) -> !`, x20 = its
// argument, x29 = 0, sp = 16-byte aligned. The entry function never returns.
    .globl goro_trampoline
    .type goro_trampoline,%function
    .p2align 4
goro_trampoline:
    .cfi_startproc
    .cfi_undefined x30            // unwinders and backtraces stop here: no caller
    mov x0, x20                   // first argument: the packet on this stack
    mov x30, xzr                  // null return address for frame-pointer walkers
    blr x19
    brk #1                        // unreachable: the entry function is `-> !`
    .cfi_endproc
    .size goro_trampoline, .-goro_trampoline
