// task_state_base (gort/detail/fiber_start.hpp): how a spawn()ed fiber hands
// its result to the fiber or thread that joins it.
#include <utility>

#include "gort/detail/fiber_start.hpp"
#include "runtime/wait.hpp"

namespace gort::detail {

void task_state_base::complete() noexcept {
  race_release(this);  // TSan: the fiber's life (its result) happens before the join returns
  fiber* joiner;
  {
    locked g(lock_);
    done_ = true;
    joiner = take_one(joiners_);
  }
  if (joiner) ready(joiner);
}

void task_state_base::wait_done(int reason, const location& where) {
  lock_.lock();
  if (done_) {
    lock_.unlock();
  } else {
    waiter w;
    wait_on(lock_, joiners_, w, wait_reason(reason), where);
  }
  race_acquire(this);
}

// The joiner takes the exception out of the state, so the last reference to
// it is dropped on the joiner's side (where the catch reads it), not by the
// fiber's release(): the C++ library counts exception references in code
// ThreadSanitizer cannot see, and would report the catch's reads as racing a
// free on the fiber.
void task_state_base::wait(const location& where) {
  wait_done(int(wait_reason::task_join), where);
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void wait_thread_done(task_state_base& s, const location& where) {
  s.wait_done(int(wait_reason::thread_join), where);
}

}  // namespace gort::detail
