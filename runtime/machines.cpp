// Machines (OS threads that run fibers) over a run: starting them, the pool
// of spares waiting for a worker, retiring idle spares, and the thread limit
// (Go's newm, stopm, mput/mget and checkmcount).
//
// Invariants:
//   - machines_, spares_ and retired_ are guarded by machines_mu_. Every
//     machine ever started in the run is in machines_ (objects are never
//     freed before the run ends); a machine is in spares_ exactly while it
//     waits for a worker and nobody has handed it one.
//   - A spare is handed a worker by the monitor only: it takes the spare out
//     of spares_ under machines_mu_, sets its worker, then notifies its
//     parker (release; the spare's wait acquires).
//   - g_os_threads counts the OS threads that run or may run fibers or
//     blocking calls (machines, blocking() helpers), process-wide; starting
//     one more than max_threads is a fatal error, as in Go.
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <string>
#include <system_error>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"

namespace gort::detail {

std::atomic<long> g_os_threads{0};

namespace {
// How long a spare waits for work before its thread exits (Go keeps idle Ms
// for good; a burst of stalls should leave no permanent threads behind).
constexpr std::int64_t k_spare_retire_ns = 60'000'000'000;
}  // namespace

void count_os_thread(unsigned limit) {
  long n = g_os_threads.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n > long(limit)) {
    std::fflush(stdout);
    write_stderr("runtime: program exceeds " + std::to_string(limit) + "-thread limit\n");
    fatal("thread exhaustion");
  }
}

void uncount_os_thread() noexcept { g_os_threads.fetch_sub(1, std::memory_order_relaxed); }

// std::thread could not start a thread the runtime needs (a machine, the
// monitor): Go's newosproc failure, fatal. Counted already (count_os_thread).
void thread_start_failed(const std::system_error& e) noexcept {
  std::fflush(stdout);
  write_stderr("runtime: failed to create new OS thread (have " +
               std::to_string(g_os_threads.load(std::memory_order_relaxed) - 1) +
               " already; errno=" + std::to_string(e.code().value()) +
               ")\nruntime: may need to increase max user processes (ulimit -u)\n");
  fatal("newosproc");
}

unsigned runtime::thread_count() const noexcept {
  return unsigned(std::max(0L, g_os_threads.load(std::memory_order_relaxed)));
}

// The monitor or run(): a new machine with its own thread, owning `p` from
// the start (null: it starts as a spare).
machine& runtime::new_machine(worker* p) {
  count_os_thread(cfg_.max_threads);
  std::unique_lock g(machines_mu_);
  for (machine* r : retired_) {
    if (r->os_thread().joinable()) r->os_thread().join();
  }
  retired_.clear();
  machines_.push_back(std::make_unique<machine>(*this, sched_, unsigned(machines_.size())));
  machine& m = *machines_.back();
  if (p) {
    m.give_worker(p);
    // Release: the new thread (started below, which also orders) and any
    // reader of owner_ see the worker's state.
    p->owner_.store(&m, std::memory_order_release);
  }
  try {
    m.os_thread() = std::thread([this, &m] { machine_main(m); });
  } catch (const std::system_error& e) {
    thread_start_failed(e);
  }
  return m;
}

// A machine's thread (every one but run()'s): runs its worker; without one,
// waits as a spare until handed one, the run stops, or it retires.
void runtime::machine_main(machine& m) {
  m.bind_thread();
  for (;;) {
    if (!m.p() && !wait_as_spare(m)) break;
    m.run_worker();
    if (m.p()) break;  // find_runnable returned null: the scheduler stopped
  }
  m.unbind_thread();
  uncount_os_thread();
}

// Machine `m`, without a worker: waits in spares_ until the monitor hands it
// one (true), or the run stops or it waited k_spare_retire_ns (false).
bool runtime::wait_as_spare(machine& m) {
  {
    std::lock_guard g(machines_mu_);
    spares_.push_back(&m);
  }
  const std::int64_t retire_at = now_ns() + k_spare_retire_ns;
  for (;;) {
    m.spare_parker().wait(stopping() ? now_ns() : retire_at);
    std::lock_guard g(machines_mu_);
    auto it = std::find(spares_.begin(), spares_.end(), &m);
    if (it == spares_.end()) {
      // Taken by the monitor: its worker is set, or is about to be (the
      // notify follows), so wait for that.
      if (m.p()) return true;
      continue;
    }
    if (stopping() || (now_ns() >= retire_at && m.id() != 0)) {  // run()'s own thread never retires
      spares_.erase(it);
      if (!stopping()) retired_.push_back(&m);  // run() joins the rest
      return false;
    }
  }
}

