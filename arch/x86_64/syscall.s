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

# isize goro_clone(usize flags /* rdi */, usize stack /* rsi */, i32 *ctid /* rdx */,
#                  void (*f)(usize) /* rcx */, usize arg /* r8 */)
#
# Starts a thread sharing this address space (raw clone, no TLS set up):
# in the child, rsp = `stack` (16-byte aligned by the caller), and it calls
# f(arg), then exits the thread with exit(0). The parent gets the child's
# tid or -errno. f and arg ride into the child in r12/r13, which the kernel
# copies from the parent; the parent's own r12/r13 are restored.
    .globl goro_clone
    .type goro_clone,@function
    .p2align 4
goro_clone:
    .cfi_startproc
    pushq %r12
    .cfi_adjust_cfa_offset 8
    pushq %r13
    .cfi_adjust_cfa_offset 8
    movq %rcx, %r12               # f, for the child
    movq %r8, %r13                # arg, for the child
    movq %rdx, %r10               # child_tid: 4th syscall argument
    xorl %edx, %edx               # parent_tid = NULL
    xorl %r8d, %r8d               # tls = 0 (unchanged)
    movl $56, %eax                # __NR_clone (flags in rdi, stack in rsi)
    syscall
    testq %rax, %rax
    jz goro_clone_child           # 0: we are the new thread
    popq %r13                     # parent: tid or -errno in rax
    .cfi_adjust_cfa_offset -8
    popq %r12
    .cfi_adjust_cfa_offset -8
    ret
    .cfi_endproc
    .size goro_clone, .-goro_clone

# The new thread's first instructions (rsp = its fresh stack, no caller).
    .type goro_clone_child,@function
    .p2align 4
goro_clone_child:
    .cfi_startproc
    .cfi_undefined %rip           # backtraces stop here
    xorl %ebp, %ebp               # end of frame-pointer chain
    movq %r13, %rdi               # f(arg)
    callq *%r12
    xorl %edi, %edi               # exit(0): this thread only
    movl $60, %eax                # __NR_exit
    syscall
    ud2
    .cfi_endproc
    .size goro_clone_child, .-goro_clone_child
