# goro context switch and goroutine entry, x86_64 System V.
#
# Every goroutine (and every M's scheduler context, "g0") is resumed by
# goro_switch. The saved state of a suspended context is a frame on its own
# stack, and the only thing kept elsewhere is the stack pointer that addresses
# the frame:
#
#         higher addresses
#     +--------------------+
#     | return address     |  <- where goro_switch returns to in that context
#     | rbp                |
#     | rbx                |
#     | r12                |
#     | r13                |
#     | r14                |
#     | r15                |
#     | fcw (2) | mxcsr(4) |  8 bytes: mxcsr at +0, x87 control word at +4
#     +--------------------+  <- saved sp (16-byte aligned)
#         lower addresses
#
# The control words are reloaded only when they differ from the suspended
# context's (ldmxcsr and fldcw cost several cycles each; equal words are the
# common case). The MXCSR exception *flags* are compared too, so a context
# whose flags differ simply takes the reload path.
#
# Only callee-saved state is saved: the caller of goro_switch is ordinary
# compiled Rust, which already assumes every caller-saved register (rax, rcx,
# rdx, rsi, rdi, r8-r11, xmm0-15, x87 stack) is clobbered by a call. The MXCSR
# control bits and the x87 control word are callee-saved in the SysV ABI, so
# they travel with the context.

    .text

# void goro_switch(usize *save_sp /* rdi */, usize load_sp /* rsi */)
#
# Entry: rsp = 8 mod 16 (return address just pushed), rdi points to the slot
# that receives this context's sp, rsi is a sp previously stored by
# goro_switch or built by goro::arch::init_stack.
# Exit (in the other context): all callee-saved registers of that context
# restored, returns to its saved return address.
    .globl goro_switch
    .type goro_switch,@function
    .p2align 4
goro_switch:
    .cfi_startproc
    pushq %rbp                    # save callee-saved integer registers
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp                 # room for mxcsr + x87 control word; rsp is now 16-aligned
    stmxcsr (%rsp)                # SSE control/status (rounding, exception masks)
    fnstcw 4(%rsp)                # x87 control word (precision, rounding)
    movl (%rsp), %eax             # our control words, to compare with theirs, each
    movzwl 4(%rsp), %ecx          # read at the width it was stored (store forwarding)
    movq %rsp, (%rdi)             # publish our sp: this context is now suspended
    movq %rsi, %rsp               # adopt the other context's stack
    cmpl (%rsp), %eax             # same control words (the usual case)?
    jne 2f                        # else take the slow ldmxcsr/fldcw path
    cmpw 4(%rsp), %cx
    jne 2f
1:
    addq $8, %rsp
    popq %r15                     # restore its callee-saved registers
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret                           # continue where it called goro_switch (or enter the trampoline)
2:
    ldmxcsr (%rsp)                # restore its control words
    fldcw 4(%rsp)
    jmp 1b
    .cfi_endproc
    .size goro_switch, .-goro_switch

# goro_trampoline: first code a new goroutine runs, reached by the `ret` of
# goro_switch on a frame built by init_stack.
#
# Entry: r12 = entry function `extern "C" fn(*mut u8) -> !`, r13 = its
# argument, rbp = 0, rsp = 16-byte aligned (the top of the initial frame).
# The entry function never returns: it ends in goro's exit path, which
# switches back to the scheduler for good.
    .globl goro_trampoline
    .type goro_trampoline,@function
    .p2align 4
goro_trampoline:
    .cfi_startproc
    .cfi_undefined %rip           # unwinders and backtraces stop here: no caller
    movq %r13, %rdi               # first argument: the packet on this stack
    callq *%r12                   # rsp is 16-aligned at the call, as the ABI requires
    ud2                           # unreachable: the entry function is `-> !`
    .cfi_endproc
    .size goro_trampoline, .-goro_trampoline
