#include "gort/detail/spinlock.hpp"

#include <sched.h>

namespace gort::detail {

namespace {
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}
}  // namespace

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
