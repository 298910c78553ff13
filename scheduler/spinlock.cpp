#include "gort/detail/spinlock.hpp"

#include <sched.h>

namespace gort::detail {

// Contended path: spin on a plain load (no cache-line ping-pong), then give the
// CPU away so a descheduled holder can finish.
void spinlock::lock_slow() noexcept {
  for (unsigned spins = 0;; ++spins) {
    if (!locked_.load(std::memory_order_relaxed) &&
        !locked_.exchange(true, std::memory_order_acquire))
      return;
    if (spins < 64) {
      cpu_relax();
    } else {
      sched_yield();
    }
  }
}

}  // namespace gort::detail
