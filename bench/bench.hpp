// gort-bench: workloads register themselves here; main() picks one by name
// and prints one line:
//   BENCH name=<w> workers=<n> ops=<ops> ns_per_op=<x> check=<value>
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace gort_bench {

struct result {
  std::uint64_t ops = 0;  // operations the timing is divided by
  std::string check;      // the workload's self-check value (printed as is)
};

// Runs inside gort::run on the requested workers; returns what it measured.
// The harness times the whole call of `body` (from inside the main fiber).
using workload_fn = std::function<result(unsigned workers)>;

// Called at static-initialisation time by each workload file.
bool register_workload(const std::string& name, workload_fn fn);

}  // namespace gort_bench

#define GORT_BENCH_WORKLOAD(name, fn) \
  static const bool gort_bench_registered_##fn = ::gort_bench::register_workload(name, fn)
