// runtime: what one run() owns (Go's sched): the workers, the scheduler,
// stacks, timers, the fiber table, the netpoller, and the end-of-run
// protocol. Other files of the runtime reach it only through the named
// operations below; its parts are private.
//
// Invariants:
//   - At most one runtime exists at a time; g_runtime points to it while
//     run() is active. Threads that are not workers read it under
//     g_runtime_lock (shared); run() replaces it under the lock (exclusive).
//   - live fibers = spawned - exited - live service fibers, summed over
//     workers and foreign_spawned_/foreign_exited_.
//
// Shutdown protocol (run() after the main fiber returned):
//   1. The main fiber's exit stops the scheduler; every machine leaves its
//      loop at its next scheduling point (spares are woken to leave).
//   2. Machine 0 (the thread that called run) stops the monitor and joins
//      the other machines' threads; it then owns every worker.
//   3. Pending timers are dropped (set idle without firing).
//   4. unwinding_ is set; every fiber still alive is resumed once on worker 0,
//      newest first (children tend to use objects on their creators' stacks);
//      park() throws fiber_unwind, its stack unwinds and it exits (if its
//      code swallows it, its next park throws again: throw_unwind). Fibers
//      that never started just have their callables destroyed.
//   5. g_runtime is cleared and the runtime destroyed; run() returns, throws
//      deadlock_error, or rethrows the main fiber's exception.
//
// Locks, in the order they may nest (outer first; docs/architecture.md has
// the whole runtime's list):
//   a primitive's spinlock (channel, sema, cond, task) > g_runtime_lock
//   (shared, in ready() from a plain thread; exclusive only in run_main with
//   nothing held) > a timer heap's or netpoll descriptor's lock > the inject
//   queue's lock, the scheduler's idle lock > fiber_table::lock_.
//   monitor_mu_ is taken only by the monitor thread and run(), with nothing
//   else held.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "gort/runtime.hpp"
#include "gort/stats.hpp"
#include "runtime/fiber.hpp"
#include "runtime/fiber_table.hpp"
#include "runtime/netpoller.hpp"
#include "runtime/settings.hpp"
#include "runtime/stack.hpp"
#include "runtime/timer_heap.hpp"
#include "runtime/trace.hpp"
#include "runtime/machine.hpp"
#include "runtime/worker.hpp"
#include "scheduler/scheduler.hpp"

namespace gort::detail {

struct block_info;
class traceback_session;

// What run() was asked for, resolved against the environment.
struct run_config {
  unsigned workers = 1;
  std::size_t stack_size = 0;
  deadlock_policy on_deadlock = deadlock_policy::abort;
  unsigned max_threads = 10000;
  std::int64_t stall_report_ns = 0;  // 0: off
  settings env;
};

// How a run ended (read by run_main after the runtime stopped).
struct run_outcome {
  std::exception_ptr error;     // the main fiber's exception, if any
  std::string deadlock_report;  // set under deadlock_policy::raise
};

class runtime final : public sched_hooks {
 public:
  explicit runtime(const run_config& cfg);
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  // The thread that called run_main(): runs `fn` as the main fiber and
  // everything else until it returned and leftovers are unwound (run.cpp).
  run_outcome run(main_fn& fn);

  // ---- fibers (lifecycle.cpp; see gort/detail/fiber_start.hpp for who may
  // call). `w` is the worker the caller owns inside a runtime section (see
  // with_runtime), or null: a plain thread, or a machine without a worker.
  fiber* create_fiber(worker* w, std::size_t size, std::size_t align, void** storage, const location& where);
  void discard_fiber(worker* w, fiber* f) noexcept;
  void start_fiber(worker* w, fiber* f, fiber_fn* fn) noexcept;
  // Any thread: make the parked `f` runnable (see park.hpp).
  inline void ready(fiber* f, worker* w) noexcept;
  // A machine on g0, owning `w` (or null): `f` exited.
  void fiber_exited(worker* w, fiber& f) noexcept;
  // The running fiber `f` only: it becomes a service fiber (see park.hpp).
  void mark_system(fiber& f) noexcept;
  // The main fiber, as it ends with an exception.
  void set_main_error(std::exception_ptr e) noexcept { outcome_.error = std::move(e); }
  // Any worker: the first of `n` fresh fiber ids (Go's goidcache refill).
  std::uint64_t reserve_ids(std::uint64_t n) noexcept { return next_id_.fetch_add(n, std::memory_order_relaxed); }

