// The soak run's shared types (soak.cpp runs the workload, report.cpp judges
// and prints it).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "gort/gort.hpp"
#include "probe.hpp"

namespace soak {

struct options {
  std::string server_exe, out_dir = ".";
  double seconds = 600;
  unsigned connections = 16, rps = 2000, workers = 0;
};

// Written by the workload's fibers, read by the sampler and the report.
struct counters {
  std::atomic<std::uint64_t> ok{0}, lost{0}, max_visit{0}, pipelines{0}, timers{0}, early{0}, ticks{0},
      stuck_calls{0}, blocking_calls{0}, churned{0}, faults{0}, errors{0}, stats_failures{0};
  std::atomic<bool> stop{false};
  gort::mutex error_mu;
  std::string first_error;  // guarded by error_mu

  // Any fiber: counts an error, keeping the first one's text.
  void error(const std::string& what) {
    ++errors;
    std::lock_guard g(error_mu);
    if (first_error.empty()) first_error = what;
  }
};

// One second's sample.
struct row {
  double t;
  proc_sample self, server;
  std::int64_t self_fibers, server_fibers;
  std::uint64_t ok, lost;
};

// After gort::run: writes DIR/soak.csv, prints the tables and the verdict;
// returns the exit status (0: within every bound).
int report(const options& o, const std::vector<row>& rows, const counters& c, const gort::sched_stats& st);

}  // namespace soak
