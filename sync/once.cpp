// call_once's slow path (see once_flag's invariants in gort/sync.hpp).
#include <mutex>

#include "gort/sync.hpp"
#include "runtime/wait.hpp"

namespace gort::detail {

// TSan: every run of the function (finished or thrown) happens before the
// callers that come after it (Go's Once: its mutex and its done flag).
bool once_enter(once_flag& f, const location& where) {
  for (;;) {
    f.lock_.lock();
    std::uint8_t s = f.state_.load(std::memory_order_relaxed);
    if (s == once_flag::k_done) {
      f.lock_.unlock();
      race_acquire(&f);
      return false;
    }
    if (s == once_flag::k_idle) {
      f.state_.store(once_flag::k_running, std::memory_order_relaxed);
      f.lock_.unlock();
      race_acquire(&f);
      return true;
    }
    // Running elsewhere: park until it finishes, then look again (it may
    // have thrown, and then one of us runs it).
    waiter w;
    wait_on(f.lock_, f.waiters_, w, wait_reason::mutex_lock, where);
  }
}

void once_exit(once_flag& f, bool ok) noexcept {
  race_release(&f);
  locked g(f.lock_);
  // Release: pairs with the acquire load in call_once()'s fast path.
  f.state_.store(ok ? once_flag::k_done : once_flag::k_idle, std::memory_order_release);
  while (fiber* w = take_one(f.waiters_)) ready(w);
}

}  // namespace gort::detail
