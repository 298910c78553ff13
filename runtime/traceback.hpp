// traceback: every fiber's call stack in gort's reports (Go's traceback).
//
// How a stack is taken:
//   - A parked or runnable fiber (runtime/unwind.cpp): its saved context
//     (runtime/fcontext_frame.hpp) gives the registers; its stack, from the
//     saved stack pointer up, is copied between two loads of its switch
//     generation (fiber::switch_gen_) and kept only if neither the generation
//     nor the fiber moved meanwhile (a seqlock whose writer is the fiber
//     running). The fiber is never resumed or held: a copy that raced with
//     its resumption is retried, then left out with a note.
//   - A running fiber (runtime/sampler.cpp) is sampled on its own thread: a
//     signal (SIGURG, as Go's preemption uses) whose handler copies the
//     registers and the stack into a buffer the requester prepared. The
//     calling thread's own fiber is taken in place (panics, dumps from a
//     fiber).
//   - Either copy is unwound by elfutils' libdwfl, which reads the binaries'
//     unwind tables (.eh_frame/.debug_frame), with every memory read served
//     from the copy (an address outside it ends the unwind, never faults).
//   - Symbolization (runtime/symbolize.cpp): function names (demangled) and
//     file:line from DWARF, inlined calls as frames of their own; from the
//     symbol table without debug information; `function+0x1d` and
//     `binary+0x1234` when that is all there is. Once per address (cached).
//
// Invariants:
//   - Everything here except the signal handler's copy runs under one
//     process-wide lock (a traceback_session holds it): libdwfl is not
//     thread-safe, and reports are rare. Nothing here is on a fiber's path.
//   - Frames of gort itself, the C++ library and the C library are "system"
//     frames, left out unless GORT_TRACEBACK=system; the user's are never.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace gort::detail {

struct fiber;
class machine;

// Printed frames at most, as Go cuts a traceback; and raw frames unwound.
inline constexpr std::size_t k_max_frames = 100;
inline constexpr std::size_t k_max_raw_frames = 150;

// Registers in DWARF's x86-64 numbering: 0-15 the general registers (3 rbx,
// 6 rbp, 7 rsp, 12-15 r12-r15), 16 the program counter.
struct stack_regs {
  static constexpr int k_sp = 7, k_pc = 16, k_count = 17;
  std::uint64_t r[k_count] = {};
  bool all = false;  // false: only the callee-saved ones, sp and pc (a saved context)
};

// Registers plus a copy of the stack from (about) the stack pointer up.
struct stack_copy {
  stack_regs regs;
  bool pc_is_return = false;  // the first pc is a return address (a parked fiber)
  std::uintptr_t lo = 0;      // the address mem[0] was copied from
  std::vector<char> mem;
};

// One fiber's call stack, innermost first. Each pc points into its call
// instruction (a return address less one), ready to symbolize.
struct call_stack {
  std::vector<std::uintptr_t> pcs;
  bool elided = false;           // cut at k_max_raw_frames
  const char* missing = nullptr;  // why there is none (null: none to take, e.g. not started)
};

// The process-wide traceback lock and what may be done under it. Any thread
// but a signal handler; never a fiber's hot path.
class traceback_session {
 public:
  traceback_session();

  // A parked or runnable fiber of the active run (kept alive by the caller).
  call_stack parked(const fiber& f);
  // A fiber running on machine `m` (not the caller's): sampled on its thread.
  // `stack_size`: the run's fiber stack size.
  call_stack running(machine& m, const fiber& f, std::size_t stack_size);
  // The calling fiber, from here.
  call_stack here(const fiber& f);
  // Appends f's frames, "function\n\tfile:line\n" each (system frames only
  // with `show_system`), and "...additional frames elided...\n" past
  // k_max_frames. Returns the number of frames written.
  std::size_t append_frames(std::string& out, const call_stack& cs, bool show_system);
  // The user's innermost file:line in `cs`, or "" (for one-line locations).
  std::string user_location(const call_stack& cs);

 private:
  static std::mutex& mutex();
  std::unique_lock<std::mutex> lock_;
};

// One fiber's block in a report, as taken (runtime::block_of) and printed.
struct block_info {
  const fiber* f = nullptr;
  std::string state;         // the wait reason, "running" or "runnable"
  std::string detail;        // "3 minutes", "250 ms without switching", or empty
  bool blocked = false;      // parked: has the location of its blocking call
  std::uint64_t holder = 0;  // the fiber holding the lock it waits for (0: none)
  call_stack stack;
};
// ", N minutes" for a fiber blocked a minute or more, as Go says it: the
// detail of a block (empty below a minute).
std::string wait_duration_text(std::int64_t blocked_ns);
// What a block's brackets hold: "chan receive, 3 minutes", "IO wait, system".
std::string block_status(std::string_view state, std::string_view detail, bool system);
// Appends one block ("goroutine N [...]:", frames, holder, creator).
void append_block(std::string& out, const block_info& b, traceback_session& ts, bool show_system);
// Appends the blocks of `bs`, in order, each followed by a blank line; past
// the first few with the same state, stack, holder and creation site, the
// others are named on one line of ids.
void append_blocks(std::string& out, const std::vector<block_info>& bs, traceback_session& ts, bool show_system);

// ---- building blocks (unwind.cpp, sampler.cpp), under the session's lock
// unless said otherwise.
// Unwinds `c` into `out.pcs`.
void unwind_copy(const stack_copy& c, call_stack& out);
// Any thread, async-signal-safe: copies `n` bytes from `src`, memory other
// threads may be writing (a stack), without sanitizer checks or interceptors.
void copy_stack_bytes(char* dst, std::uintptr_t src, std::size_t n) noexcept;
// Async-signal-safe: the registers of a ucontext_t.
void regs_from_ucontext(const void* uc, stack_regs& out) noexcept;

}  // namespace gort::detail
