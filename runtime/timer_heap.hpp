// timer_heap: one worker's pending timers, a binary min-heap on `when`.
//
// Invariants:
//   - items_, and heap_index_/when of every timer in it, are guarded by lock_.
//   - A timer is in items_ exactly while its status is pending.
//   - user_pending_ counts the timers in items_ that are not `system`.
//   - when0_ is the earliest deadline in items_ (INT64_MAX when empty);
//     written under lock_, read without it by anyone deciding whether to
//     take the lock (a stale value only delays or wastes one check).
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>
#include <vector>

#include "gort/detail/spinlock.hpp"
#include "runtime/timer.hpp"

namespace gort::detail {

class timer_heap {
 public:
  timer_heap() = default;
  timer_heap(timer_heap&&) noexcept {}  // only while building the vector of heaps

  // Any thread. Adds `t` (status idle or firing, owned by the caller) for
  // `when`; true if it became the earliest.
  bool add(timer& t, std::int64_t when) noexcept;
  // Any thread. Removes `t` if it is pending here; true if it was.
  bool remove(timer& t) noexcept;
  // Any worker. Fires every timer due at `now`.
  void run_due(std::int64_t now) noexcept;
  // At shutdown, with no other thread running: drops every pending timer.
  void clear() noexcept;

  std::int64_t earliest() const noexcept { return when0_.load(std::memory_order_acquire); }
  // Pending timers that are not `system` ones (the deadlock check's view).
  std::size_t user_pending() const noexcept { return user_pending_.load(std::memory_order_acquire); }
  const std::atomic<std::int64_t>& earliest_word() const noexcept { return when0_; }

 private:
  void sift_up(std::size_t i) noexcept GORT_REQUIRES(lock_);
  void sift_down(std::size_t i) noexcept GORT_REQUIRES(lock_);
  void remove_at(std::size_t i) noexcept GORT_REQUIRES(lock_);
  // Stores `t` at position `i`, keeping its heap_index_ in step.
  void put(std::size_t i, timer* t) noexcept GORT_REQUIRES(lock_) {
    items_[i] = t;
    t->heap_index_ = std::uint32_t(i);
  }
  void publish() noexcept GORT_REQUIRES(lock_) {
    // Release: pairs with the acquire in earliest().
    when0_.store(items_.empty() ? INT64_MAX : items_[0]->when, std::memory_order_release);
  }

  void count_user(const timer& t, int delta) noexcept {
    // Release (under lock_): pairs with the acquire in user_pending().
    if (!t.system)
      user_pending_.store(user_pending_.load(std::memory_order_relaxed) + delta, std::memory_order_release);
  }

  spinlock lock_;
  std::vector<timer*> items_ GORT_GUARDED_BY(lock_);
  std::atomic<std::int64_t> when0_{INT64_MAX};
  std::atomic<std::size_t> user_pending_{0};  // written under lock_
};

}  // namespace gort::detail
