// The memory functions compiled Rust calls (memcpy, memmove, memset, memcmp,
// bcmp, strlen), for freestanding images only (feature `freestanding`): a
// program with a C library gets them from it. They are assembly, not Rust,
// so the compiler cannot turn their loops back into calls to themselves.
//
// All are leaf functions that touch no stack and use only the argument and
// scratch registers x0-x5 and x9. Bulk copies move 16 bytes per ldp/stp;
// unaligned accesses are fine on normal memory in Linux user space.

    .section .text.goro_mem,"ax",%progbits

// void *memcpy(void *dst /* x0 */, const void *src /* x1 */, size_t n /* x2 */)
    .globl memcpy
    .type memcpy,%function
    .p2align 4
memcpy:
    .cfi_startproc
    mov x3, x0                    // destination cursor; x0 stays dst (the return value)
    cmp x2, #16                   // at least 16 bytes left?
    b.lo 2f                       // fewer than 16 bytes: byte loop only
1:
    ldp x4, x5, [x1], #16         // load 16 bytes, advance src
    stp x4, x5, [x3], #16         // store 16 bytes, advance dst
    sub x2, x2, #16               // 16 bytes fewer to go
    cmp x2, #16                   // at least 16 bytes left?
    b.hs 1b                       // at least 16 left: another chunk
2:
    cbz x2, 3f                    // nothing left
    ldrb w4, [x1], #1             // one byte at a time for the tail
    strb w4, [x3], #1             // store it, advance dst
    subs x2, x2, #1               // one byte fewer to go
    b.ne 2b                       // until none is left
3:
    ret                           // return (x0 holds the result)
    .cfi_endproc
    .size memcpy, .-memcpy

// void *memmove(void *dst /* x0 */, const void *src /* x1 */, size_t n /* x2 */)
//
// Ascending (memcpy, whose chunks never store over source bytes not yet
// loaded when dst < src) unless dst lies inside (src, src + n): then it
// copies from the top down.
    .globl memmove
    .type memmove,%function
    .p2align 4
memmove:
    .cfi_startproc
    sub x9, x0, x1                // dst - src (wraps when dst < src)
    cmp x9, x2                    // compare that distance with n
    b.hs memcpy                   // (dst - src) >= n unsigned: ascending copy is safe
    add x1, x1, x2                // src end
    add x3, x0, x2                // dst end; x0 stays dst (the return value)
    cmp x2, #16                   // at least 16 bytes left?
    b.lo 2f                       // fewer than 16 bytes: byte loop only
1:
    ldp x4, x5, [x1, #-16]!       // step src down 16, load 16 bytes
    stp x4, x5, [x3, #-16]!       // step dst down 16, store them
    sub x2, x2, #16               // 16 bytes fewer to go
    cmp x2, #16                   // at least 16 bytes left?
    b.hs 1b                       // at least 16 left: another chunk
2:
    cbz x2, 3f                    // nothing left
    ldrb w4, [x1, #-1]!           // one byte at a time, downwards
    strb w4, [x3, #-1]!           // step dst down one, store it
    subs x2, x2, #1               // one byte fewer to go
    b.ne 2b                       // until none is left
3:
    ret                           // return (x0 holds the result)
    .cfi_endproc
    .size memmove, .-memmove

// void *memset(void *dst /* x0 */, int c /* w1 */, size_t n /* x2 */)
    .globl memset
    .type memset,%function
    .p2align 4
memset:
    .cfi_startproc
    and w1, w1, #0xff             // the byte (writing w1 also clears x1's upper half)
    orr w1, w1, w1, lsl #8        // replicate it into 2 bytes,
    orr w1, w1, w1, lsl #16       // 4 bytes,
    orr x4, x1, x1, lsl #32       // and 8 bytes
    mov x3, x0                    // destination cursor; x0 stays dst (the return value)
    cmp x2, #16                   // at least 16 bytes left?
    b.lo 2f                       // fewer than 16 bytes: byte loop only
1:
    stp x4, x4, [x3], #16         // store 16 bytes, advance
    sub x2, x2, #16               // 16 bytes fewer to go
    cmp x2, #16                   // at least 16 bytes left?
    b.hs 1b                       // at least 16 left: another chunk
2:
    cbz x2, 3f                    // nothing left
    strb w4, [x3], #1             // one byte at a time for the tail
    subs x2, x2, #1               // one byte fewer to go
    b.ne 2b                       // until none is left
3:
    ret                           // return (x0 holds the result)
    .cfi_endproc
    .size memset, .-memset

// int memcmp(const void *a /* x0 */, const void *b /* x1 */, size_t n /* x2 */)
// int bcmp(...): same; only zero / non-zero matters to its callers.
//
// Returns the difference of the first differing bytes, as unsigned chars.
    .globl memcmp
    .type memcmp,%function
    .globl bcmp
    .type bcmp,%function
    .p2align 4
memcmp:
bcmp:
    .cfi_startproc
    cbz x2, 2f                    // n == 0: equal
1:
    ldrb w3, [x0], #1             // a[i] as unsigned, advance
    ldrb w4, [x1], #1             // b[i] as unsigned, advance
    subs w3, w3, w4               // a[i] - b[i]
    b.ne 3f                       // first difference: that is the result
    subs x2, x2, #1               // one byte fewer to go
    b.ne 1b                       // more bytes to compare
2:
    mov w0, #0                    // all equal
    ret                           // return (x0 holds the result)
3:
    mov w0, w3                    // the difference, sign included
    ret                           // return (x0 holds the result)
    .cfi_endproc
    .size memcmp, .-memcmp
    .size bcmp, .-bcmp

// size_t strlen(const char *s /* x0 */)
    .globl strlen
    .type strlen,%function
    .p2align 4
strlen:
    .cfi_startproc
    mov x1, x0                    // cursor
1:
    ldrb w2, [x1], #1             // next byte, advance
    cbnz w2, 1b                   // not the NUL yet
    sub x0, x1, x0                // bytes read, NUL included
    sub x0, x0, #1                // minus the NUL
    ret                           // return (x0 holds the result)
    .cfi_endproc
    .size strlen, .-strlen

    .text                         // back to the default section for whatever assembly follows
