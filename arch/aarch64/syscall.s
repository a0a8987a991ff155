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
