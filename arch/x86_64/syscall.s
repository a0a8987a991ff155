# Raw system calls that rustix keeps private (rt_sigaction, sigaltstack,
# exit_group), and the signal-return trampoline the kernel needs for
# SA_RESTORER. x86_64 Linux: number in rax, arguments in rdi, rsi, rdx, r10,
# r8, r9; the `syscall` instruction clobbers rcx and r11; result in rax
# (-4095..-1 is -errno).

    .text

# isize goro_syscall5(usize nr /* rdi */, usize a0 /* rsi */, usize a1 /* rdx */,
#                     usize a2 /* rcx */, usize a3 /* r8 */, usize a4 /* r9 */)
    .globl goro_syscall5
    .type goro_syscall5,@function
    .p2align 4
goro_syscall5:
    .cfi_startproc
    movq %rdi, %rax               # syscall number
    movq %rsi, %rdi               # arg 0
    movq %rdx, %rsi               # arg 1
    movq %rcx, %rdx               # arg 2
    movq %r8, %r10                # arg 3 (the kernel takes it in r10, not rcx)
    movq %r9, %r8                 # arg 4
    syscall
    ret                           # rax = result or -errno
    .cfi_endproc
    .size goro_syscall5, .-goro_syscall5

# goro_sigreturn: installed as sa_restorer. A signal handler returns here
# (its return address was pushed by the kernel), with rsp pointing at the
# kernel's rt_sigframe; rt_sigreturn restores the interrupted context.
    .globl goro_sigreturn
    .type goro_sigreturn,@function
    .p2align 4
goro_sigreturn:
    movq $15, %rax                # __NR_rt_sigreturn
    syscall
    ud2                           # rt_sigreturn does not return
    .size goro_sigreturn, .-goro_sigreturn
