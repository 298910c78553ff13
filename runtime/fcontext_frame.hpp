// fcontext_frame: the frame Boost.Context's jump_fcontext (and gort's
// switch_fcontext, runtime/fcontext_switch.hpp) leaves on the stack of a
// context it switches away from, on x86-64 (System V; the same from Boost
// 1.61 to today). A switched-out fiber's saved context (fiber::ctx_, a
// fcontext_t) is the address of this frame; when the context resumes, its
// stack pointer is that address plus sizeof(fcontext_frame) and it continues
// at `rip`.
//
// This is the one description of that frame: the in-process unwinder
// (runtime/unwind.cpp) reads a parked fiber's registers through it, and the
// gdb extension (tools/gdb/gort.py) reads the same type from the program's
// debug information, so the two cannot disagree.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gort::detail {

#if defined(__x86_64__)
inline constexpr bool k_fcontext_frame_known = true;

struct fcontext_frame {
  std::uint32_t mxcsr;   // SSE control and status word
  std::uint32_t x87_cw;  // x87 control word
  std::uint64_t r12, r13, r14, r15, rbx, rbp;  // the callee-saved registers
  std::uint64_t rip;     // the return address of the call to jump_fcontext
};

static_assert(sizeof(fcontext_frame) == 0x40 && offsetof(fcontext_frame, r12) == 0x08 &&
                  offsetof(fcontext_frame, rbx) == 0x28 && offsetof(fcontext_frame, rbp) == 0x30 &&
                  offsetof(fcontext_frame, rip) == 0x38,
              "fcontext_frame: jump_fcontext's layout (boost/context/asm/jump_x86_64_sysv_elf_gas.S)");
#else
inline constexpr bool k_fcontext_frame_known = false;
struct fcontext_frame {};  // call stacks of parked fibers are x86-64 only
#endif

}  // namespace gort::detail
