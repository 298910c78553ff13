// gort sync: Go's sync package for fibers. The contract is ../shared/api.md
// section 4. Every blocking call parks a fiber (never its worker) and blocks
// a plain OS thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <source_location>

#include "gort/detail/spinlock.hpp"
#include "gort/detail/wait_list.hpp"

namespace gort {

// sync.WaitGroup: wait() parks until the counter is zero.
//
// Invariants: count_ is the counter; waiters_ is guarded by lock_; every
// waiter queued while count_ > 0 is woken by the add() that brings it to 0.
class wait_group {
 public:
  wait_group() = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  // Any thread. Adds n (may be negative). Throws std::logic_error
  // ("sync: negative WaitGroup counter") if the counter would drop below
  // zero; the counter is left unchanged then.
  void add(std::ptrdiff_t n = 1);
  // add(-1).
  void done() { add(-1); }
  // Any thread. Parks until the counter is zero ("sync.WaitGroup.Wait").
  void wait(std::source_location where = std::source_location::current());

 private:
  std::atomic<std::int64_t> count_{0};
  detail::spinlock lock_;
  detail::wait_list waiters_;
};

}  // namespace gort
