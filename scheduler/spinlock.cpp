#include "gort/detail/spinlock.hpp"

#include <sched.h>

namespace gort::detail {

namespace {
// Longest pause burst between two looks at the lock; past it the waiter gives
// its CPU away instead.
constexpr unsigned k_max_backoff = 1024;
}  // namespace

// Contended path: spin on a plain load with exponential backoff, then give the
// CPU away so a descheduled holder can finish. The backoff matters under real
// contention (two workers hammering one channel): every look at the lock pulls
// its cache line away from the holder, so looking less often lets the holder
// finish several critical sections in a row instead of paying a cache-line
// transfer for each.
void spinlock::wait_while_locked() noexcept {
  unsigned backoff = 1;
  while (locked_.load(std::memory_order_relaxed)) {
    if (backoff <= k_max_backoff) {
      for (unsigned i = 0; i < backoff; ++i) cpu_relax();
      backoff *= 2;
    } else {
      sched_yield();
    }
  }
}

}  // namespace gort::detail
