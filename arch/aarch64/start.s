// Program entry of a freestanding goro image (feature `freestanding`),
// AArch64 (AAPCS64). Linked only into programs that have no C runtime: the
// kernel jumps here with the initial process stack laid out as
//
//         higher addresses
//     +----------------------+
//     | strings, auxv data   |
//     | AT_NULL (0, 0)       |
//     | auxv pairs (type, v) |
//     | NULL                 |
//     | envp[0..]            |
//     | NULL                 |
//     | argv[0..argc-1]      |
//     | argc                 |  <- sp at entry (16-byte aligned by the ABI)
//     +----------------------+
//         lower addresses
//
// Entry: sp = &argc, x0 = function to register with atexit (0 for a static
// program started by the kernel; ignored), x29/x30 unspecified. There is no
// return address: _start must never return.

    .text

// noreturn _start(void)
//
// Calls goro_start(sp = &argc), which parses the stack, runs the program and
// ends it with exit_group or power-off; it never returns here.
    .globl _start
    .type _start,%function
    .p2align 4
_start:
    .cfi_startproc
    .cfi_undefined x30            // backtraces stop here: there is no caller
    mov x29, xzr                  // end of the frame-pointer chain
    mov x30, xzr                  // null return address for frame-pointer walkers
    mov x0, sp                    // first argument: &argc, as the kernel left it
    and x9, x0, #-16              // keep the call ABI-aligned even if the kernel did not
    mov sp, x9                    //   (goro_start debug-checks the original value)
    bl goro_start                 // enter Rust
    brk #1                        // unreachable: goro_start is `-> !`
    .cfi_endproc
    .size _start, .-_start
