// sema: the counting semaphore under mutex, shared_mutex and semaphore (Go's
// runtime/sema.go). Internal; installed because class layouts of public types
// embed it.
//
// Invariants:
//   - count_ is the number of free units; it never goes below zero.
//   - q_ holds the parked acquirers in grant order and is guarded by lock_;
//     each record's value is the units it asks for. nwait_ counts records in
//     q_ plus acquirers inside the locked slow path; it changes under lock_.
//   - Every unit released while nwait_ > 0 is offered to q_'s front under
//     lock_: units are granted strictly in queue order, so a large request at
//     the front is never bypassed by smaller ones behind it.
//   - No lost wakeup: an acquirer raises nwait_ and then reads count_; a
//     releaser raises count_ and then reads nwait_ (both seq_cst), so at
//     least one of them sees the other and the units reach a waiter.
//   - No use after free: a releaser still touches *this after its units are
//     takeable, and the taker may own the primitive and destroy it as soon
//     as it returns. releasing_ counts releases in flight (see
//     releases_in_flight); every acquire and successful try_acquire waits for
//     it before returning.
#pragma once

#include <atomic>
#include <cstdint>

#include "gort/detail/spinlock.hpp"
#include "gort/detail/wait_reason.hpp"
#include "gort/detail/waiter.hpp"
#include "gort/location.hpp"

namespace gort::detail {

// Releases in flight on a primitive whose taker may destroy it as soon as its
// acquire returns, while the releasing call is still returning (the rule of
// std::mutex and POSIX). A release calls begin() before its operation makes
// anything takeable and end() at its last touch of the primitive; a taker
// calls wait() before returning.
class releases_in_flight {
 public:
  // Relaxed: published by the release operation that follows (a taker that
  // reads from that operation sees the count raised).
  void begin() noexcept { n_.fetch_add(1, std::memory_order_relaxed); }
  // Release: the releaser's last touch; pairs with wait().
  void end() noexcept { n_.fetch_sub(1, std::memory_order_release); }
  // Returns once no release is in flight (releases never block: a few
  // instructions, or a ready() call). Acquire: pairs with end().
  void wait() const noexcept;

 private:
  std::atomic<std::uint32_t> n_{0};
};

class sema {
 public:
  constexpr explicit sema(std::int64_t count = 0) noexcept : count_(count) {}
  sema(const sema&) = delete;
  sema& operator=(const sema&) = delete;

  // Any thread. Takes n units if they are free and nobody is queued (a
  // queued waiter is never bypassed). Never blocks.
  bool try_acquire(std::int64_t n) noexcept;
  // Any thread. Takes n units, parking (reason `why`) until they are granted.
  // `lifo` queues at the front (a waiter that woke and lost a race, as Go's
  // semacquire with lifo). Throws only fiber_unwind (runtime shutdown): then,
  // if `granted_at_unwind` is null, units granted meanwhile are released
  // again; otherwise *granted_at_unwind says whether the caller now owns them.
  void acquire(std::int64_t n, wait_reason why, const location& where, bool lifo = false,
               bool* granted_at_unwind = nullptr);
  // Any thread (also a worker's scheduler stack). Adds n units and grants
  // queued waiters in order while the front one fits. With `handoff` a fiber
  // caller yields right after granting so that the waiter runs now (Go's
  // semrelease handoff); elsewhere handoff is ignored.
  void release(std::int64_t n, bool handoff = false) noexcept;
  // Any thread; a snapshot for tests and stats.
  std::int64_t available() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  bool take(std::int64_t n) noexcept;
  // Grants units to queued waiters in order while the front one fits and
  // readies them, a bounded batch per lock hold (ready() runs unlocked and
  // nothing is allocated). True if any waiter was granted.
  bool grant_and_wake() noexcept;

  std::atomic<std::int64_t> count_;
  std::atomic<std::uint32_t> nwait_{0};
  releases_in_flight releasing_;
  spinlock lock_;
  wait_list q_ GORT_GUARDED_BY(lock_);
};

}  // namespace gort::detail
