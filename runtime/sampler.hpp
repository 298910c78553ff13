// sampler: a running fiber's call stack, taken on its own thread (see
// runtime/traceback.hpp). Each machine has one sample slot; a requester
// (a report, holding the traceback lock, so one at a time) fills it and
// signals the machine's thread; the signal handler copies that thread's
// registers and stack into the requester's buffer.
//
// Protocol of a slot's state:
//   idle -> requested       the requester, after writing f, buf and cap (release)
//   requested -> taking     the handler (acquire), then it copies
//   taking -> done          the handler, after writing the result (release); notifies `waker`
//   requested -> idle       the requester giving up (its signal went unanswered)
//   done -> idle            the requester, once it read the result
// The buffer is the requester's: the handler writes it only between taking
// and done, and the requester frees it only in idle (after done, or after
// winning requested -> idle), so a late signal finds nothing to do.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "runtime/traceback.hpp"
#include "scheduler/futex.hpp"

namespace gort::detail {

struct stack_sample {
  static constexpr std::uint32_t k_idle = 0, k_requested = 1, k_taking = 2, k_done = 3;
  std::atomic<std::uint32_t> state{k_idle};
  parker waker;  // the requester waits on it; the handler notifies it
  // The request.
  const fiber* f = nullptr;
  char* buf = nullptr;
  std::size_t cap = 0;
  // The result.
  stack_regs regs;
  std::uintptr_t lo = 0;
  std::size_t len = 0;
  const char* missing = nullptr;
};

}  // namespace gort::detail
