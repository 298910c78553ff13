// gort-bench <workload> [--workers N]: runs one workload and prints its BENCH
// line. Workloads live in bench/*_workloads.cpp and register themselves.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "bench.hpp"
#include "gort/gort.hpp"
#include "gort/stats.hpp"

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

static int usage() {
  std::fprintf(stderr, "usage: gort-bench <workload> [--workers N]\nworkloads:");
  for (auto& [name, fn] : gort_bench::registry()) std::fprintf(stderr, " %s", name.c_str());
  std::fprintf(stderr, "\n");
  return 2;
}

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string name = argv[1];
  unsigned workers = 1;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--workers" && i + 1 < argc) {
      char* end = nullptr;
      long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v <= 0 || v > 1024) {
        std::fprintf(stderr, "gort-bench: --workers \"%s\" is not a number from 1 to 1024\n", argv[i]);
        return 2;
      }
      workers = unsigned(v);
    } else {
      std::fprintf(stderr, "gort-bench: unknown argument \"%s\"\n", a.c_str());
      return usage();
    }
  }
  auto it = gort_bench::registry().find(name);
  if (it == gort_bench::registry().end()) {
    std::fprintf(stderr, "gort-bench: unknown workload \"%s\"\n", name.c_str());
    return usage();
  }
  gort_bench::result r;
  double ns = 0;
  gort::run(
      [&] {
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
