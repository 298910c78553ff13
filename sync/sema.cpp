// sema: see gort/detail/sema.hpp for the invariants.
#include "gort/detail/sema.hpp"

#include <mutex>
#include <thread>

#include "gort/runtime.hpp"
#include "runtime/wait.hpp"

namespace gort::detail {

// Any thread. CAS n units off count_ if that many are free. seq_cst: pairs
// with the nwait_ accesses (see the invariants) and acquires the releaser's
// writes (the fetch_add in release()).
bool sema::take(std::int64_t n) noexcept {
  std::int64_t c = count_.load(std::memory_order_seq_cst);
  while (c >= n) {
    if (count_.compare_exchange_weak(c, c - n, std::memory_order_seq_cst, std::memory_order_relaxed))
      return true;
  }
  return false;
}

bool sema::try_acquire(std::int64_t n) noexcept {
  // seq_cst: pairs with the nwait_ increment in acquire().
  if (nwait_.load(std::memory_order_seq_cst) != 0 || !take(n)) return false;
  releasing_.wait();
  return true;
}

void releases_in_flight::wait() const noexcept {
  for (unsigned spins = 0; n_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 64) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

void sema::acquire(std::int64_t n, wait_reason why, const location& where, bool lifo,
                   bool* granted_at_unwind) {
  sched_point();  // GORT_SCHED_SEED may yield here
  if (nwait_.load(std::memory_order_relaxed) == 0 && take(n)) {
    releasing_.wait();
    return;
  }
  lock_.lock();
  // seq_cst: pairs with the count_ increment in release() (Dekker-style).
  nwait_.fetch_add(1, std::memory_order_seq_cst);
  // A lifo waiter already queued once; otherwise queue behind anyone queued.
  if ((lifo || q_.empty()) && take(n)) {
    nwait_.fetch_sub(1, std::memory_order_relaxed);
    lock_.unlock();
    releasing_.wait();
    return;
  }
  waiter w;
  w.value = n;
  try {
    wait_on(lock_, q_, w, why, where, lifo);
  } catch (...) {
    // Unwinding at exit. No switch happens in here.
    if (w.cancelled) {
      {
        locked g(lock_);
        nwait_.fetch_sub(1, std::memory_order_relaxed);
      }
      grant_and_wake();  // we may have blocked smaller requests behind us
    } else if (granted_at_unwind) {
      *granted_at_unwind = true;
    } else {
      release(n);
    }
    throw;
  }
  releasing_.wait();
}

bool sema::grant_and_wake() noexcept {
  constexpr std::size_t k_batch = 8;
  bool any = false;
  for (;;) {
    fiber* batch[k_batch];
    std::size_t n = 0;
    {
      locked g(lock_);
      while (n < k_batch) {
        waiter* w = q_.front();
        if (!w || !take(w->value)) break;
        batch[n++] = w->who;
        q_.remove(*w);  // after this the record may vanish at any time
        nwait_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
    for (std::size_t i = 0; i < n; ++i) ready(batch[i]);  // touches the fibers only
    any = any || n > 0;
    if (n < k_batch) return any;
  }
}

void sema::release(std::int64_t n, bool handoff) noexcept {
  // Raised before the units become takeable: the seq_cst add below publishes
  // it to any taker of these units (see the invariants).
  releasing_.begin();
  // seq_cst: pairs with the nwait_ increment in acquire(); also releases the
  // caller's writes to whoever takes these units.
  count_.fetch_add(n, std::memory_order_seq_cst);
  const bool woke = nwait_.load(std::memory_order_seq_cst) != 0 && grant_and_wake();
  // Our last touch of *this. Takers (woken ones included: one running
  // elsewhere already waits for this) may destroy the primitive from here on.
  releasing_.end();
  if (woke && handoff && in_fiber()) {
    // Let the waiter (now in our runnext slot) run at once. yield() throws
    // fiber_unwind during shutdown before switching; nothing to hand off then.
    try {
      gort::yield();
    } catch (const fiber_unwind&) {}
  }
}

}  // namespace gort::detail
