// Plain OS threads in gort: the stand-in record that lets a thread block on a
// channel or mutex like a fiber, and the counts the deadlock check reads.
//
// A plain thread that has called into gort counts as alive for the deadlock
// check from then until it exits (a plain std::thread is invisible only until
// it calls into gort), except while it is itself running run(). gort::thread
// objects count from construction to the end of their function.
#include <memory>

#include "runtime/core.hpp"
#include "runtime/park.hpp"

namespace gort::detail {

std::atomic<long> g_threads_alive{0};
std::atomic<long> g_foreign_blocked{0};
std::atomic<long> g_blocking_inflight{0};
std::atomic<long> g_external_wakers{0};

// Any thread. acq_rel: pairs with the deadlock check's acquire load. When
// the last one goes, a program already blocked for good is reported now, not
// at the next time a worker goes idle (stop() called from a plain thread).
void external_wakers_add(long delta) noexcept {
  if (g_external_wakers.fetch_add(delta, std::memory_order_acq_rel) + delta != 0) return;
  with_runtime([](runtime* rt, worker*) {
    if (rt) rt->recheck_deadlock();
  });
}

namespace {
// An OS thread's stand-in record, so primitives can queue plain threads like
// fibers (a blocking call blocks a plain thread).
struct thread_stand_in {
  parker park;
  fiber self;
  bool counted = false;
  thread_stand_in() {
    self.is_thread_ = true;
    self.thread_parker_ = &park;
    self.state_.store(fiber_state::running, std::memory_order_relaxed);
    if (!machine_of_thread()) set_counted(true);
  }
  ~thread_stand_in() { set_counted(false); }
  void set_counted(bool on) noexcept {
    if (on == counted) return;
    counted = on;
    // acq_rel: pairs with the deadlock check's acquire load.
    g_threads_alive.fetch_add(on ? 1 : -1, std::memory_order_acq_rel);
  }
};
thread_local std::unique_ptr<thread_stand_in> t_stand_in;
}  // namespace

fiber* thread_self() {
  if (!t_stand_in) {
    // TSan: the record is the runtime's, which wakers touch (its race
    // edge) without being ordered after this thread.
    race_ignored runtime_memory;
    t_stand_in = std::make_unique<thread_stand_in>();
  }
  return &t_stand_in->self;
}

// A plain thread blocks on its own futex; it counts as "inside gort" for the
// deadlock check while it waits.
void park_thread(void (*unlock)(void*), void* arg, wait_reason why, const location& where) {
  fiber* f = thread_self();
  f->reason_.store(why, std::memory_order_relaxed);
  f->blocked_at_ = where;
  g_foreign_blocked.fetch_add(1, std::memory_order_acq_rel);
  if (unlock) unlock(arg);
  f->thread_parker_->wait();
  f->race_edge_.take();  // TSan: from whoever readied us (see ready())
  g_foreign_blocked.fetch_sub(1, std::memory_order_acq_rel);
  f->reason_.store(wait_reason::none, std::memory_order_relaxed);
}

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

void thread_started() noexcept { g_threads_alive.fetch_add(1, std::memory_order_acq_rel); }
void thread_finished() noexcept { g_threads_alive.fetch_sub(1, std::memory_order_acq_rel); }

}  // namespace gort::detail
