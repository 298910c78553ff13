// fiber: a goroutine's control block (Go's g).
//
// Invariants:
//   - A fiber owns no stack until it first runs (spawning is a small object
//     and a queue push; a million queued fibers cost no stack memory).
//   - ctx_ is valid exactly while the fiber is not running and has started;
//     it is written by the worker that switched the fiber out, before the
//     park's unlock step, so any waker that can see the fiber sees it saved.
//   - state_ follows: free -> runnable -> running -> ((waiting ->) runnable ->
//     running)* -> free. The worker running it sets running and waiting, and
//     back to free at exit; ready() and a yield set runnable. Readers other
//     than the owner use it for reports (acquire, pairing with the park's
//     release of waiting) and stats.
//   - Fiber objects are never freed while run() is active: dead ones are
//     recycled through free lists, and fiber_table chunks hold all of them,
//     so a scan of the table (dumps, deadlock check, shutdown) is always safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "gort/detail/fiber_start.hpp"
#include "gort/detail/race.hpp"
#include "gort/detail/wait_reason.hpp"
#include "gort/location.hpp"
#include "runtime/stack.hpp"
#include "runtime/timer.hpp"
#include "scheduler/futex.hpp"
#include "scheduler/run_queue.hpp"

namespace gort::detail {

enum class fiber_state : std::uint8_t { free, runnable, running, waiting };

// Laid out so that what every switch and handoff touches sits in the first
// cache line (sched_next included): when a fiber is woken on another worker,
// that line is the one its struct costs in cross-core cache misses.
struct alignas(64) fiber : sched_node {
  static constexpr std::size_t k_inline_fn = 112;  // callables up to this size live inline

  // ---- hot: park, ready, switch, handoff ----------------------------------
  // One line holds all that a park, a wake-up and a switch touch, the park's
  // record of where it waits included: in a pipeline of many fibers (sieve)
  // the parking fiber's other lines were last used a whole round ago, and
  // each one it touched was one more cache miss per hop.
  void* ctx_ = nullptr;  // saved context (Boost.Context fcontext_t); null before the first run
  // The C++ runtime's per-thread exception state, kept per fiber across
  // switches (so a fiber may block inside a catch block and migrate).
  void* eh_caught_ = nullptr;
  // std::uncaught_exceptions() of the fiber (the runtime keeps an unsigned;
  // 16 bits hold any count a stack can nest).
  std::uint16_t eh_uncaught_ = 0;
  // The worker that last switched the fiber in (meaningless before its first
  // run). Written by that worker in enter(); read by a waker in ready(), after
  // the park's unlock step (the park protocol orders the two).
  std::uint16_t last_worker_ = 0;
  std::atomic<fiber_state> state_{fiber_state::free};
  std::atomic<wait_reason> reason_{wait_reason::none};
  bool is_thread_ = false;  // an OS thread's stand-in (never scheduled)
  // Its stack has no guard page: each switch-out tests the canary (set at
  // the first run from stack_.guarded, so the switch need not read stack_).
  bool check_canary_ = false;
  // Bumped by the fiber itself at every park and yield, before it switches
  // out, and never reset when the object is reused. A reader of the saved
  // context (runtime/unwind.cpp) copies the stack between two loads of it and
  // keeps the copy only if it did not change (a seqlock whose write side is
  // the fiber running). Relaxed loads and stores: one increment.
  std::atomic<std::uint32_t> switch_gen_{0};
  // When the fiber last parked, in coarse seconds (g_coarse_now_s: the
  // monitor's clock, give or take its period; 0: unknown). Written by
  // park(), read by reports ("[chan receive, 3 minutes]").
  std::atomic<std::uint32_t> blocked_since_{0};
  // Where the current/last park was called. Written by the parking fiber.
  location blocked_at_;

  // ---- warm: first run, exit, reports ----
  stack_mem stack_;  // empty until the first run
  fiber_fn* fn_ = nullptr;
  void* heap_fn_ = nullptr;  // storage for a callable too big for inline_fn_

  std::uint64_t id_ = 0;
  std::uint64_t creator_id_ = 0;
  location created_at_;

  // What the fiber waits for, when it is a lock (see set_wait_target): the
  // holder function is written before the object (both release), read by
  // deadlock reports and the partial-deadlock monitor (wait_holder_of, which
  // re-checks the object after reading the function).
  std::atomic<std::uint64_t (*)(const void*)> wait_holder_{nullptr};
  std::atomic<const void*> wait_obj_{nullptr};

  bool is_main_ = false;
  bool abandoned_ = false;  // blocked inside a destructor while unwinding at exit
  // Times fiber_unwind was thrown at it while run() unwinds leftovers (one,
  // unless its code caught it and blocked again). The fiber itself only.
  std::uint8_t unwinds_ = 0;
  // One of the runtime's service fibers (mark_system_fiber): not counted by
  // num_fibers(), never keeps the deadlock check from firing. Written by the
  // fiber itself, before its first park; read by reports after the park's
  // release of state_.
  bool system_ = false;

  parker* thread_parker_ = nullptr;  // is_thread_ only

  void* asan_fake_stack_ = nullptr;  // ASan: this fiber's fake stack while switched out
  void* tsan_fiber_ = nullptr;       // TSan: its context, from its first run to its exit
  // TSan: the edge from whoever readied or started it (or, for a channel
  // partner, from the fiber itself as it parks); taken as it resumes. Empty
  // without TSan.
  [[no_unique_address]] race_edge race_edge_;

  // sleep_for's timer; its callback readies the fiber.
  struct sleep_timer : timer {
    fiber* owner = nullptr;
  } sleep_timer_;

  alignas(std::max_align_t) std::byte inline_fn_[k_inline_fn];

  // A waker, in ready() (after the park's unlock step, so ctx_ is the saved
  // context): starts loading the stack lines the fiber's resume reads first,
  // the registers jump_fcontext saved and the frames of its park, so that
  // they arrive while the waker finishes its own work instead of stalling
  // the resume. In a pipeline of many fibers (sieve) those lines were last
  // used a whole round ago. A hint: it never faults and writes nothing, so
  // nothing is lost when another worker runs the fiber. Always inlined: GCC
  // 12 finds a function made of prefetches free of side effects and drops
  // its calls.
  [[gnu::always_inline]] void prefetch_resume() const noexcept {
    const char* c = static_cast<const char*>(ctx_);
    for (std::size_t off = 0; off < k_resume_prefetch; off += 64) __builtin_prefetch(c + off);
  }
  // Bytes from ctx_: jump_fcontext's 64 and park_current's frame (96 at
  // -O2), then the top of the parking call's frame (where a channel's wait
  // record lies). 384 and 128 measured no better on sieve.
  static constexpr std::size_t k_resume_prefetch = 256;
};

// The layout rules above, checked (offsetof on a class with a base is only
// "conditionally supported": GCC and Clang give the plain offset, and warn).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
static_assert(offsetof(fiber, blocked_at_) + sizeof(location) <= 64,
              "fiber: the switch-hot fields must fit the first cache line");
#pragma GCC diagnostic pop

}  // namespace gort::detail
