#include "scheduler/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace gort::detail {

std::int64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {
constexpr std::uint32_t k_empty = 0;     // no notification pending, owner awake
constexpr std::uint32_t k_notified = 1;  // notify() came; the next wait() returns at once
constexpr std::uint32_t k_parked = 2;    // the owner sleeps in the kernel

#if defined(GORT_TSAN) && GORT_TSAN
// ThreadSanitizer holds back a signal that arrives while the thread blocks in
// a call it does not intercept (this raw futex) until the thread next enters
// one of its interceptors, so a program whose every thread sleeps here would
// never see its SIGINT. Under TSan only, a wait therefore wakes at least this
// often and looks at the clock (intercepted), which lets pending signals in.
constexpr std::int64_t k_tsan_signal_slice_ns = 50'000'000;
#endif

long futex(std::atomic<std::uint32_t>* w, int op, std::uint32_t val, const timespec* ts) {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(w), op | FUTEX_PRIVATE_FLAG, val, ts, nullptr,
                 FUTEX_BITSET_MATCH_ANY);
}
}  // namespace

bool parker::wait(std::int64_t deadline_ns) noexcept {
  // Acquire: pairs with the release exchange in notify().
  if (word_.exchange(k_empty, std::memory_order_acquire) == k_notified) return true;
  std::uint32_t expected = k_empty;
  if (!word_.compare_exchange_strong(expected, k_parked, std::memory_order_acquire)) {
    word_.store(k_empty, std::memory_order_relaxed);  // notified in between
    return true;
  }
  for (;;) {
    std::int64_t until = deadline_ns;
#if defined(GORT_TSAN) && GORT_TSAN
    const std::int64_t slice_end = now_ns() + k_tsan_signal_slice_ns;
    if (until < 0 || until > slice_end) until = slice_end;
#endif
    timespec ts{};
    const timespec* tsp = nullptr;
    if (until >= 0) {
      // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline.
      ts.tv_sec = until / 1'000'000'000;
      ts.tv_nsec = until % 1'000'000'000;
      tsp = &ts;
    }
    long rc = futex(&word_, FUTEX_WAIT_BITSET, k_parked, tsp);
    if (word_.load(std::memory_order_acquire) == k_notified) {
      word_.store(k_empty, std::memory_order_relaxed);
      return true;
    }
    if (rc == -1 && errno == ETIMEDOUT && until != deadline_ns) continue;  // a TSan slice ended
    if (rc == -1 && errno == ETIMEDOUT) {
      expected = k_parked;
      if (word_.compare_exchange_strong(expected, k_empty, std::memory_order_acquire)) return false;
      word_.store(k_empty, std::memory_order_relaxed);  // notified at the deadline
      return true;
    }
  }
}

void parker::notify() noexcept {
  // Release: pairs with the acquire operations in wait().
  if (word_.exchange(k_notified, std::memory_order_release) == k_parked) {
    futex(&word_, FUTEX_WAKE, 1, nullptr);
  }
}

}  // namespace gort::detail
