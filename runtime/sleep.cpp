// sleep_for / sleep_until and yield (gort/runtime.hpp).
#include <thread>

#include "gort/detail/scope_exit.hpp"
#include "runtime/core.hpp"
#include "runtime/park.hpp"

namespace gort::detail {

namespace {
// Timers fire on workers only (the scheduler's run_timers hook), and a
// sleeper is always a fiber.
void sleep_fired(timer* t) {
  fiber* f = static_cast<fiber::sleep_timer*>(t)->owner;
  machine* m = machine_of_thread();  // on g0: it owns its worker
  worker* w = m->p();
  if (worker_trace* t = w->trace()) t->instant("timer wakeup", f->id_, now_ns());
  m->rt().ready(f, w);
}
// The park's unlock step: the timer starts after the switch, so it cannot
// fire (and ready the fiber) before the fiber is switched out.
void arm_sleep(void* f) {
  auto* fb = static_cast<fiber*>(f);
  fb->sleep_timer_.system = fb->system_;  // see timer.hpp
  fb->sleep_timer_.start(fb->sleep_timer_.when);
}
}  // namespace

void sleep_until_ns(std::int64_t until, const location& where) {
  machine* m = machine_of_thread();
  fiber* f = m ? m->current() : nullptr;
  if (!f) {
    std::int64_t now = now_ns();
    if (until > now) std::this_thread::sleep_for(std::chrono::nanoseconds(until - now));
    return;
  }
  f->sleep_timer_.fn = &sleep_fired;  // set here, its one user
  f->sleep_timer_.owner = f;
  f->sleep_timer_.when = until;
  scope_exit disarm([f] { f->sleep_timer_.stop(); });  // waits for a callback in flight
  park(&arm_sleep, f, wait_reason::sleep, where);
}

std::int64_t steady_now_ns() noexcept { return now_ns(); }

}  // namespace gort::detail

namespace gort {

void yield() {
  using namespace detail;
  machine* m = machine_of_thread();
  if (!m || !m->current()) {
    std::this_thread::yield();
    return;
  }
  fiber& f = *m->current();
  if (m->rt().unwinding() && std::uncaught_exceptions() == 0) throw_unwind(f, wait_reason::none, nullptr);
  m = machine::switch_out_yield(m);  // returns at once when nothing else could run
  if (m->rt().unwinding() && std::uncaught_exceptions() == 0) throw_unwind(f, wait_reason::none, nullptr);
}

}  // namespace gort
