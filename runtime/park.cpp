// park / ready (runtime/park.hpp), the calling fiber's identity, and the
// seeded yields of GORT_SCHED_SEED.
#include "runtime/park.hpp"

#include <exception>
#include <string>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"
#include "runtime/traceback.hpp"
#include "scheduler/random.hpp"

namespace gort::detail {

std::atomic<bool> g_sched_chaos{false};

namespace {
// How often a leftover fiber may catch fiber_unwind and block again before
// run() gives up on it. A few catches are code that cleans up and blocks
// again (then it unwinds); a fiber that keeps doing so is a retry loop around
// catch (...) that would keep run() from returning.
constexpr unsigned k_max_unwinds = 100;

shared_rand g_chaos;  // GORT_SCHED_SEED's sequence, seeded per run
void unlock_spinlock(void* l) GORT_NO_THREAD_SAFETY_ANALYSIS { static_cast<spinlock*>(l)->unlock(); }
thread_local bool t_runtime_thread = false;  // see mark_runtime_thread()
}  // namespace

void mark_runtime_thread() noexcept { t_runtime_thread = true; }

// TSan: is the caller the user's code (a fiber outside the runtime's
// sections, a plain thread), whose wake-ups order what it did before them?
// g0, a runtime section and the runtime's threads act for nobody: a timer
// or the poller readying a fiber states no edge (as in Go).
bool race_user_context() noexcept {
  if (machine* m = machine_of_thread()) return m->current() && !m->in_runtime();
  return !t_runtime_thread;
}

void set_chaos_seed(std::optional<std::uint64_t> seed) noexcept {
  if (seed) g_chaos.seed(*seed);
  g_sched_chaos.store(seed.has_value(), std::memory_order_relaxed);
}

// A fiber at a synchronisation point under GORT_SCHED_SEED: yields half of
// the time, decided by the seeded sequence (reproducible with one worker).
void chaos_yield() {
  if (!in_fiber()) return;
  if (g_chaos.next() & 1) gort::yield();
}

fiber* self() noexcept {
  if (machine* m = machine_of_thread()) {
    if (fiber* f = m->current()) return f;
  }
  return thread_self();
}

bool in_fiber() noexcept {
  machine* m = machine_of_thread();
  return m && m->current() && !m->in_runtime();
}

void mark_system_fiber() noexcept {
  machine* m = machine_of_thread();
  if (fiber* f = m ? m->current() : nullptr) m->rt().mark_system(*f);
}

void set_wait_target(const void* obj, std::uint64_t (*holder)(const void*)) noexcept {
  fiber* f = self();
  // Release (both): pair with the acquires in wait_holder_of(); the holder's
  // also publishes the clearing of an earlier target to its re-check.
  if (obj) f->wait_holder_.store(holder, std::memory_order_release);
  f->wait_obj_.store(obj, std::memory_order_release);
}

// A fiber that swallowed fiber_unwind and blocks again gets it again; past
// k_max_unwinds it can never be unwound (nor abandoned: its frames own memory
// and locks), so the process ends as Go ends on a fatal error, naming it.
void throw_unwind(fiber& f, wait_reason why, const location* where) {
  if (++f.unwinds_ >= k_max_unwinds) {
    if (where) f.blocked_at_ = *where;
    std::string msg = "goroutine " + std::to_string(f.id_) +
                      " caught the exception that unwinds it at exit " + std::to_string(k_max_unwinds) +
                      " times without rethrowing it (catch (...) without throw;)\n\n";
    {  // As it was blocking again (a yield: running, with no location).
      traceback_session ts;
      block_info b;
      b.f = &f;
      b.state = where ? std::string(wait_reason_text(why)) : std::string("running");
      b.blocked = where != nullptr;
      b.stack = ts.here(f);
      machine* m = machine_of_thread();
      append_block(msg, b, ts, m && m->rt().config().env.traceback_system);
    }
    msg.pop_back();  // fatal() ends the line
    fatal(msg);
  }
  throw fiber_unwind{};
}

// Not analysed: `lock` is released by the unlock step, after the switch.
void park(spinlock& lock, wait_reason why, const location& where) GORT_NO_THREAD_SAFETY_ANALYSIS {
  park(&unlock_spinlock, &lock, why, where);
}

void park(void (*unlock)(void*), void* arg, wait_reason why, const location& where) {
  machine* m = machine_of_thread();
  fiber* f = m ? m->current() : nullptr;
  if (!f) {
    park_thread(unlock, arg, why, where);
    return;
  }
  machine::park_current(m, f, unlock, arg, why, where);
}

void race_publish_self_slow() noexcept { self()->race_edge_.publish(); }
void race_take_from_slow(fiber* f) noexcept { f->race_edge_.take(); }

void ready(fiber* f) noexcept {
  // TSan: what the waker did so far happens before what `f` does once it
  // resumes (taken in park() or park_thread()).
  if constexpr (race_enabled) {
    if (race_user_context()) f->race_edge_.publish();
  }
  if (f->is_thread_) {
    f->thread_parker_->notify();
    return;
  }
  with_runtime([f](runtime* rt, worker* w) {
    if (rt) rt->ready(f, w);
  });
}

}  // namespace gort::detail
