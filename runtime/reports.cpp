// The deadlock check (Go's checkdead), the deadlock and leak reports, and
// GORT_DEADLOCK=partial's search for cycles of fibers waiting on mutexes.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <unistd.h>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"

// A place for debuggers to stop at a deadlock, with every fiber still parked
// (tools/gdb/gort.py; `break gort_debug_deadlock`).
extern "C" __attribute__((noinline, used)) void gort_debug_deadlock() { asm volatile(""); }

namespace gort::detail {

namespace {
// The fibers of `table` in one of `states`, ordered by id.
template <class Table>
std::vector<const fiber*> fibers_in(Table& table, std::initializer_list<fiber_state> states) {
  std::vector<const fiber*> out;
  table.for_each([&](fiber& f) {
    // Acquire: pairs with the release store of `waiting` in worker::parked(),
    // so a parked fiber's reason and location are complete.
    fiber_state s = f.state_.load(std::memory_order_acquire);
    if (std::find(states.begin(), states.end(), s) != states.end()) out.push_back(&f);
  });
  std::sort(out.begin(), out.end(), [](const fiber* a, const fiber* b) { return a->id_ < b->id_; });
  return out;
}

[[noreturn]] void print_and_exit(const std::string& report) {
  std::fflush(stdout);
  write_stderr(report);
  write_trace_on_crash();  // GORT_TRACE's flight recorder
  exit_now(2);
}
}  // namespace

// Any thread: nothing outside the fibers can make one runnable: no pending
// timer (those of service fibers aside), no plain thread alive or blocked in
// gort, no blocking() call in flight, no registered signal, no fiber of the
// user's waiting on a socket, no fiber still running on a machine whose
// worker was handed off (it is alive, and may wake others).
bool runtime::nothing_can_wake() const noexcept {
  for (const timer_heap& h : heaps_)  // a sleeper or timer (a service fiber's does not count)
    if (h.user_pending() > 0) return false;
  if (g_threads_alive.load(std::memory_order_acquire) > 0) return false;
  if (g_foreign_blocked.load(std::memory_order_acquire) > 0) return false;
  if (g_blocking_inflight.load(std::memory_order_acquire) > 0) return false;
  if (g_external_wakers.load(std::memory_order_acquire) > 0) return false;  // a signal may still come
  if (netpoll_.waiters() > 0) return false;  // a socket may still become ready
  if (stuck_machines_.load(std::memory_order_acquire) > 0) return false;  // a fiber runs without a worker
  return live_fibers() > 0;                 // none at all: the program is simply ending
}

// Worker `w`, no lock held, with every worker idle and every queue empty as
// of `idle_epoch`. Go's checkdead. The report is built first and acted on
// only if the scheduler confirms nothing moved meanwhile.
void runtime::all_idle(unsigned, std::uint64_t idle_epoch) {
  if (sched_.stopping() || !nothing_can_wake()) return;
  std::string report = deadlock_report();
  if (!sched_.confirm_all_idle(idle_epoch) || !nothing_can_wake()) return;
  act_on_deadlock(std::move(report));
}

// A worker (all_idle) or the monitor (check_partial_deadlock) that found a
// deadlock: under abort prints `report` and exits 2; under raise stops the
// run, which then throws deadlock_error(report) from run_main. Fibers still
// running stop at their next park, yield or exit, and are unwound with the
// others (shutdown steps 1-4 of core.hpp).
void runtime::act_on_deadlock(std::string report) {
  // Two workers may judge the same moment (the check runs unlocked), or the
  // monitor and a worker: one reports. acq_rel: the loser sees the winner's
  // report written. run() reads it after joining both kinds of thread.
  if (deadlock_found_.exchange(true, std::memory_order_acq_rel)) return;
  gort_debug_deadlock();
  if (cfg_.on_deadlock == deadlock_policy::abort) print_and_exit(report);
  outcome_.deadlock_report = std::move(report);
  stop();
}

std::string runtime::deadlock_report() {
  return "fatal error: all goroutines are asleep - deadlock!\n\n" +
         fiber_blocks(fibers_in(table_, {fiber_state::waiting, fiber_state::runnable, fiber_state::running}), false);
}

// GORT_LEAKCHECK=1: after the main fiber returned and the workers stopped,
// list the fibers still blocked (they are about to be unwound).
void runtime::report_leaks() {
  std::vector<const fiber*> blocked = fibers_in(table_, {fiber_state::waiting});
  if (blocked.empty()) return;
  std::fflush(stdout);
  write_stderr("gort: " + std::to_string(blocked.size()) + " fibers still blocked at exit\n\n" +
               fiber_blocks(blocked, false));
}

// GORT_DEADLOCK=partial, on the monitor thread: finds a cycle of fibers each
// waiting for a mutex held by the next (a deadlock Go never reports while
// other fibers still run). A cycle must be seen on two consecutive checks,
// unchanged, before it is reported: a snapshot may catch a chain in motion.
void runtime::check_partial_deadlock() {
  std::map<std::uint64_t, const fiber*> waiting;
  std::map<std::uint64_t, std::uint64_t> waits_for;
  table_.for_each([&](fiber& f) {
    if (std::uint64_t holder = wait_holder_of(f)) {
      waiting[f.id_] = &f;
      waits_for[f.id_] = holder;
    }
  });
  std::vector<std::uint64_t> cycle;
  for (const auto& [start, unused] : waits_for) {
    std::vector<std::uint64_t> path{start};
    for (std::uint64_t cur = start;;) {
      auto it = waits_for.find(cur);
      if (it == waits_for.end()) break;
      cur = it->second;
      if (cur == start) {
        cycle = path;
        break;
      }
      if (path.size() > waits_for.size() || std::find(path.begin(), path.end(), cur) != path.end()) break;
      path.push_back(cur);
    }
    if (!cycle.empty()) break;
  }
  if (cycle.empty() || cycle != last_cycle_) {
    last_cycle_ = cycle;
    return;
  }
  std::string header = "fatal error: deadlock cycle: ";
  for (std::uint64_t id : cycle) header += "goroutine " + std::to_string(id) + " -> ";
  header += "goroutine " + std::to_string(cycle.front()) + "\n\n";
  std::vector<const fiber*> members;
  for (std::uint64_t id : cycle) members.push_back(waiting[id]);
  std::sort(members.begin(), members.end(), [](const fiber* a, const fiber* b) { return a->id_ < b->id_; });
  act_on_deadlock(header + fiber_blocks(members, false));
}

}  // namespace gort::detail
