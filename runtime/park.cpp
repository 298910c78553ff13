// park / ready (runtime/park.hpp), the calling fiber's identity, and the
// seeded yields of GORT_SCHED_SEED.
#include "runtime/park.hpp"

#include <exception>

#include "runtime/core.hpp"
#include "scheduler/random.hpp"

namespace gort::detail {

std::atomic<bool> g_sched_chaos{false};

namespace {
shared_rand g_chaos;  // GORT_SCHED_SEED's sequence, seeded per run
void unlock_spinlock(void* l) GORT_NO_THREAD_SAFETY_ANALYSIS { static_cast<spinlock*>(l)->unlock(); }
}  // namespace

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
  return m && m->current();
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

// Not analysed: `lock` is released by the unlock step, after the switch.
void park(spinlock& lock, wait_reason why, const std::source_location& where) GORT_NO_THREAD_SAFETY_ANALYSIS {
  park(&unlock_spinlock, &lock, why, where);
}

void park(void (*unlock)(void*), void* arg, wait_reason why, const std::source_location& where) {
  machine* m = machine_of_thread();
  fiber* f = m ? m->current() : nullptr;
  if (!f) {
    park_thread(unlock, arg, why, where);
    return;
  }
  if (m->rt().unwinding()) {
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
  // For reports: since when (one load of a clock the monitor keeps), and a
  // new generation of its saved context (see fiber::switch_gen_).
  f->blocked_since_.store(g_coarse_now_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
  f->switch_gen_.store(f->switch_gen_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  m = machine::switch_out_park(m);
  f->reason_.store(wait_reason::none, std::memory_order_relaxed);
  if (m->rt().unwinding()) throw fiber_unwind{};
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

}  // namespace gort::detail
