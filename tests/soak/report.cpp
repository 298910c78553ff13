// The soak run's report: the CSV of samples, the bounds checked on them
// (see soak.cpp) and the markdown tables.
#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "gort/gort.hpp"
#include "soak.hpp"

namespace soak {

namespace {

std::int64_t median(std::vector<std::int64_t> v) {
  if (v.empty()) return -1;
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(v.size() / 2), v.end());
  return v[v.size() / 2];
}

struct metric {
  const char* name;
  const char* process;
  std::function<std::int64_t(const row&)> get;
  double factor;  // allowed growth: end <= start * factor + slack
  std::int64_t slack;
};

}  // namespace

int report(const options& o, const std::vector<row>& rows, const counters& c, const gort::sched_stats& st) {
  const std::string csv_path = o.out_dir + "/soak.csv";
  std::ofstream csv(csv_path);
  csv << "t_s,soak_rss_kb,soak_fds,soak_threads,soak_fibers,server_rss_kb,server_fds,server_threads,"
         "server_fibers,requests_ok,requests_lost\n";
  for (const row& r : rows)
    csv << r.t << ',' << r.self.rss_kb << ',' << r.self.fds << ',' << r.self.threads << ',' << r.self_fibers
        << ',' << r.server.rss_kb << ',' << r.server.fds << ',' << r.server.threads << ',' << r.server_fibers
        << ',' << r.ok << ',' << r.lost << '\n';
  csv.close();

  const std::vector<metric> metrics = {
      {"RSS (KiB)", "soak", [](const row& r) { return r.self.rss_kb; }, 1.2, 8192},
      {"RSS (KiB)", "http_server", [](const row& r) { return r.server.rss_kb; }, 1.2, 8192},
      {"descriptors", "soak", [](const row& r) { return r.self.fds; }, 1.0, 16},
      {"descriptors", "http_server", [](const row& r) { return r.server.fds; }, 1.0, 16},
      {"threads", "soak", [](const row& r) { return r.self.threads; }, 1.0, 8},
      {"threads", "http_server", [](const row& r) { return r.server.threads; }, 1.0, 8},
      {"live fibers", "soak", [](const row& r) { return r.self_fibers; }, 1.0, 128},
      {"live fibers", "http_server", [](const row& r) { return r.server_fibers; }, 1.0, 8},
  };
  const std::size_t n = rows.size();
  const std::size_t window = std::max<std::size_t>(5, n / 10);
  bool pass = n >= 2 * window;
  std::printf("\n| metric | process | after warm-up (median) | at the end (median) | max | bound | ok |\n");
  std::printf("|---|---|---:|---:|---:|---:|---|\n");
  for (const metric& m : metrics) {
    std::vector<std::int64_t> first, last, all;
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t v = m.get(rows[i]);
      all.push_back(v);
      if (i >= window && i < 2 * window) first.push_back(v);
      if (i + window >= n) last.push_back(v);
    }
    const std::int64_t a = median(first), b = median(last);
    const std::int64_t bound = std::int64_t(double(a) * m.factor) + m.slack;
    const bool ok = a >= 0 && b >= 0 && b <= bound && n >= 2 * window;
    pass = pass && ok;
    std::printf("| %s | %s | %" PRId64 " | %" PRId64 " | %" PRId64 " | %" PRId64 " | %s |\n", m.name,
                m.process, a, b, all.empty() ? -1 : *std::max_element(all.begin(), all.end()), bound,
                ok ? "yes" : "**NO**");
  }
  const std::uint64_t ok = c.ok.load(), visits = c.max_visit.load();
  const bool requests_ok = c.lost.load() == 0 && ok > 0 && visits == ok;
  const bool work_ok = c.errors.load() == 0 && c.early.load() == 0 && c.pipelines.load() > 0 &&
                       c.ticks.load() > 0 && c.faults.load() > 0 && c.stats_failures.load() == 0;
  pass = pass && requests_ok && work_ok;
  const double secs = n ? rows.back().t : 0;
  std::printf("\n| total | value |\n|---|---:|\n");
  std::printf("| duration (s) | %.0f |\n| requests answered | %" PRIu64 " (%.0f/s) |\n", secs, ok,
              secs ? ok / secs : 0.0);
  std::printf("| requests lost | %" PRIu64 " |\n| server visits counted | %" PRIu64 " |\n", c.lost.load(),
              visits);
  std::printf("| pipelines (1000 values each) | %" PRIu64 " |\n| timers (none early) | %" PRIu64 " (%" PRIu64
              " early) |\n| ticks | %" PRIu64 " |\n",
              c.pipelines.load(), c.timers.load(), c.early.load(), c.ticks.load());
  std::printf("| OS calls that held a worker (25 ms) | %" PRIu64 " |\n| gort::blocking calls | %" PRIu64
              " |\n",
              c.stuck_calls.load(), c.blocking_calls.load());
  std::printf("| fibers spawned (soak) | %" PRIu64 " |\n", st.spawned);
  std::printf("| faults injected (connections closed early, malformed requests) | %" PRIu64 " |\n", c.faults.load());
  std::printf("| errors | %" PRIu64 " |\n", c.errors.load());
  if (!c.first_error.empty()) std::printf("\nfirst error: %s\n", c.first_error.c_str());
  if (!requests_ok && visits != ok)
    std::printf("\nthe server counted %" PRIu64 " visits for %" PRIu64 " answered requests\n", visits, ok);
  std::printf("\nsoak: %s (samples: %s)\n%d passed, %d failed\n", pass ? "passed" : "FAILED",
              csv_path.c_str(), pass ? 1 : 0, pass ? 0 : 1);
  return pass ? 0 : 1;
}

}  // namespace soak
