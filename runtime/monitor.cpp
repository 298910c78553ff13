// The monitor thread (Go's sysmon). While run() is active it
//   - watches every worker's switch counter, and hands off a worker whose
//     fiber has held it too long while other work waits: blocked in the
//     kernel (its thread asleep there, its CPU clock standing still) for
//     k_blocked_ns, or computing for k_running_ns of CPU time (a thread that
//     only waits for a CPU on a busy machine is neither); machine.hpp has the
//     handshake, machines.cpp the spares;
//   - reports stalls (config::stall_report / GORT_STALLREPORT);
//   - polls the network when no worker is idle to do it;
//   - prints GORT_SCHEDTRACE lines every period (start_monitor and
//     stop_monitor print one each, at the run's start and end) and runs
//     GORT_DEADLOCK=partial's check.
// It sleeps 20 us at first, doubling after 50 looks that found nothing to do
// up to 10 ms (1 ms while a worker looks stuck: a fiber held it since the
// last look), and without a deadline while every worker is idle and nothing
// needs a period; a worker leaving idle wakes it (and the 20 us start again
// only after an idle spell of 10 ms or more). While it waits for a
// suspect worker's earliest timer its sleeps end on time (timer slack 1 ns,
// only then: monitor_state::exact_sleeps_while_suspect).
//
// Invariants:
//   - Only the monitor hands workers off, and never under GORT_SCHED_SEED
//     (handoffs would make the seeded schedule irreproducible) or once the
//     scheduler stops.
//   - stuck_machines_ counts machines running a fiber after their worker was
//     handed off; it is raised before the worker goes to its new machine and
//     lowered by the old machine on g0 (worker_lost), so it never goes below
//     zero.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"
#include "runtime/traceback.hpp"
#include "scheduler/barrier.hpp"

namespace gort::detail {

std::atomic<std::uint32_t> g_coarse_now_s{0};

namespace {
// The monitor, or a worker waking it: brings the coarse clock to `now`. Stored
// only when the second changes, so that the line every park reads stays in
// the workers' caches between ticks.
void advance_coarse_clock(std::int64_t now) noexcept {
  const std::uint32_t s = coarse_seconds(now);
  if (g_coarse_now_s.load(std::memory_order_relaxed) != s) g_coarse_now_s.store(s, std::memory_order_relaxed);
}
}  // namespace

namespace {
constexpr std::int64_t k_min_delay_ns = 20'000;        // Go's sysmon: 20 us
constexpr std::int64_t k_max_delay_ns = 10'000'000;    // ... backing off to 10 ms
constexpr std::int64_t k_suspect_delay_ns = 1'000'000;  // while a worker looks stuck
constexpr int k_idle_cycles = 50;                       // before backing off (Go: 50)
// How long a fiber may hold its worker while work waits: blocked in the
// kernel, or running (Go preempts at 10 ms).
constexpr std::int64_t k_blocked_ns = 1'000'000;
constexpr std::int64_t k_running_ns = 10'000'000;
constexpr std::int64_t k_held_ns = 100'000'000;
// Poll the network when no worker has done so for this long (Go: 10 ms).
constexpr std::int64_t k_netpoll_ns = 10'000'000;
constexpr long k_partial_period_ms = 50;
}  // namespace

// What the monitor remembers between its looks.
struct runtime::monitor_state {
  // One worker, as last seen.
  struct watch {
    const fiber* f = nullptr;  // the fiber it ran (null: on g0)
    std::uint32_t tick = 0;    // its schedule count then
    std::int64_t since = 0;    // when the monitor first saw that pair
    std::int64_t cpu0 = -1;    // its machine's CPU time at the first timed look
    std::int64_t cpu = -1;     // ... and at the last look
    bool reported = false;     // this stall was reported
  };
  // A machine whose fiber still runs after its worker was handed off.
  struct stuck {
    machine* m;
    const fiber* f;
    std::int64_t since;
    bool reported;
  };
  std::vector<watch> seen;
  std::vector<stuck> stuck_fibers;
  // The earliest timer of a worker that looks stuck (INT64_MAX: none): the
  // monitor wakes then, so that the timer's handoff is not a period late.
  std::int64_t suspect_timer = INT64_MAX;
  bool exact_sleeps = false;  // the thread's timer slack is 1 ns

