// runtime: what one run() owns (Go's sched): the workers, the scheduler,
// stacks, timers, the fiber table, and the end-of-run protocol.
//
// Invariants:
//   - At most one runtime exists at a time; g_runtime points to it while
//     run() is active. Threads that are not workers read it under
//     g_runtime_lock (shared); run() replaces it under the lock (exclusive).
//   - Every fiber object ever allocated during this run is in a chunk of
//     table_ until the runtime is destroyed.
//   - live fibers = spawned - exited, summed over workers and foreign_*.
//
// Shutdown protocol (run() after the main fiber returned):
//   1. The main fiber's exit stops the scheduler; every worker leaves its
//      loop at its next scheduling point.
//   2. Worker 0 (the thread that called run) joins the other threads.
//   3. Pending timers are dropped (set idle without firing).
//   4. unwinding_ is set; every fiber still alive is resumed once on worker 0,
//      newest first (children tend to use objects on their creators' stacks);
//      park() throws fiber_unwind, its stack unwinds and it exits. Fibers
//      that never started just have their callables destroyed.
//   5. g_runtime is cleared and the runtime destroyed; run() returns, throws
//      deadlock_error, or rethrows the main fiber's exception.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "gort/runtime.hpp"
#include "gort/stats.hpp"
#include "runtime/fiber.hpp"
#include "runtime/netpoller.hpp"
#include "runtime/stack.hpp"
#include "runtime/timer_heap.hpp"
#include "runtime/trace.hpp"
#include "runtime/worker.hpp"
#include "scheduler/scheduler.hpp"

namespace gort::detail {

// All fiber objects of a run, in chunks that never move. The chunks form a
// plain linked list so that the gdb extension (tools/gdb/gort.py) can walk it.
class fiber_table {
 public:
  ~fiber_table();
  // Any thread: `n` fresh objects linked through sched_next.
  fiber* allocate_chunk(std::size_t n);
  // Any thread: give back / take a batch of free objects (linked lists).
  void put_free(fiber* head, fiber* tail, std::size_t n) noexcept;
  fiber* take_free(std::size_t max, std::size_t& got) noexcept;
  // Any thread: calls fn(fiber&) for every object (free ones included).
  template <class F>
  void for_each(F&& fn) {
    std::lock_guard g(lock_);
    for (chunk* c = chunks_; c; c = c->next)
      for (std::size_t i = 0; i < c->n; ++i) fn(c->items[i]);
  }
  // Signal handlers only: the same walk without the lock (chunks are only
  // prepended and outlive the run). Oldest chunk last, ids roughly descending.
  template <class F>
  void for_each_unlocked(F&& fn) const {
    for (chunk* c = chunks_; c; c = c->next)
      for (std::size_t i = 0; i < c->n; ++i) fn(c->items[i]);
  }

 private:
  struct chunk {
    chunk* next;
    std::size_t n;
    fiber* items;
  };
  spinlock lock_;
  chunk* chunks_ = nullptr;  // guarded by lock_; newest first
  fiber* free_ = nullptr;    // guarded by lock_
};

class runtime final : public sched_hooks {
 public:
  runtime(unsigned workers, std::size_t stack_size, deadlock_policy policy);
  ~runtime();

  // The thread that called run(): runs everything; returns the main result.
  void run(main_fn& fn);

  // Fibers (see gort/detail/fiber_start.hpp for who may call).
  // `w`: the calling thread's worker (worker_of_thread(), read once by the
  // caller), or null on a plain thread.
  fiber* create_fiber(worker* w, std::size_t size, std::size_t align, void** storage,
                      const std::source_location& where);
  void discard_fiber(worker* w, fiber* f) noexcept;
  void start_fiber(worker* w, fiber* f, fiber_fn* fn) noexcept;
  // Any thread: make the parked `f` runnable (see park.hpp). `w` is the
  // calling thread's worker (worker_of_thread(), read once by the caller), or
  // null.
  void ready(fiber* f, worker* w) noexcept;
  // Worker `w`, on g0: `f` exited.
  void fiber_exited(worker& w, fiber& f) noexcept;

