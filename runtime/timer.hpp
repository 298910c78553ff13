// timer: one-shot callbacks at a steady-clock deadline, kept in per-worker
// heaps and fired by workers (Go's runtime timers). sleep_for, after, ticker,
// condition_variable::wait_for and I/O deadlines are built on it.
//
// Lifecycle (status_):
//   idle --start--> pending --fired by a worker--> firing --fn returned--> idle
//   pending --stop--> idle
// A callback may start its own timer again (a ticker re-arming itself): while
// firing, start() only records the new deadline, and the worker re-adds the
// timer after the callback returned (so stop() never frees a timer that the
// worker still touches).
//
// Rules for users:
//   - fn runs on a worker's scheduler stack (never in a fiber): it must not
//     park or block; it may call ready() and non-blocking channel operations.
//   - A timer's memory may be reused or freed only after stop() returned (or
//     it was never started): stop() waits for a callback in flight to finish.
//   - start() on a pending timer is a bug (stop it first).
#pragma once

#include <atomic>
#include <cstdint>

namespace gort::detail {

struct timer {
  using callback = void (*)(timer*);

  explicit timer(callback f = nullptr) noexcept : fn(f) {}
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;

  // Any thread while run() is active (fibers, workers, plain threads).
  // Arms the timer for `when_ns` (steady-clock ns, see now_ns()).
  void start(std::int64_t when_ns) noexcept;
  // Any thread. Disarms; true if it was pending (so fn will not run). Returns
  // only once no callback of this timer is running.
  bool stop() noexcept;
  bool pending() const noexcept { return status_.load(std::memory_order_acquire) == k_pending; }

  callback fn;
  std::int64_t when = 0;  // guarded by the owning heap's lock while pending
  // Set by the owner while the timer is idle: it belongs to a runtime service
  // fiber (mark_system_fiber), and so never keeps the deadlock check quiet.
  bool system = false;

  // Internal to the timer heaps.
  static constexpr std::uint8_t k_idle = 0, k_pending = 1, k_firing = 2;
  std::atomic<std::uint8_t> status_{k_idle};
  std::uint32_t heap_index_ = 0;                  // guarded by the owning heap's lock
  std::atomic<class timer_heap*> heap_{nullptr};  // the heap it was last added to
  bool rearm_ = false;                            // firing only: the callback asked to run again
  std::int64_t rearm_when_ = 0;
};

}  // namespace gort::detail
