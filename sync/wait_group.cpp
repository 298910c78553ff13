#include <climits>
#include <stdexcept>
#include <string>

#include "gort/sync.hpp"
#include "runtime/park.hpp"

namespace gort {

namespace {
constexpr int k_counter_shift = 32;
std::int32_t counter_of(std::uint64_t s) noexcept { return std::int32_t(s >> k_counter_shift); }
std::uint32_t waiters_of(std::uint64_t s) noexcept { return std::uint32_t(s); }
}  // namespace

void wait_group::add(std::ptrdiff_t n) {
  if (n > INT32_MAX || n < -std::ptrdiff_t(INT32_MAX))
    throw std::invalid_argument("sync: WaitGroup.add(" + std::to_string(n) + ") is out of range");
  detail::sched_point();  // GORT_SCHED_SEED may yield here
  // TSan: every done() happens before the wait() that it lets return (Go's
  // race.ReleaseMerge / race.Acquire on the wait group).
  if (n < 0) detail::race_release(this);
  const std::uint64_t delta = std::uint64_t(std::int64_t(n)) << k_counter_shift;
  // acq_rel: the add that reaches zero sees every earlier done()'s writes
  // (release sequence) and passes them on through the sema to the waiters.
  const std::uint64_t s = state_.fetch_add(delta, std::memory_order_acq_rel) + delta;
  const std::int64_t v = counter_of(s);
  if (v < 0 || (n > 0 && v < n)) {  // below zero, or wrapped past 2^31 - 1
    // Undo. A wait() that saw the bad value meanwhile registered and parks:
    // if the counter is back at zero, it must be woken as by a done().
    const std::uint64_t back = state_.fetch_sub(delta, std::memory_order_acq_rel) - delta;
    if (counter_of(back) == 0) wake_waiters(waiters_of(back));
    if (v < 0) throw std::logic_error("sync: negative WaitGroup counter");
    throw std::invalid_argument("sync: WaitGroup counter overflow adding " + std::to_string(n));
  }
  if (v == 0) wake_waiters(waiters_of(s));
}

// The add() that brought the counter to zero, seeing `w` waiters registered.
// With none it touches nothing more: a waiter that saw zero may already have
// destroyed the wait_group. Otherwise no add() or wait() may run concurrently
// now (as in Go), so it resets the word and hands each waiter its unit.
void wait_group::wake_waiters(std::uint32_t w) noexcept {
  if (w == 0) return;
  state_.store(0, std::memory_order_relaxed);
  sema_.release(w);  // our last touch of *this (the sema keeps waiters from returning before it)
}

void wait_group::wait(location where) {
  detail::sched_point();
  std::uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (counter_of(s) == 0) {
      detail::race_acquire(this);
      return;
    }
    // acq_rel: registering as a waiter pairs with the add() that reaches zero.
    if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) break;
  }
  sema_.acquire(1, detail::wait_reason::wait_group_wait, where);
  detail::race_acquire(this);
}

}  // namespace gort
