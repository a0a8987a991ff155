# Program entry of a freestanding goro image (feature `freestanding`),
# x86_64 System V. Linked only into programs that have no C runtime: the
# kernel jumps here with the initial process stack laid out as
#
#         higher addresses
#     +----------------------+
#     | strings, auxv data   |
#     | AT_NULL (0, 0)       |
#     | auxv pairs (type, v) |
#     | NULL                 |
#     | envp[0..]            |
#     | NULL                 |
#     | argv[0..argc-1]      |
#     | argc                 |  <- rsp at entry (16-byte aligned by the ABI)
#     +----------------------+
#         lower addresses
#
# Entry: rsp = &argc, rdx = function to register with atexit (always 0 for a
# static program started by the kernel; ignored), every other register
# unspecified. No return address: _start must never return.

    .text

# noreturn _start(void)
#
# Calls goro_start(sp = &argc), which parses the stack, runs the program and
# ends it with exit_group or power-off; it never returns here.
    .globl _start
    .type _start,@function
    .p2align 4
_start:
    .cfi_startproc
    .cfi_undefined %rip           # backtraces stop here: there is no caller
    xorl %ebp, %ebp               # end of the frame-pointer chain
    movq %rsp, %rdi               # first argument: &argc, as the kernel left it
    andq $-16, %rsp               # keep the call ABI-aligned even if the kernel did not (goro_start debug-checks it)
    callq goro_start              # push a (never used) return address and enter Rust
    ud2                           # unreachable: goro_start is `-> !`
    .cfi_endproc
    .size _start, .-_start
