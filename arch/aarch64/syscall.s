// Raw system calls that rustix keeps private (rt_sigaction, sigaltstack,
// exit_group), and the signal-return trampoline used as SA_RESTORER.
// AArch64 Linux: number in x8, arguments in x0-x5, `svc #0`, result in x0
// (-4095..-1 is -errno).

    .text

// isize goro_syscall5(usize nr /* x0 */, usize a0 /* x1 */, usize a1 /* x2 */,
//                     usize a2 /* x3 */, usize a3 /* x4 */, usize a4 /* x5 */)
    .globl goro_syscall5
    .type goro_syscall5,%function
    .p2align 4
goro_syscall5:
    .cfi_startproc
    mov x8, x0                    // syscall number
    mov x0, x1                    // arg 0
    mov x1, x2                    // arg 1
    mov x2, x3                    // arg 2
    mov x3, x4                    // arg 3
    mov x4, x5                    // arg 4
    svc #0
    ret                           // x0 = result or -errno
    .cfi_endproc
    .size goro_syscall5, .-goro_syscall5

// goro_sigreturn: installed as sa_restorer; the kernel sets x30 to it before
// entering a handler, and sp points at the rt_sigframe when it runs.
    .globl goro_sigreturn
    .type goro_sigreturn,%function
    .p2align 4
goro_sigreturn:
    mov x8, #139                  // __NR_rt_sigreturn
    svc #0
    brk #1                        // rt_sigreturn does not return
    .size goro_sigreturn, .-goro_sigreturn

// isize goro_clone(usize flags /* x0 */, usize stack /* x1 */, i32 *ctid /* x2 */,
//                  void (*f)(usize) /* x3 */, usize arg /* x4 */)
//
// Starts a thread sharing this address space (raw clone, no TLS set up):
// in the child, sp = `stack` (16-byte aligned by the caller), and it calls
// f(arg), then exits the thread with exit(0). The parent gets the child's
// tid or -errno. f and arg ride into the child in x19/x20, which the kernel
// copies from the parent; the parent's own x19/x20 are restored.
    .globl goro_clone
    .type goro_clone,%function
    .p2align 4
goro_clone:
    .cfi_startproc
    stp x19, x20, [sp, #-16]!
    .cfi_adjust_cfa_offset 16
    mov x19, x3                   // f, for the child
    mov x20, x4                   // arg, for the child
    mov x4, x2                    // child_tid: 5th argument on arm64
    mov x2, xzr                   // parent_tid = NULL
    mov x3, xzr                   // tls = 0 (unchanged)
    mov x8, #220                  // __NR_clone (flags in x0, stack in x1)
    svc #0
    cbz x0, goro_clone_child      // 0: we are the new thread
    ldp x19, x20, [sp], #16       // parent: tid or -errno in x0
    .cfi_adjust_cfa_offset -16
    ret
    .cfi_endproc
    .size goro_clone, .-goro_clone

// The new thread's first instructions (sp = its fresh stack, no caller).
    .type goro_clone_child,%function
    .p2align 4
goro_clone_child:
    .cfi_startproc
    .cfi_undefined x30            // backtraces stop here
    mov x29, xzr                  // end of frame-pointer chain
    mov x30, xzr
    mov x0, x20                   // f(arg)
    blr x19
    mov x0, xzr                   // exit(0): this thread only
    mov x8, #93                   // __NR_exit
    svc #0
    brk #1
    .cfi_endproc
    .size goro_clone_child, .-goro_clone_child
