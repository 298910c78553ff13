// task_state_base (gort/detail/fiber_start.hpp): how a spawn()ed fiber hands
// its result to the fiber or thread that joins it.
#include "gort/detail/fiber_start.hpp"
#include "runtime/wait.hpp"

namespace gort::detail {

void task_state_base::complete() noexcept {
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
    return;
  }
  waiter w;
  wait_on(lock_, joiners_, w, wait_reason(reason), where);
}

void task_state_base::wait(const location& where) {
  wait_done(int(wait_reason::task_join), where);
  if (error_) std::rethrow_exception(error_);
}

void wait_thread_done(task_state_base& s, const location& where) {
  s.wait_done(int(wait_reason::thread_join), where);
}

}  // namespace gort::detail