  // The monitor, before each timed sleep: its sleeps end on time (timer
  // slack 1 ns) while it waits for a suspect worker's earliest timer, whose
  // lateness the kernel's default slack (up to 50 us) would add to. Otherwise
  // it keeps the default: exact wake-ups of this thread, which may share a
  // core with a busy worker, doubled an HTTP server's p99 latency on one core.
  void exact_sleeps_while_suspect() noexcept {
    const bool exact = suspect_timer != INT64_MAX;
    if (exact == exact_sleeps) return;
    (void)prctl(PR_SET_TIMERSLACK, exact ? 1UL : 0UL, 0UL, 0UL, 0UL);  // 0: the thread's default
    exact_sleeps = exact;
  }
  // The CPUs the machine has (see oversubscribed()).
  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
};

// run(), before the main fiber is queued. The first SCHED line ("0ms", as
// Go's first sysmon look) comes from here, before the monitor exists.
void runtime::start_monitor() {
  if (cfg_.env.schedtrace_ms > 0) schedtrace_line(now_ns());
  heavy_barrier_init();
  advance_coarse_clock(now_ns());
  try {
    monitor_ = std::thread([this] {
      // SIGQUIT goes to another thread: this one writes its dump.
      sigset_t quit;
      sigemptyset(&quit);
      sigaddset(&quit, SIGQUIT);
      pthread_sigmask(SIG_BLOCK, &quit, nullptr);
      monitor_loop();
    });
  } catch (const std::system_error& e) {
    thread_start_failed(e);
  }
}

// run(), once the scheduler stopped. The last SCHED line comes from here,
// after the monitor's last one, so that a run shorter than the period still
// shows its end.
void runtime::stop_monitor() {
  monitor_stop_.store(true, std::memory_order_release);
  monitor_park_.notify();
  if (monitor_.joinable()) monitor_.join();
  if (cfg_.env.schedtrace_ms > 0) schedtrace_line(now_ns());
}

// A worker left idle (sched_hooks): wake the monitor if it sleeps without a
// deadline, bringing the coarse clock up to date first (the monitor has not
// kept it while every worker slept, and this worker's fibers may park before
// the monitor looks). seq_cst: pairs with the monitor's store of
// monitor_deep_ and its re-check of the idle count (one of the two sees the
// other; if the monitor does, it is still looking at least every 10 ms).
void runtime::left_idle(unsigned) {
  if (monitor_deep_.load(std::memory_order_seq_cst)) {
    advance_coarse_clock(now_ns());
    monitor_park_.notify();
  }
}

// The monitor thread's body.
void runtime::monitor_loop() {
  // TSan: the monitor acts for nobody: its wake-ups order nothing and its
  // work is ignored, as g0's (see machine::bind_thread).
  mark_runtime_thread();
  race_ignored runtime_work;
  monitor_state st;
  st.seen.resize(workers_.size());
  const std::int64_t trace_ns = cfg_.env.schedtrace_ms * 1'000'000;
  const std::int64_t partial_ns =
      cfg_.env.deadlock == deadlock_mode::partial ? k_partial_period_ms * 1'000'000 : 0;
  std::int64_t next_trace = trace_ns > 0 ? started_ns_ + trace_ns : INT64_MAX;
  std::int64_t next_partial = partial_ns > 0 ? started_ns_ + partial_ns : INT64_MAX;
  std::int64_t delay = k_min_delay_ns;
  int idle_cycles = 0;
  while (!monitor_stop_.load(std::memory_order_acquire)) {
    if (next_trace == INT64_MAX && next_partial == INT64_MAX && st.stuck_fibers.empty() &&
        sched_.idle_count() == worker_count()) {
      // Every worker idle, nothing periodic to do: sleep until one wakes.
      const std::int64_t idle_from = now_ns();
      monitor_deep_.store(true, std::memory_order_seq_cst);
      if (sched_.idle_count() == worker_count()) monitor_park_.wait();
      monitor_deep_.store(false, std::memory_order_relaxed);
      // After a long idle spell the looks start over at 20 us (Go's sysmon
      // does); after a short one, at most a period of k_blocked_ns, before
      // which no handoff is possible anyway: a server whose worker idles
      // between requests wakes the monitor each time, and 50 looks in the next
      // millisecond, on the core the worker may share, made its p99 latency
      // five times higher (16 connections).
      if (now_ns() - idle_from >= k_max_delay_ns) {
        delay = k_min_delay_ns;
        idle_cycles = 0;
      } else {
        delay = std::min(delay, k_blocked_ns);
      }
      continue;
    }
    st.exact_sleeps_while_suspect();
    monitor_park_.wait(std::min({now_ns() + delay, next_trace, next_partial, st.suspect_timer}));
    if (monitor_stop_.load(std::memory_order_acquire)) break;
    if (quit_requested_.load(std::memory_order_acquire)) quit_dump();
    const std::int64_t now = now_ns();
    advance_coarse_clock(now);
    bool suspect = false, acted = false;
    watch_workers(st, now, suspect, acted);
    watch_stuck(st, now);
    // Workers poll the network between fibers; when none is idle in the
    // poller and none has looked for a while, look here (Go's sysmon does).
    if (netpoll_active() && sched_.idle_count() == 0 && now - netpoll_.last_poll_ns() >= k_netpoll_ns)
      netpoll_.poll(0);
    if (now >= next_trace) {
      schedtrace_line(now);
      next_trace = now + trace_ns;  // a late line does not make the next one early
    }
    if (now >= next_partial) {
      check_partial_deadlock();
      next_partial = now + partial_ns;
    }
    if (acted) {
      delay = k_min_delay_ns;
      idle_cycles = 0;
    } else {
      // Nothing done: back off, to 1 ms at most while a worker looks stuck.
      if (++idle_cycles > k_idle_cycles) delay *= 2;
      delay = std::min(delay, suspect ? k_suspect_delay_ns : k_max_delay_ns);
    }
  }
}

// The monitor: looks at every worker; a worker whose machine has run one
// fiber since the last look without a schedule is a suspect; a suspect that
// held it past the limit while work waits is handed off.
void runtime::watch_workers(monitor_state& st, std::int64_t now, bool& suspect, bool& acted) {
  st.suspect_timer = INT64_MAX;
  for (unsigned i = 0; i < worker_count(); ++i) {
    worker& p = *workers_[i];
    monitor_state::watch& s = st.seen[i];
    machine* m = p.owner();
    const fiber* f = m == nullptr || m == worker::k_retaking ? nullptr : m->running();
    const std::uint32_t tick = sched_.tick_of(i);
    if (!f || f != s.f || tick != s.tick) {
      s = {f, tick, now};
      continue;
    }
    suspect = true;
    st.suspect_timer = std::min(st.suspect_timer, heaps_[i].earliest());
    if (s.cpu0 < 0) m->note_stall(f, s.since);  // a first look at this suspect
    const std::int64_t ran = now - s.since;
    if (ran < k_blocked_ns) continue;
    // Blocked in the kernel: its thread's CPU clock stood still since the
    // last look and the kernel has it asleep (not merely waiting for a CPU,
    // which a busy machine does to any thread). Running: its thread spent
    // k_running_ns of CPU on the fiber, or held it k_held_ns in all (on an
    // oversubscribed machine a computing thread gets a share of a CPU).
    const std::int64_t cpu = m->cpu_time_ns();
    if (s.cpu0 < 0) s.cpu0 = cpu;
    const bool blocked = cpu >= 0 && cpu == s.cpu && m->sleeping_in_kernel();
    const bool computed = (cpu >= 0 && cpu - s.cpu0 + k_blocked_ns >= k_running_ns) || ran >= k_held_ns;
    s.cpu = cpu;
    if (cfg_.stall_report_ns > 0 && !s.reported && ran >= cfg_.stall_report_ns) {
      report_stall(*m, *f, ran, false);
      s.reported = true;
    }
    // A fiber that computes is also moved off its worker when nothing waits
    // for it but the CPUs are oversubscribed by stuck threads: its thread
    // then runs at a lower priority and leaves the CPUs to the queues.
    const bool computing = computed && !blocked;
    const bool crowded = computing && oversubscribed(st);
    if ((blocked || computed) && (work_waiting(i, now) || crowded) && hand_off(p, *m, now, computing)) {
      st.stuck_fibers.push_back({m, f, s.since, s.reported});
      s = {};
      acted = true;
    }
  }
}

// The monitor: the handed-off fibers still running report their stalls.
void runtime::watch_stuck(monitor_state& st, std::int64_t now) {
  auto& v = st.stuck_fibers;
  for (auto it = v.begin(); it != v.end();) {
    if (it->m->running() != it->f) {  // it switched out: no longer stuck
      it = v.erase(it);
      continue;
    }
    if (cfg_.stall_report_ns > 0 && !it->reported && now - it->since >= cfg_.stall_report_ns) {
      report_stall(*it->m, *it->f, now - it->since, true);
      it->reported = true;
    }
    ++it;
  }
}

// The monitor: do more threads want a CPU than there are, because fibers
// are stuck? Each worker that is not idle has a thread running, and each
// stuck fiber holds one more.
bool runtime::oversubscribed(const monitor_state& st) const {
  const auto stuck = unsigned(stuck_machines_.load(std::memory_order_relaxed));  // never below 0
  return stuck > 0 && worker_count() - sched_.idle_count() + stuck > st.cpus;
}

// The monitor: does work wait that worker `w` would run if its fiber let it?
// Its own queue or a due timer of its heap; or, with no idle worker to take
// it, the global queue.
bool runtime::work_waiting(unsigned w, std::int64_t now) {
  if (sched_.local_size(w) > 0) return true;
  if (heaps_[w].earliest() <= now) return true;
  return sched_.global_size() > 0 && sched_.idle_count() == 0;
}

// The monitor: takes worker `p` from machine `from` (whose fiber has held it
// too long, computing if `computing`) and hands it to a spare, unless `from`
// is inside a runtime section (the handshake of machine.hpp). True if it was
// handed off.
bool runtime::hand_off(worker& p, machine& from, std::int64_t now, bool computing) {
  if (cfg_.env.sched_seed || stopping()) return false;
  machine* expect = &from;
  if (!p.owner_.compare_exchange_strong(expect, worker::k_retaking, std::memory_order_acq_rel)) return false;
  if (from.retake_refused(p)) return false;
  // The worker is the monitor's until it names its new owner.
  p.handoffs.add();
  if (worker_trace* tr = p.trace()) {
    const fiber* f = from.running();
    tr->instant("handoff", f ? f->id_ : 0, now);
  }
  stuck_machines_.fetch_add(1, std::memory_order_acq_rel);
  // Before the worker has its new owner: `from` cannot leave its fiber's
  // section (retake_seen) until then, and so cannot restore meanwhile.
  if (computing) from.lower_priority();
  give_to_spare(p);
  return true;
}

// The monitor: one report per stall, while the fiber is still stuck on
// machine `m`; its stack is sampled there.
void runtime::report_stall(machine& m, const fiber& f, std::int64_t ran_ns, bool handed_off) {
  std::string out = "gort: stall: goroutine " + std::to_string(f.id_) + " has run " +
                    std::to_string(ran_ns / 1'000'000) + " ms without switching; " +
                    (handed_off ? "its worker's queue moved to another thread"
                                : "nothing else is waiting for its worker") +
                    "\n";
  {
    traceback_session ts;
    block_info b;
    b.f = &f;
    b.state = "running";
    b.stack = ts.running(m, f, stacks_.stack_size());
    append_block(out, b, ts, cfg_.env.traceback_system);
  }
  write_stderr(out);
}

// A signal handler: SIGQUIT asks the monitor for the dump (see signals.cpp).
bool runtime::request_quit_dump() noexcept {
  if (monitor_stop_.load(std::memory_order_acquire)) return false;
  quit_requested_.store(true, std::memory_order_release);  // pairs with the monitor's acquire
  monitor_park_.notify();
  return true;
}

// The monitor, asked by SIGQUIT: every live fiber with its stack, then exit 2.
// The fiber table is walked without its lock: the thread that took SIGQUIT
// may hold it, and its chunks are never freed during a run.
void runtime::quit_dump() {
  std::vector<const fiber*> live;
  table_.for_each_unlocked([&](const fiber& f) {
    fiber_state st = f.state_.load(std::memory_order_acquire);
    if (st == fiber_state::runnable || st == fiber_state::running || st == fiber_state::waiting) live.push_back(&f);
  });
  std::sort(live.begin(), live.end(), [](const fiber* a, const fiber* b) { return a->id_ < b->id_; });
  std::string out = "SIGQUIT: quit\n\n" + fiber_blocks(live, true);
  std::fflush(stdout);
  write_stderr(out);
  write_trace_on_crash();  // GORT_TRACE's flight recorder
  exit_now(2);
}

// The monitor thread: one line in the manner of Go's schedtrace.
void runtime::schedtrace_line(std::int64_t now) {
  sched_stats s = snapshot();
  std::string line =
      "SCHED " + std::to_string((now - started_ns_) / 1'000'000) +
      "ms: workers=" + std::to_string(s.workers) + " idle=" + std::to_string(sched_.idle_count()) +
      " spinning=" + std::to_string(sched_.spinning_count()) + " live=" + std::to_string(s.live) +
      " running=" + std::to_string(s.running) + " runnable=" + std::to_string(s.runnable) +
      " global=" + std::to_string(s.global_queue) + " runqueues=[";
  for (unsigned i = 0; i < s.workers; ++i) {
    if (i) line += ' ';
    line += std::to_string(s.per_worker[i].run_queue);
  }
  line += "] switches=" + std::to_string(s.switches) + " steals=" + std::to_string(s.steals) +
          " threads=" + std::to_string(s.threads) + " handoffs=" + std::to_string(s.handoffs) + "\n";
  write_stderr(line);
}

}  // namespace gort::detail
