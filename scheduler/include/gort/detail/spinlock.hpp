// spinlock: the short-critical-section lock under every run queue, channel and
// wait list. Internal; installed only because class layouts of public types
// embed it.
//
// Invariants:
//   - Critical sections are a few dozen instructions and never park, sleep or
//     call user code. Holding one across a fiber switch is allowed only through
//     park(), which releases it after the switch (see runtime/park.hpp).
//   - A waiter spins with `pause`, then yields its OS thread, so a holder that
//     was preempted by the OS (a plain thread, or an oversubscribed worker)
//     still makes progress.
#pragma once

#include <atomic>

namespace gort::detail {

// One spin-wait hint to the CPU (x86 `pause`, arm64 `yield`): the body of
// every busy-wait loop in gort.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Test-and-test-and-set lock. Meets Lockable, so std::lock_guard works.
class spinlock {
 public:
  // Any thread. Acquire; pairs with the release in unlock().
  void lock() noexcept {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    lock_slow();
  }
  // Any thread. True if the lock was taken.
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }
  // Holder only. Release; pairs with the acquire in lock()/try_lock().
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  void lock_slow() noexcept;

  std::atomic<bool> locked_{false};
};

}  // namespace gort::detail