  // ---- state (any thread)
  // Live fibers, the runtime's service fibers not counted.
  std::size_t live_fibers() const noexcept;
  unsigned worker_count() const noexcept { return unsigned(workers_.size()); }
  // True from shutdown step 4 on: parks throw fiber_unwind.
  bool unwinding() const noexcept { return unwinding_.load(std::memory_order_relaxed); }
  bool stopping() const noexcept { return sched_.stopping(); }
  // Any thread: something that could wake a fiber went away (the last
  // registered signal): runs the deadlock check now if every worker is idle.
  void recheck_deadlock() noexcept { sched_.recheck_all_idle(); }
  const run_config& config() const noexcept { return cfg_; }
  // TSan: what every fiber's exit releases (see race_exits_).
  const void* race_exits() const noexcept { return &race_exits_; }

  // ---- machines (machines.cpp)
  // Any thread: ends the run (shutdown step 1): every worker's scheduler
  // returns null from now on, and the spares wake to exit.
  void stop() noexcept;
  // A machine that lost its worker, on g0, its fiber switched out: it no
  // longer holds a stuck fiber (the deadlock check may run again).
  void worker_lost(machine& m) noexcept;
  // A machine on g0 without a worker: gives a stack straight to the pool.
  void release_stack(stack_mem s) noexcept { stacks_.release(s); }
  // OS threads counted against max_threads now (machines, blocking helpers).
  unsigned thread_count() const noexcept;

  // ---- timers and I/O (any thread)
  // Adds `t` to worker w's heap (heap 0 from a plain thread) and wakes the
  // poller if it would sleep past it.
  void add_timer(timer& t, std::int64_t when_ns, worker* w) noexcept;
  netpoller& poller() noexcept { return netpoll_; }
  // Any thread: the idle poller re-evaluates how it sleeps (descriptors now
  // need epoll).
  void wake_poller() noexcept { sched_.wake_poller(); }

  // ---- reports (any thread; the runtime held alive by the caller)
  sched_stats snapshot();   // stats.cpp
  void dump(std::string& out);
  // GORT_TRACE and live captures (trace.cpp).
  trace_recorder& tracer() noexcept { return trace_; }
  // How long the running fiber `f` has run without switching, as far as the
  // monitor saw (0: not known to be stuck).
  std::int64_t running_for(const fiber& f);
  // The machine running `f` now, or null.
  machine* machine_running(const fiber& f);
  // Not a signal handler (traceback.cpp): the block of `f` with its call
  // stack; a running fiber's is sampled on its thread if `sample_running`.
  block_info block_of(const fiber& f, traceback_session& ts, bool sample_running);
  // The same for `fibers` (ordered by id), formatted, grouped (traceback.hpp).
  std::string fiber_blocks(const std::vector<const fiber*>& fibers, bool sample_running);
  // A signal handler (signals.cpp): asks the monitor for the SIGQUIT dump,
  // which it writes before it exits the process; false if it cannot.
  bool request_quit_dump() noexcept;
  // Signal handlers only: every fiber object, without taking a lock.
  template <class F>
  void for_each_fiber_unlocked(F&& fn) const {
    table_.for_each_unlocked(std::forward<F>(fn));
  }

  // sched_hooks (the scheduler's calls into the runtime)
  void run_timers(unsigned w, unsigned victim) override;
  std::int64_t next_timer_deadline() override;
  void all_idle(unsigned w, std::uint64_t idle_epoch) override;
  void going_idle(unsigned) override { stacks_.trim_excess(); }
  void left_idle(unsigned w) override;
  bool netpoll_active() override { return netpoll_.active(); }
  void netpoll(unsigned, std::int64_t deadline_ns) override { netpoll_.poll(deadline_ns); }
  void netpoll_interrupt() override { netpoll_.interrupt(); }

