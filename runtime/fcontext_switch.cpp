// gort_switch_fcontext (see runtime/fcontext_switch.hpp): Boost.Context's
// jump_fcontext for x86-64 System V (boost/context/asm/
// jump_x86_64_sysv_elf_gas.S, the same from Boost 1.61 on), instruction for
// instruction, except its last: `ret` where Boost pops the return address
// into r8 and jumps through it. The frame is fcontext_frame's: 0x0 MXCSR,
// 0x4 x87 control word, 0x8-0x30 r12 r13 r14 r15 rbx rbp, 0x38 the return
// address. Returns the caller's context in rax and `data` in rdx (transfer_t),
// and passes the same in rdi/rsi to a context's entry function.
#include "runtime/fcontext_frame.hpp"
#include "runtime/fcontext_switch.hpp"

#if defined(__x86_64__) && defined(__ELF__)
static_assert(gort::detail::k_fcontext_frame_known);

asm(R"(
    .text
    .globl gort_switch_fcontext
    .hidden gort_switch_fcontext
    .type gort_switch_fcontext, @function
    .p2align 4
gort_switch_fcontext:
    leaq   -0x38(%rsp), %rsp    /* the frame, below the return address */
    stmxcsr (%rsp)
    fnstcw 0x4(%rsp)
    movq   %r12, 0x8(%rsp)
    movq   %r13, 0x10(%rsp)
    movq   %r14, 0x18(%rsp)
    movq   %r15, 0x20(%rsp)
    movq   %rbx, 0x28(%rsp)
    movq   %rbp, 0x30(%rsp)
    movq   %rsp, %rax           /* our context */
    movq   %rdi, %rsp           /* the target's frame */
    ldmxcsr (%rsp)
    fldcw  0x4(%rsp)
    movq   0x8(%rsp), %r12
    movq   0x10(%rsp), %r13
    movq   0x18(%rsp), %r14
    movq   0x20(%rsp), %r15
    movq   0x28(%rsp), %rbx
    movq   0x30(%rsp), %rbp
    leaq   0x38(%rsp), %rsp     /* at the return address */
    movq   %rsi, %rdx           /* transfer_t {our context, data} */
    movq   %rax, %rdi           /* ... and as an entry function's arguments */
    ret
    .size gort_switch_fcontext, .-gort_switch_fcontext
    .section .note.GNU-stack, "", %progbits
    .text
)");
#endif
