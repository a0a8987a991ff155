# The memory functions compiled Rust calls (memcpy, memmove, memset, memcmp,
# bcmp, strlen), for freestanding images only (feature `freestanding`): a
# program with a C library gets them from it. They are assembly, not Rust,
# so the compiler cannot turn their loops back into calls to themselves.
#
# All are leaf functions that touch no stack. The `rep` string instructions
# need the direction flag clear on entry and exit (SysV ABI); memmove sets it
# for a backward copy and clears it again before returning.

    .section .text.goro_mem,"ax",@progbits

# void *memcpy(void *dst /* rdi */, const void *src /* rsi */, size_t n /* rdx */)
    .globl memcpy
    .type memcpy,@function
    .p2align 4
memcpy:
    .cfi_startproc
    movq %rdi, %rax               # return value: dst
    movq %rdx, %rcx               # byte count for rep
    rep movsb                     # copy rcx bytes from (rsi) to (rdi), ascending
    ret                           # return (rax holds the result)
    .cfi_endproc
    .size memcpy, .-memcpy

# void *memmove(void *dst /* rdi */, const void *src /* rsi */, size_t n /* rdx */)
#
# Copies ascending unless dst lies inside (src, src + n), where an ascending
# copy would overwrite source bytes before reading them.
    .globl memmove
    .type memmove,@function
    .p2align 4
memmove:
    .cfi_startproc
    movq %rdi, %rax               # return value: dst
    movq %rdx, %rcx               # byte count for rep
    movq %rdi, %r8                # r8 = dst
    subq %rsi, %r8                # r8 = dst - src (wraps when dst < src)
    cmpq %rdx, %r8                # compare that distance with n
    jae 1f                        # (dst - src) >= n unsigned: ascending copy is safe
    leaq -1(%rsi,%rdx), %rsi      # last source byte
    leaq -1(%rdi,%rdx), %rdi      # last destination byte
    std                           # descending
    rep movsb                     # copy rcx bytes from the top down
    cld                           # the ABI wants the direction flag clear
    ret                           # return (rax holds the result)
1:
    rep movsb                     # ascending copy
    ret                           # return (rax holds the result)
    .cfi_endproc
    .size memmove, .-memmove

# void *memset(void *dst /* rdi */, int c /* esi */, size_t n /* rdx */)
    .globl memset
    .type memset,@function
    .p2align 4
memset:
    .cfi_startproc
    movq %rdi, %r8                # keep dst for the return value
    movl %esi, %eax               # stosb stores al (the low byte of c)
    movq %rdx, %rcx               # byte count for rep
    rep stosb                     # store al to rcx bytes at (rdi), ascending
    movq %r8, %rax                # return value: dst
    ret                           # return (rax holds the result)
    .cfi_endproc
    .size memset, .-memset

# int memcmp(const void *a /* rdi */, const void *b /* rsi */, size_t n /* rdx */)
# int bcmp(...): same; only zero / non-zero matters to its callers.
#
# Returns the difference of the first differing bytes, as unsigned chars.
    .globl memcmp
    .type memcmp,@function
    .globl bcmp
    .type bcmp,@function
    .p2align 4
memcmp:
bcmp:
    .cfi_startproc
    xorl %eax, %eax               # equal so far (and the result for n == 0)
    testq %rdx, %rdx              # n == 0?
    jz 2f                         # n == 0: equal
1:
    movzbl (%rdi), %eax           # a[i] as unsigned
    movzbl (%rsi), %ecx           # b[i] as unsigned
    subl %ecx, %eax               # a[i] - b[i]
    jnz 2f                        # first difference: that is the result
    incq %rdi                     # next byte
    incq %rsi                     # (in both buffers)
    decq %rdx                     # one byte fewer to compare
    jnz 1b                        # more bytes to compare (eax is 0 on the way out)
2:
    ret                           # return (rax holds the result)
    .cfi_endproc
    .size memcmp, .-memcmp
    .size bcmp, .-bcmp

# size_t strlen(const char *s /* rdi */)
    .globl strlen
    .type strlen,@function
    .p2align 4
strlen:
    .cfi_startproc
    movq %rdi, %rax               # cursor
1:
    cmpb $0, (%rax)               # at the terminating NUL?
    je 2f                         # yes: done
    incq %rax                     # no: next byte
    jmp 1b                        # and look at it
2:
    subq %rdi, %rax               # length = cursor - s
    ret                           # return (rax holds the result)
    .cfi_endproc
    .size strlen, .-strlen

    .text                         # back to the default section for whatever assembly follows
