#include "runtime/park.hpp"

#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"
#include "runtime/trace.hpp"

namespace gort::detail {

namespace {
// An OS thread's stand-in record, so primitives can queue plain threads like
// fibers (api.md section 2: blocking calls block a plain thread).
//
// A plain thread that has called into gort counts as alive for the deadlock
// check from then until it exits (api.md: a plain std::thread is invisible
// only until it calls into gort), except while it is itself running run().
struct thread_stand_in {
  parker park;
  fiber self;
  bool counted = false;
  thread_stand_in() {
    self.is_thread_ = true;
    self.thread_parker_ = &park;
    self.state_.store(fiber_state::running, std::memory_order_relaxed);
    if (!worker_of_thread()) set_counted(true);
  }
  ~thread_stand_in() { set_counted(false); }
  void set_counted(bool on) noexcept {
    if (on == counted) return;
    counted = on;
    g_threads_alive.fetch_add(on ? 1 : -1, std::memory_order_acq_rel);
  }
};
thread_local std::unique_ptr<thread_stand_in> t_stand_in;

fiber* stand_in() {
  if (!t_stand_in) t_stand_in = std::make_unique<thread_stand_in>();
  return &t_stand_in->self;
}

// A plain thread blocks on its own futex; it counts as "inside gort" for the
// deadlock check while it waits.
void park_thread(fiber* f, void (*unlock)(void*), void* arg, wait_reason why,
                 const std::source_location& where) {
  f->reason_.store(why, std::memory_order_relaxed);
  f->blocked_at_ = where;
  g_foreign_blocked.fetch_add(1, std::memory_order_acq_rel);
  if (unlock) unlock(arg);
  f->thread_parker_->wait();
  g_foreign_blocked.fetch_sub(1, std::memory_order_acq_rel);
  f->reason_.store(wait_reason::none, std::memory_order_relaxed);
}

void unlock_spinlock(void* l) { static_cast<spinlock*>(l)->unlock(); }
}  // namespace

// The thread calling run(): while it runs the runtime it is worker 0, not a
// plain thread that fibers might be waiting for.
bool thread_enters_run() noexcept {
  if (!t_stand_in || !t_stand_in->counted) return false;
  t_stand_in->set_counted(false);
  return true;
}
void thread_leaves_run(bool was_counted) noexcept {
  if (was_counted && t_stand_in) t_stand_in->set_counted(true);
}

namespace {

// Throws std::logic_error("<what>: no gort::run() is active") if `rt` is null.
void running(runtime* rt, const char* what) {
  if (!rt) throw std::logic_error(std::string(what) + ": no gort::run() is active");
}
}  // namespace

fiber* self() noexcept {
  if (worker* w = worker_of_thread()) {
    if (fiber* f = w->current()) return f;
  }
  return stand_in();
}

bool in_fiber() noexcept {
  worker* w = worker_of_thread();
  return w && w->current();
}

void mark_system_fiber() noexcept {
  worker* w = worker_of_thread();
  if (fiber* f = w ? w->current() : nullptr) w->rt().mark_system(*f);
}

void set_wait_target(const void* obj, std::uint64_t (*holder)(const void*)) noexcept {
  fiber* f = self();
  // Release (both): pair with the acquires in wait_holder_of(); the holder's
  // also publishes the clearing of an earlier target to its re-check.
  if (obj) f->wait_holder_.store(holder, std::memory_order_release);
  f->wait_obj_.store(obj, std::memory_order_release);
}

void park(spinlock& lock, wait_reason why, const std::source_location& where) {
  park(&unlock_spinlock, &lock, why, where);
}

void park(void (*unlock)(void*), void* arg, wait_reason why, const std::source_location& where) {
  worker* w = worker_of_thread();
  fiber* f = w ? w->current() : nullptr;
  if (!f) {
    park_thread(stand_in(), unlock, arg, why, where);
    return;
  }
  if (w->rt().unwinding_.load(std::memory_order_relaxed)) {
    if (std::uncaught_exceptions() == 0) {
      if (unlock) unlock(arg);
      throw fiber_unwind{};
    }
    // Blocking inside a destructor while unwinding at exit: it can neither
    // throw nor ever be woken. Leave it parked; run() abandons it.
    f->abandoned_ = true;
  }
  f->reason_.store(why, std::memory_order_relaxed);
  f->blocked_at_ = where;
  f->unlock_fn_ = unlock;
  f->unlock_arg_ = arg;
  w = worker::switch_out_park(w);
  f->reason_.store(wait_reason::none, std::memory_order_relaxed);
  if (w->rt().unwinding_.load(std::memory_order_relaxed)) throw fiber_unwind{};
}

void ready(fiber* f) noexcept {
  if (f->is_thread_) {
    f->thread_parker_->notify();
    return;
  }
  with_runtime([f](runtime* rt, worker* w) {
    if (rt) rt->ready(f, w);
  });
}

// ---- fiber creation (gort/detail/fiber_start.hpp) --------------------------

fiber* fiber_create(std::size_t size, std::size_t align, void** storage, const std::source_location& where) {
  return with_runtime([&](runtime* rt, worker* w) {
    if (!w) {
      running(rt, "gort::go");
      if (rt->sched_.stopping()) throw std::logic_error("gort::go: the runtime is shutting down");
    }
    return rt->create_fiber(w, size, align, storage, where);
  });
}

void fiber_discard(fiber* f) noexcept {
  with_runtime([f](runtime* rt, worker* w) {
    if (rt) rt->discard_fiber(w, f);
  });
}

// A fiber that spawns k_spawn_burst fibers in a row without switching yields
// once: gort has no preemption, so without it a spawn loop would queue every
// child (a million-fiber loop: a million fiber objects, 340 MB) before any
// ran. Go gets the same effect from preempting the spawner every 10 ms. The
// children just spawned run first; not while the runtime unwinds (a yield
// while it stops is an ordinary one).
void fiber_start(fiber* f, fiber_fn* fn) noexcept {
  worker* yielder = with_runtime([f, fn](runtime* rt, worker* w) -> worker* {
    if (!rt) return nullptr;
    rt->start_fiber(w, f, fn);
    return w && w->current() && w->spawn_burst_done() && !rt->unwinding_.load(std::memory_order_relaxed)
               ? w
               : nullptr;
  });
  if (yielder) worker::switch_out_yield(yielder);
}

// ---- task_state_base -------------------------------------------------------

void task_state_base::complete() noexcept {
  fiber* joiner;
  {
    std::lock_guard g(lock_);
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
  struct unlink {
    task_state_base& s;
    fiber* me;
    ~unlink() {
      // Normally complete() took the record; if park() threw (unwinding at
      // exit), take it back ourselves.
      std::lock_guard g(s.lock_);
      if (s.joiner_ == me) s.joiner_ = nullptr;
    }
  } guard{*this, me};
  park(lock_, wait_reason(reason), where);
}

void task_state_base::wait(const std::source_location& where) {
  wait_done(int(wait_reason::task_join), where);
  if (error_) std::rethrow_exception(error_);
}

void wait_thread_done(task_state_base& s, const std::source_location& where) {
  s.wait_done(int(wait_reason::thread_join), where);
}

void thread_started() noexcept { g_threads_alive.fetch_add(1, std::memory_order_acq_rel); }
void thread_finished() noexcept { g_threads_alive.fetch_sub(1, std::memory_order_acq_rel); }

void require_running(const char* what) {
  with_runtime([what](runtime* rt, worker*) { running(rt, what); });
}

// ---- sleeping and yielding -------------------------------------------------

namespace {
// Timers fire on workers only (the scheduler's run_timers hook), and a
// sleeper is always a fiber.
void sleep_fired(timer* t) {
  fiber* f = static_cast<fiber::sleep_timer*>(t)->owner;
  worker* w = worker_of_thread();
  if (worker_trace* t = w->trace()) t->instant("timer wakeup", f->id_, now_ns());
  w->rt().ready(f, w);
}
void arm_sleep(void* f) {
  auto* fb = static_cast<fiber*>(f);
  fb->sleep_timer_.system = fb->system_;  // see timer.hpp
  fb->sleep_timer_.start(fb->sleep_timer_.when);
}
}  // namespace

void sleep_until_ns(std::int64_t until, const std::source_location& where) {
  worker* w = worker_of_thread();
  fiber* f = w ? w->current() : nullptr;
  if (!f) {
    std::int64_t now = now_ns();
    if (until > now) std::this_thread::sleep_for(std::chrono::nanoseconds(until - now));
    return;
  }
  f->sleep_timer_.fn = &sleep_fired;  // set here, its one user
  f->sleep_timer_.owner = f;
  f->sleep_timer_.when = until;
  struct disarm {
    fiber* f;
    ~disarm() { f->sleep_timer_.stop(); }  // waits for a callback in flight
  } guard{f};
  // The timer starts in the unlock step, after the switch: it cannot fire
  // (and ready us) before we are switched out.
  park(&arm_sleep, f, wait_reason::sleep, where);
}

std::int64_t steady_now_ns() noexcept { return now_ns(); }

}  // namespace gort::detail

namespace gort {

void yield() {
  using namespace detail;
  worker* w = worker_of_thread();
  if (!w || !w->current()) {
    std::this_thread::yield();
    return;
  }
  if (w->rt().unwinding_.load(std::memory_order_relaxed) && std::uncaught_exceptions() == 0)
    throw fiber_unwind{};
  w = worker::switch_out_yield(w);  // returns at once when nothing else could run
  if (w->rt().unwinding_.load(std::memory_order_relaxed) && std::uncaught_exceptions() == 0)
    throw fiber_unwind{};
}

std::uint64_t fiber_id() noexcept {
  detail::worker* w = detail::worker_of_thread();
  detail::fiber* f = w ? w->current() : nullptr;
  return f ? f->id_ : 0;
}

std::size_t num_fibers() noexcept {
  return detail::with_runtime(
      [](detail::runtime* rt, detail::worker*) -> std::size_t { return rt ? rt->live_fibers() : 0; });
}

unsigned num_workers() noexcept {
  return detail::with_runtime(
      [](detail::runtime* rt, detail::worker*) -> unsigned { return rt ? rt->worker_count() : 0; });
}

}  // namespace gort
