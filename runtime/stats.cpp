// stats(), dump_fibers(): snapshots assembled from counters that each worker
// owns (plain relaxed atomics written only by their worker, so the hot path
// never shares a cache line) and from a scan of the fiber table.
#include "gort/stats.hpp"

#include <algorithm>
#include <mutex>
#include <ostream>
#include <stdexcept>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"
#include "runtime/sanitizer.hpp"

namespace gort {

namespace {

// Holds the runtime alive for the duration of a call from any thread.
class runtime_ref {
 public:
  runtime_ref() : lock_(detail::g_runtime_lock) { rt_ = detail::g_runtime.load(std::memory_order_acquire); }
  detail::runtime* get() const { return rt_; }

 private:
  std::shared_lock<std::shared_mutex> lock_;
  detail::runtime* rt_;
};

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

template <class T>
void field(std::string& out, const char* name, T v, bool comma = true) {
  out += '"';
  out += name;
  out += "\":";
  out += std::to_string(v);
  if (comma) out += ',';
}

}  // namespace

sched_stats detail::runtime::snapshot() {
  sched_stats s;
  s.workers = worker_count();
  s.threads = thread_count();
  const std::int64_t now = now_ns();
  for (unsigned i = 0; i < worker_count(); ++i) {
    worker& w = *workers_[i];
    worker_stats ws;
    ws.switches = w.switches.load();
    ws.parks = w.parks.load();
    ws.migrations = w.migrations.load();
    ws.handoffs = w.handoffs.load();
    ws.steals = sched_.steals(i);
    ws.steal_attempts = sched_.steal_attempts(i);
    ws.wakeups = sched_.wakeups(i);
    ws.run_queue = sched_.local_size(i);
    ws.idle = std::chrono::nanoseconds(sched_.idle_ns(i));
    ws.busy = std::chrono::nanoseconds(std::max<std::int64_t>(0, now - started_ns_)) - ws.idle;
    if (ws.busy.count() < 0) ws.busy = std::chrono::nanoseconds(0);
    s.spawned += w.spawned.load();
    s.exited += w.exited.load();
    s.switches += ws.switches;
    s.steals += ws.steals;
    s.migrations += ws.migrations;
    s.handoffs += ws.handoffs;
    s.runnable += ws.run_queue;
    s.per_worker.push_back(ws);
  }
  s.spawned += foreign_spawned_.load(std::memory_order_relaxed);
  s.exited += foreign_exited_.load(std::memory_order_relaxed);
  s.live = live_fibers();
  s.global_queue = sched_.global_size();
  s.runnable += s.global_queue;
  table_.for_each([&](fiber& f) {
    const fiber_state st = f.state_.load(std::memory_order_relaxed);
    if (st == fiber_state::running) ++s.running;
    if (st != fiber_state::waiting) return;
    ++s.blocked;
    ++s.blocked_by_reason[std::string(wait_reason_text(f.reason_.load(std::memory_order_relaxed)))];
  });
  return s;
}

void detail::runtime::dump(std::string& out) {
  // A listed fiber may exit and its object be reused for a new fiber while we sort and
  // print: ids, locations and states are a snapshot read while fibers run on.
  const tsan_racy_snapshot racy;
  std::vector<const fiber*> live;
  table_.for_each([&](fiber& f) {
    fiber_state st = f.state_.load(std::memory_order_acquire);
    if (st == fiber_state::runnable || st == fiber_state::running || st == fiber_state::waiting)
      live.push_back(&f);
  });
  std::sort(live.begin(), live.end(), [](const fiber* a, const fiber* b) { return a->id_ < b->id_; });
  out += fiber_blocks(live, true);
}

sched_stats stats() {
  runtime_ref rt;
  if (!rt.get()) throw std::logic_error("gort::stats: no gort::run() is active");
  return rt.get()->snapshot();
}

void dump_fibers(std::ostream& os) {
  runtime_ref rt;
  if (!rt.get()) return;
  std::string out;
  rt.get()->dump(out);
  os << out;
}

std::string sched_stats::to_json() const {
  std::string out = "{";
  field(out, "workers", workers);
  field(out, "threads", threads);
  field(out, "spawned", spawned);
  field(out, "exited", exited);
  field(out, "switches", switches);
  field(out, "steals", steals);
  field(out, "migrations", migrations);
  field(out, "handoffs", handoffs);
  field(out, "live", live);
  field(out, "running", running);
  field(out, "runnable", runnable);
  field(out, "blocked", blocked);
  field(out, "global_queue", global_queue);
  out += "\"blocked_by_reason\":{";
  bool first = true;
  for (const auto& [reason, n] : blocked_by_reason) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, reason);
    out += ':';
    out += std::to_string(n);
  }
  out += "},\"per_worker\":[";
  for (std::size_t i = 0; i < per_worker.size(); ++i) {
    const worker_stats& w = per_worker[i];
    if (i) out += ',';
    out += '{';
    field(out, "switches", w.switches);
    field(out, "steals", w.steals);
    field(out, "steal_attempts", w.steal_attempts);
    field(out, "parks", w.parks);
    field(out, "migrations", w.migrations);
    field(out, "handoffs", w.handoffs);
    field(out, "wakeups", w.wakeups);
    field(out, "run_queue", w.run_queue);
    field(out, "busy_ns", w.busy.count());
    field(out, "idle_ns", w.idle.count(), false);
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace gort
