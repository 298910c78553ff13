// gort::condition_variable (sync.Cond with std's interface).
//
// Invariants (see also gort/sync.hpp):
//   - A waiter links its record into q_ while it still holds the user's
//     mutex, and releases the mutex only after it has switched out (park's
//     unlock step): a notify issued after the waiter released the mutex
//     always finds the record. No lost wake-ups.
//   - Exactly one of {a notify, the record's timer} unlinks a record, under
//     lock_, and readies its fiber; the other finds it unlinked and does
//     nothing. The waiter stops its timer (waiting for a callback in flight)
//     before the record leaves its stack.
#include <mutex>
#include <system_error>

#include "gort/detail/scope_exit.hpp"
#include "gort/sync.hpp"
#include "runtime/timer.hpp"
#include "runtime/wait.hpp"

namespace gort {

struct condition_variable::wait_record : detail::timer {
  wait_record() noexcept : detail::timer(&condition_variable::timer_fired) {}
  condition_variable* cv = nullptr;
  mutex* m = nullptr;
  detail::waiter w;
  std::int64_t deadline = -1;
  bool timed_out = false;  // written under cv->lock_ by the timer callback
};

// Park's unlock step: on the scheduler's side of the switch (or a plain
// thread just before it sleeps). Arms the timer, releases the user's mutex,
// then the cv's lock; the record may vanish once lock_ is released.
void condition_variable::unlock_step(void* p) noexcept GORT_NO_THREAD_SAFETY_ANALYSIS {  // wait_ns's lock_
  auto* r = static_cast<wait_record*>(p);
  condition_variable* cv = r->cv;
  // The callback takes lock_ (held) before it looks at the record.
  if (r->deadline >= 0) r->start(r->deadline);
  r->m->unlock();  // never yields here: in_fiber() is false on this side of a switch
  cv->lock_.unlock();
}

// Timer callback on a worker's scheduler stack: times the waiter out unless
// a notify got it first.
void condition_variable::timer_fired(detail::timer* t) noexcept {
  auto* r = static_cast<wait_record*>(t);
  condition_variable* cv = r->cv;
  detail::locked g(cv->lock_);
  if (!r->w.linked) return;  // notified first
  cv->q_.remove(r->w);
  cv->nwait_.fetch_sub(1, std::memory_order_relaxed);
  r->timed_out = true;
  detail::ready(r->w.who);  // the waiter's timer.stop() waits for us to return
}

bool condition_variable::wait_ns(std::unique_lock<mutex>& lk, std::int64_t deadline_ns,
                                 const location& where) {
  if (!lk.owns_lock()) throw std::system_error(std::make_error_code(std::errc::operation_not_permitted));
  if (deadline_ns >= 0 && deadline_ns <= detail::steady_now_ns()) return false;  // already expired
  wait_record r;
  r.cv = this;
  r.m = lk.mutex();
  r.deadline = deadline_ns;
  detail::scope_exit stop_timer([&r] { r.stop(); });  // before r leaves the stack, normally or not
  // TSan: the unlock step releases the user's mutex on the scheduler's side
  // of the switch, which acts for nobody: state the release edge here.
  detail::race_release(r.m);
  lock_.lock();
  nwait_.fetch_add(1, std::memory_order_relaxed);
  try {
    detail::wait_on(lock_, q_, r.w, detail::wait_reason::cond_wait, where, false, &unlock_step, &r);
  } catch (...) {
    // Unwinding at exit. The mutex was released in the unlock step: make the
    // unique_lock forget it, so its destructor does not unlock it again.
    if (r.w.cancelled) nwait_.fetch_sub(1, std::memory_order_relaxed);
    lk.release();
    throw;
  }
  r.stop();  // a pending timer is moot now; a firing one finishes first
  lk.mutex()->lock(where);
  return !r.timed_out;  // ordered by the ready() that woke us
}

void condition_variable::wake(bool all) noexcept {
  // A waiter incremented nwait_ before releasing the user's mutex; a notifier
  // that holds (or acquired) the mutex sees it. Without the mutex there is no
  // promise anyway, as with std::condition_variable.
  if (nwait_.load(std::memory_order_acquire) == 0) return;
  detail::locked g(lock_);
  while (detail::waiter* w = q_.pop_front()) {
    nwait_.fetch_sub(1, std::memory_order_relaxed);
    detail::ready(w->who);  // the fiber stays parked until this call
    if (!all) break;
  }
}

void condition_variable::notify_one() noexcept { wake(false); }

void condition_variable::notify_all() noexcept { wake(true); }

}  // namespace gort
