// task_state_base (gort/detail/fiber_start.hpp): how a spawn()ed fiber hands
// its result to the fiber or thread that joins it.
#include "gort/detail/fiber_start.hpp"
#include "gort/detail/scope_exit.hpp"
#include "runtime/park.hpp"

namespace gort::detail {

void task_state_base::complete() noexcept {
  fiber* joiner;
  {
    locked g(lock_);
    done_ = true;
    joiner = std::exchange(joiner_, nullptr);
  }
  if (joiner) ready(joiner);
}

void task_state_base::wait_done(int reason, const std::source_location& where) {
  lock_.lock();
  if (done_) {
    lock_.unlock();
    return;
  }
  fiber* me = self();
  joiner_ = me;
  // Normally complete() took the record; if park() threw (unwinding at
  // exit), take it back ourselves.
  scope_exit unlink([&] {
    locked g(lock_);
    if (joiner_ == me) joiner_ = nullptr;
  });
  park(lock_, wait_reason(reason), where);
}

void task_state_base::wait(const std::source_location& where) {
  wait_done(int(wait_reason::task_join), where);
  if (error_) std::rethrow_exception(error_);
}

void wait_thread_done(task_state_base& s, const std::source_location& where) {
  s.wait_done(int(wait_reason::thread_join), where);
}

}  // namespace gort::detail
