// The monitor thread: GORT_SCHEDTRACE lines and GORT_DEADLOCK=partial checks.
// It exists only when one of them is asked for.
#include <algorithm>
#include <string>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"

namespace gort::detail {

// run(), before the workers start.
void runtime::start_monitor() {
  constexpr long k_partial_period_ms = 50;
  const long trace_ms = cfg_.env.schedtrace_ms;
  const bool partial = cfg_.env.deadlock == deadlock_mode::partial;
  long period = trace_ms > 0 ? trace_ms : k_partial_period_ms;
  if (partial) period = std::min(period, k_partial_period_ms);
  monitor_ = std::thread([this, period, trace_ms, partial] {
    std::int64_t next_trace = started_ns_ + trace_ms * 1'000'000;
    std::unique_lock g(monitor_mu_);
    for (;;) {
      if (monitor_cv_.wait_for(g, std::chrono::milliseconds(period), [this] { return monitor_stop_; }))
        return;
      std::int64_t now = now_ns();
      if (trace_ms > 0 && now >= next_trace) {
        schedtrace_line(now);
        next_trace += trace_ms * 1'000'000;
      }
      if (partial) check_partial_deadlock();
    }
  });
}

// run(), after the workers stopped.
void runtime::stop_monitor() {
  if (!monitor_.joinable()) return;
  {
    std::lock_guard g(monitor_mu_);
    monitor_stop_ = true;
  }
  monitor_cv_.notify_all();
  monitor_.join();
}

// The monitor thread: one line in the manner of Go's schedtrace.
void runtime::schedtrace_line(std::int64_t now) {
  sched_stats s = snapshot();
  std::string line = "SCHED " + std::to_string((now - started_ns_) / 1'000'000) +
                     "ms: workers=" + std::to_string(s.workers) +
                     " idle=" + std::to_string(sched_.idle_count()) +
                     " spinning=" + std::to_string(sched_.spinning_count()) +
                     " live=" + std::to_string(s.live) + " runnable=" + std::to_string(s.runnable) +
                     " global=" + std::to_string(s.global_queue) + " runqueues=[";
  for (unsigned i = 0; i < s.workers; ++i) {
    if (i) line += ' ';
    line += std::to_string(s.per_worker[i].run_queue);
  }
  line += "] switches=" + std::to_string(s.switches) + " steals=" + std::to_string(s.steals) + "\n";
  write_stderr(line);
}

}  // namespace gort::detail
