#include <mutex>
#include <stdexcept>

#include "gort/sync.hpp"
#include "sync/wait.hpp"

namespace gort {

void wait_group::add(std::ptrdiff_t n) {
  // acq_rel: the decrement that reaches zero releases the workers' writes to
  // the waiter, which acquires them through the load in wait() or its wake-up.
  std::int64_t v = count_.fetch_add(n, std::memory_order_acq_rel) + n;
  if (v < 0) {
    count_.fetch_sub(n, std::memory_order_acq_rel);
    throw std::logic_error("sync: negative WaitGroup counter");
  }
  if (v != 0 || n == 0) return;
  std::lock_guard g(lock_);
  // Recheck under the lock: an add() may have raised it again since.
  if (count_.load(std::memory_order_acquire) != 0) return;
  // take_one unlinks each record before it is readied (it may vanish after).
  while (detail::fiber* f = detail::take_one(waiters_)) detail::ready(f);
}

void wait_group::wait(std::source_location where) {
  if (count_.load(std::memory_order_acquire) == 0) return;
  lock_.lock();
  if (count_.load(std::memory_order_acquire) == 0) {
    lock_.unlock();
    return;
  }
  detail::wait_on(lock_, waiters_, detail::wait_reason::wait_group_wait, where);
}

}  // namespace gort
