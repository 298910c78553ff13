// Runtime-core workloads: spawn and yield.
#include <atomic>
#include <cstdint>
#include <string>

#include "bench.hpp"
#include "cli.hpp"
#include "gort/gort.hpp"

namespace {

// 1,000,000 fibers (--size) each doing wg.done(); every 1000th adds its index
// to a shared sum. check = 499500000.
gort_bench::result spawn(unsigned) {
  const int n = int(gort_bench::size_or(1'000'000));
  gort::wait_group wg;
  std::atomic<std::uint64_t> sum{0};
  wg.add(n);
  for (int i = 0; i < n; ++i) {
    gort::go([&wg, &sum, i] {
      if (i % 1000 == 0) sum.fetch_add(std::uint64_t(i), std::memory_order_relaxed);
      wg.done();
    });
  }
  wg.wait();
  return {std::uint64_t(n), std::to_string(sum.load())};
}

// Two fibers each yielding 1,000,000 times (--size). ops = 2,000,000; check = the
// total number of yields.
gort_bench::result yield(unsigned) {
  const int n = int(gort_bench::size_or(1'000'000));
  gort::wait_group wg;
  std::atomic<std::uint64_t> total{0};
  wg.add(2);
  for (int f = 0; f < 2; ++f) {
    gort::go([&] {
      std::uint64_t mine = 0;
      for (int i = 0; i < n; ++i) {
        gort::yield();
        ++mine;
      }
      total.fetch_add(mine);
      wg.done();
    });
  }
  wg.wait();
  return {2 * std::uint64_t(n), std::to_string(total.load())};
}

GORT_BENCH_WORKLOAD("spawn", spawn);
GORT_BENCH_WORKLOAD("yield", yield);

}  // namespace