 private:
  // reports.cpp
  bool nothing_can_wake() const noexcept;
  std::string deadlock_report();
  void report_leaks();
  void check_partial_deadlock();
  void act_on_deadlock(std::string report);
  // machines.cpp
  machine& new_machine(worker* p);
  void machine_main(machine& m);
  bool wait_as_spare(machine& m);
  void give_to_spare(worker& p);
  void join_machines();
  // monitor.cpp
  struct monitor_state;
  void start_monitor();
  void stop_monitor();
  void monitor_loop();
  void watch_workers(monitor_state& st, std::int64_t now, bool& suspect, bool& acted);
  void watch_stuck(monitor_state& st, std::int64_t now);
  bool work_waiting(unsigned w, std::int64_t now);
  bool oversubscribed(const monitor_state& st) const;
  bool hand_off(worker& p, machine& from, std::int64_t now, bool computing);
  void report_stall(machine& m, const fiber& f, std::int64_t ran_ns, bool handed_off);
  [[noreturn]] void quit_dump();
  void schedtrace_line(std::int64_t now);
  // run.cpp, lifecycle.cpp
  void unwind_leftovers(machine& m0);
  void discard_unstarted(worker& w0, fiber& f) noexcept;

  const run_config cfg_;
  netpoller netpoll_;  // before sched_: destroyed after the workers stop
  scheduler sched_;
  stack_allocator stacks_;
  fiber_table table_;
  std::vector<timer_heap> heaps_;
  std::vector<std::unique_ptr<worker>> workers_;
  // Every machine of the run (machine 0 is run()'s thread); spares_ are
  // those waiting for a worker. Both guarded by machines_mu_.
  std::mutex machines_mu_;
  std::vector<std::unique_ptr<machine>> machines_;
  std::vector<machine*> spares_;
  std::vector<machine*> retired_;  // spares whose threads exited, not yet joined
  // Machines running a fiber without a worker (the monitor handed theirs
  // away): they hold no worker, but their fibers are alive.
  std::atomic<long> stuck_machines_{0};
  std::atomic<std::uint64_t> next_id_{2};  // 1 is the main fiber
  std::atomic<std::uint64_t> foreign_spawned_{0};  // by plain threads and workerless machines
  std::atomic<std::uint64_t> foreign_exited_{0};   // on workerless machines
  std::atomic<std::uint64_t> system_live_{0};  // live service fibers (mark_system)
  std::atomic<bool> unwinding_{false};
  std::atomic<bool> deadlock_found_{false};  // act_on_deadlock ran (once per run)
  // error: by the main fiber; report: by act_on_deadlock (a worker or the
  // monitor); read by run() after joining them.
  run_outcome outcome_;
  const std::int64_t started_ns_;
  // GORT_TRACE's flight recorder and live captures (runtime/trace.hpp).
  trace_recorder trace_;
  // The monitor thread (Go's sysmon; monitor.cpp): hands off stuck workers,
  // reports stalls, prints GORT_SCHEDTRACE lines, runs GORT_DEADLOCK=partial.
  std::thread monitor_;
  parker monitor_park_;                    // where it sleeps
  std::atomic<bool> monitor_stop_{false};
  std::atomic<bool> monitor_deep_{false};  // asleep without a deadline (all idle)
  std::atomic<bool> quit_requested_{false};  // SIGQUIT: the monitor writes the dump
  std::vector<std::uint64_t> last_cycle_;  // monitor thread only
  // TSan: every fiber's exit releases here; fibers unwound at exit and
  // run()'s return acquire it (gort/detail/race.hpp).
  char race_exits_ = 0;
};

// Inline: on every wake-up.
[[gnu::always_inline]] inline void runtime::ready(fiber* f, worker* w) noexcept {
  f->state_.store(fiber_state::runnable, std::memory_order_relaxed);
  if (!w) {
    sched_.push_global(f);
    return;
  }
  const unsigned here = w->index();  // only this runtime's workers exist while it runs
  f->prefetch_resume();
  sched_.push_local(here, f, f->last_worker_ == here ? place::next : place::next_if_free);
}

// Installs the SIGQUIT dump (once per process, unless the program set its own).
void install_sigquit_handler() noexcept;

extern std::shared_mutex g_runtime_lock;
extern std::atomic<runtime*> g_runtime;
// A coarse clock for "blocked since" stamps, in seconds (monitor.cpp): the
// monitor brings it to coarse_seconds(now_ns()) at each look (every 10 ms at
// most while any worker is busy), and a worker that wakes the deep-sleeping
// monitor does so first, so a park reads a value at most one monitor period
// old. 0 before the first run.
extern std::atomic<std::uint32_t> g_coarse_now_s;
// now_ns() in whole seconds, plus one so that 0 means "unknown".
inline std::uint32_t coarse_seconds(std::int64_t ns) noexcept {
  return std::uint32_t(ns / 1'000'000'000 + 1);
}

// Any thread: returns fn(rt, w) for the running runtime `rt` (null when no
// run() is active) and the worker `w` the calling machine owns (null on a
// plain thread, or on a machine whose worker was handed off); on a machine,
// fn runs inside a runtime section, so `w` stays its own. Off a machine,
// g_runtime is read and fn runs under g_runtime_lock (shared), so run()
// cannot replace the runtime meanwhile. fn must not block or park.
template <class F>
decltype(auto) with_runtime(F&& fn) {
  if (machine* m = machine_of_thread()) {
    runtime_section s(*m);  // the worker m owns (if any) stays m's while fn runs
    return fn(&m->rt(), s.p());
  }
  race_ignored runtime_work;  // TSan: as a fiber's runtime section (see machine::bind_thread)
  std::shared_lock g(g_runtime_lock);
  return fn(g_runtime.load(std::memory_order_acquire), static_cast<worker*>(nullptr));
}

// OS threads that run or may run fibers or blocking calls (machines,
// blocking() helpers), process-wide (machines.cpp). count_os_thread() is
// called before starting one; past `limit` it is a fatal error.
extern std::atomic<long> g_os_threads;
void count_os_thread(unsigned limit);
void uncount_os_thread() noexcept;
// A thread the runtime needs could not be started (std::thread threw, its
// pthread_create failed): Go's "failed to create new OS thread" report and
// "fatal error: newosproc", exit 2.
[[noreturn]] void thread_start_failed(const std::system_error& e) noexcept;

// Plain OS threads and helpers the deadlock check counts as able to wake a
// fiber (threads.cpp, blocking.cpp).
// gort::thread objects, and foreign threads from their first gort call until
// they exit (process-wide: they may outlive a run).
extern std::atomic<long> g_threads_alive;
// Plain OS threads blocked in a gort operation now.
extern std::atomic<long> g_foreign_blocked;
// gort::blocking calls in flight (their fibers wait for a helper thread).
extern std::atomic<long> g_blocking_inflight;
// Registered signal notifications (park.hpp: external_wakers_add).
extern std::atomic<long> g_external_wakers;

// The calling fiber `f`, at a park (`why`, `where`: the blocking call) or a
// yield (none, null) while run() unwinds leftovers, no exception in flight:
// throws fiber_unwind, or ends the process if `f` keeps swallowing it
// (park.cpp).
[[noreturn]] void throw_unwind(fiber& f, wait_reason why, const location* where);

// The calling plain thread's stand-in record, and how it blocks in park().
fiber* thread_self();
void park_thread(void (*unlock)(void*), void* arg, wait_reason why, const location& where);

// TSan (park.cpp): the calling thread is one of the runtime's own (the
// monitor): its wake-ups, like g0's, state no happens-before edge.
void mark_runtime_thread() noexcept;
// TSan: true when the caller is the user's code (a fiber outside runtime
// sections, or a plain thread that is not the runtime's).
bool race_user_context() noexcept;

// run(): the calling thread stops / resumes counting as a plain thread that
// called into gort (threads.cpp).
bool thread_enters_run() noexcept;
void thread_leaves_run(bool was_counted) noexcept;

// GORT_SCHED_SEED (park.cpp): seeds the yields of sched_point() for a run.
void set_chaos_seed(std::optional<std::uint64_t> seed) noexcept;

}  // namespace gort::detail