  // Live fibers, the runtime's service fibers not counted.
  std::size_t live_fibers() const noexcept;
  // The running fiber `f` only: it becomes a service fiber (see park.hpp).
  void mark_system(fiber& f) noexcept;
  // Any thread (runtime held alive by the caller): statistics and dumps.
  sched_stats snapshot();
  void dump(std::string& out);
  unsigned worker_count() const noexcept { return unsigned(workers_.size()); }

  // sched_hooks
  void run_timers(unsigned w, unsigned victim) override;
  std::int64_t next_timer_deadline() override;
  void all_idle(unsigned w) override;
  void going_idle(unsigned) override { stacks_.trim_excess(); }
  bool netpoll_active() override { return netpoll_.active(); }
  void netpoll(unsigned, std::int64_t deadline_ns) override { netpoll_.poll(deadline_ns); }
  void netpoll_interrupt() override { netpoll_.interrupt(); }

  netpoller netpoll_;  // before sched_: destroyed after the workers stop
  scheduler sched_;
  stack_allocator stacks_;
  fiber_table table_;
  std::vector<timer_heap> heaps_;
  std::atomic<std::uint64_t> next_id_{2};  // 1 is the main fiber
  std::atomic<std::uint64_t> foreign_spawned_{0};
  std::atomic<std::uint64_t> system_live_{0};  // live service fibers (mark_system)
  std::atomic<bool> unwinding_{false};
  std::exception_ptr main_error_;  // written by the main fiber, read after join
  std::string deadlock_report_;    // set by all_idle under the raise policy
  const std::int64_t started_ns_;
  trace_recorder trace_;  // GORT_TRACE and live captures (runtime/trace.hpp)

 private:
  void unwind_leftovers(worker& w0);
  void report_leaks();
  std::string deadlock_report();

  void start_monitor();
  void check_partial_deadlock();
  void stop_monitor();
  void schedtrace_line(std::int64_t now);

  deadlock_policy policy_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::thread> threads_;
  // GORT_SCHEDTRACE: a monitor thread that exists only when asked for.
  std::thread monitor_;
  std::mutex monitor_mu_;
  std::condition_variable monitor_cv_;
  bool monitor_stop_ = false;              // guarded by monitor_mu_
  long schedtrace_ms_ = 0;                 // GORT_SCHEDTRACE, 0 when off
  bool partial_check_ = false;             // GORT_DEADLOCK=partial
  std::vector<std::uint64_t> last_cycle_;  // monitor thread only
};

// run(): the calling thread stops / resumes counting as a plain thread that
// called into gort (see park.cpp).
bool thread_enters_run() noexcept;
void thread_leaves_run(bool was_counted) noexcept;

// Installs the SIGQUIT dump (once per process, unless the program set its own).
void install_sigquit_handler() noexcept;

// GORT_SCHEDTRACE's period in ms, 0 when unset; throws std::invalid_argument
// naming a bad value.
long schedtrace_period();

extern std::shared_mutex g_runtime_lock;
extern std::atomic<runtime*> g_runtime;

// Any thread: returns fn(rt, w) for the running runtime `rt` (null when no
// run() is active) and the calling thread's worker `w` (null on any other
// thread). Off a worker, g_runtime is read and fn runs under g_runtime_lock
// (shared), so run() cannot replace the runtime meanwhile: fn must not block.
template <class F>
decltype(auto) with_runtime(F&& fn) {
  if (worker* w = worker_of_thread()) return fn(&w->rt(), w);
  std::shared_lock g(g_runtime_lock);
  return fn(g_runtime.load(std::memory_order_acquire), static_cast<worker*>(nullptr));
}
// Plain OS threads that count as alive for the deadlock check: gort::thread
// objects, and foreign threads from their first gort call until they exit
// (process-wide: they may outlive a run).
extern std::atomic<long> g_threads_alive;
// Plain OS threads blocked in a gort operation now.
extern std::atomic<long> g_foreign_blocked;
// gort::blocking calls in flight (their fibers wait for a helper thread).
extern std::atomic<long> g_blocking_inflight;

}  // namespace gort::detail
