// gort-bench <workload> [--workers N] [--size N] (bench/cli.hpp): runs one
// workload and prints its BENCH line. Workloads live in bench/*_workloads.cpp
// and register themselves. GORT_BENCH_DEBUG_ADDR=HOST:PORT serves gort::debug
// during the run, so that scripts/poll_debug.sh can measure what polling it
// costs.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bench.hpp"
#include "cli.hpp"
#include "gort/gort.hpp"
#include "gort/stats.hpp"
#if GORT_BENCH_DEBUG
#include "gort/debug.hpp"
#endif

namespace gort_bench {

static std::map<std::string, workload_fn>& registry() {
  static std::map<std::string, workload_fn> r;
  return r;
}

bool register_workload(const std::string& name, workload_fn fn) {
  registry().emplace(name, std::move(fn));
  return true;
}

}  // namespace gort_bench

int main(int argc, char** argv) {
  std::vector<std::string> names;
  for (auto& [name, fn] : gort_bench::registry()) names.push_back(name);
  gort_bench::cli_args args;
  if (int rc = gort_bench::parse_cli("gort-bench", argc, argv, names, args)) return rc;
  const std::string& name = args.workload;
  const unsigned workers = args.workers;
  auto it = gort_bench::registry().find(name);
  gort_bench::result r;
  double ns = 0;
  gort::run(
      [&] {
#if GORT_BENCH_DEBUG
        gort::debug::server dbg;
        if (const char* a = std::getenv("GORT_BENCH_DEBUG_ADDR"); a && *a) dbg = gort::debug::serve(a);
#endif
        auto t0 = std::chrono::steady_clock::now();
        r = it->second(workers);
        auto t1 = std::chrono::steady_clock::now();
        ns = double(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        // GORT_BENCH_STATS=1: the scheduler's counters for the run, on stderr.
        if (const char* s = std::getenv("GORT_BENCH_STATS"); s && std::string_view(s) == "1")
          std::fprintf(stderr, "STATS %s\n", gort::stats().to_json().c_str());
      },
      {.workers = workers});
  std::printf("BENCH name=%s workers=%u ops=%llu ns_per_op=%.2f check=%s\n", name.c_str(), workers,
              static_cast<unsigned long long>(r.ops), r.ops ? ns / double(r.ops) : 0.0, r.check.c_str());
  return 0;
}