// The monitor, holding worker `p` (owner_ k_retaking): gives it to a spare,
// or to a new machine if there is none. Release (owner_): the new owner sees
// the worker's state as the monitor leaves it.
void runtime::give_to_spare(worker& p) {
  machine* m = nullptr;
  {
    std::lock_guard g(machines_mu_);
    if (!spares_.empty()) {
      m = spares_.back();
      spares_.pop_back();
    }
  }
  if (!m) {
    new_machine(&p);
    return;
  }
  m->give_worker(&p);
  p.owner_.store(m, std::memory_order_release);
  m->spare_parker().notify();  // release: the spare's wait acquires its worker
}

// `m`, on g0: its fiber, stuck when the monitor took its worker, switched
// out. The machine becomes a spare; if that was the last stuck fiber and
// every worker is idle, nothing may be left to wake anyone: check.
void runtime::worker_lost(machine& m) noexcept {
  m.restore_priority();
  if (stuck_machines_.fetch_sub(1, std::memory_order_acq_rel) == 1) sched_.recheck_all_idle();
}

namespace {
// How much nicer a thread whose stuck fiber computes is made.
constexpr int k_stuck_nice = 10;

// The calling thread's nice value (Linux: PRIO_PROCESS with 0 is the thread).
int thread_nice() noexcept {
  errno = 0;
  int n = getpriority(PRIO_PROCESS, 0);
  return errno == 0 ? n : 0;
}
}  // namespace

// An unprivileged thread may only lower its priority, unless RLIMIT_NICE
// allows more.
bool nice_restorable(int base) noexcept {
  rlimit rl{};
  if (getrlimit(RLIMIT_NICE, &rl) == 0 &&
      (rl.rlim_cur == RLIM_INFINITY || 20 - long(rl.rlim_cur) <= long(base)))
    return true;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return (data[CAP_SYS_NICE / 32].effective & (1u << (CAP_SYS_NICE % 32))) != 0;
}

void machine::note_base_priority() noexcept { base_nice_ = thread_nice(); }

// A machine's thread passes on its own priority as it was before any
// lowering; another thread passes nothing (INT_MIN), and its child keeps
// what it inherits.
int thread_start_nice() noexcept {
  machine* m = machine_of_thread();
  return m ? m->base_nice() : INT_MIN;
}

// Raises the priority back only: a thread that was not lowered has at most
// its creator's nice already.
void thread_enter_nice(int nice) noexcept {
  if (nice == INT_MIN || thread_nice() <= nice || !nice_restorable(nice)) return;
  (void)setpriority(PRIO_PROCESS, 0, nice);
}

void machine::lower_priority() noexcept {
  const int t = tid();
  if (t == 0 || base_nice_ >= 19 || !nice_restorable(base_nice_)) return;
  lowered_ = setpriority(PRIO_PROCESS, id_t(t), std::min(19, base_nice_ + k_stuck_nice)) == 0;
}

void machine::restore_priority() noexcept {
  if (!lowered_) return;
  lowered_ = false;
  // Checked by nice_restorable(); should it fail anyway (the limit changed
  // meanwhile), the thread carries on at the lower priority.
  (void)setpriority(PRIO_PROCESS, 0, base_nice_);
}

void runtime::stop() noexcept {
  sched_.stop();
  std::lock_guard g(machines_mu_);
  for (machine* m : spares_) m->spare_parker().notify();
}

std::int64_t runtime::running_for(const fiber& f) {
  std::lock_guard g(machines_mu_);
  for (auto& m : machines_) {
    if (std::int64_t since = m->stalled_since(f)) return now_ns() - since;
  }
  return 0;
}

machine* runtime::machine_running(const fiber& f) {
  std::lock_guard g(machines_mu_);
  for (auto& m : machines_) {
    if (m->current() == &f) return m.get();
  }
  return nullptr;
}

// run(), after machine 0 left its loop: joins every other machine's thread.
// A machine that became a spare after stop() notified the spares sees
// stopping() before it sleeps (wait_as_spare), so none sleeps through it.
void runtime::join_machines() {
  for (;;) {
    machine* next = nullptr;
    {
      std::lock_guard g(machines_mu_);
      for (auto& m : machines_) {
        if (m->os_thread().joinable()) {
          next = m.get();
          break;
        }
      }
    }
    if (!next) return;
    next->os_thread().join();
  }
}

}  // namespace gort::detail
