// futex: the one place worker and plain threads sleep in the kernel.
#pragma once

#include <atomic>
#include <cstdint>

#include "scheduler/clock.hpp"  // parker deadlines are now_ns() values

namespace gort::detail {

// A one-shot-per-round wake flag for one sleeping thread.
//
// Protocol (every sleep is paired with a single wakeup, even when the wakeup
// comes first, as in Go's sema.go):
//   1. The sleeper calls wait(); it returns once the flag is set, consuming it.
//   2. A waker calls notify(): sets the flag (release; pairs with the acquire
//      exchange in wait) and wakes the sleeper if it is in the kernel.
class parker {
 public:
  // The owning thread only. Blocks until notify() or until `deadline_ns`
  // (steady-clock nanoseconds; negative: no deadline). True if notified.
  bool wait(std::int64_t deadline_ns = -1) noexcept;
  // Any thread.
  void notify() noexcept;
  // The owning thread only: consumes a pending notification; true if there
  // was one. Acquire: pairs with the release exchange in notify().
  bool try_consume() noexcept {
    std::uint32_t expected = 1;
    return word_.compare_exchange_strong(expected, 0, std::memory_order_acquire);
  }

 private:
  std::atomic<std::uint32_t> word_{0};  // 1: notified and not yet consumed
};


}  // namespace gort::detail
