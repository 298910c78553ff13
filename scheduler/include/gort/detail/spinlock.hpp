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

#include "gort/detail/thread_annotations.hpp"

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

// Test-and-test-and-set lock. Meets Lockable, so std::lock_guard works; gort's
// own code holds it with `locked`, which the thread-safety analysis follows.
class GORT_CAPABILITY("spinlock") spinlock {
 public:
  // Any thread. Acquire; pairs with the release in unlock().
  // The acquiring exchange stays inline, also on the contended path, so that
  // ThreadSanitizer sees the lock order the code of an instrumented caller.
  void lock() noexcept GORT_ACQUIRE() {
    while (locked_.exchange(true, std::memory_order_acquire)) wait_while_locked();
  }
  // Any thread. True if the lock was taken.
  bool try_lock() noexcept GORT_TRY_ACQUIRE(true) {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }
  // Holder only. Release; pairs with the acquire in lock()/try_lock().
  void unlock() noexcept GORT_RELEASE() { locked_.store(false, std::memory_order_release); }

 private:
  // Spins with a growing backoff, then yields the OS thread, until the lock
  // reads free (relaxed: the caller's exchange is what acquires).
  void wait_while_locked() noexcept;

  std::atomic<bool> locked_{false};
};

// Holds `lock` for its scope (std::lock_guard, with the annotations the
// thread-safety analysis needs).
template <class Lock>
class GORT_SCOPED_CAPABILITY locked {
 public:
  explicit locked(Lock& lock) noexcept GORT_ACQUIRE(lock) : lock_(lock) { lock_.lock(); }
  ~locked() GORT_RELEASE() { lock_.unlock(); }
  locked(const locked&) = delete;
  locked& operator=(const locked&) = delete;

 private:
  Lock& lock_;
};

}  // namespace gort::detail
