// Sync workloads: mutex.
#include <cstdint>
#include <mutex>
#include <string>

#include "bench.hpp"
#include "cli.hpp"
#include "gort/gort.hpp"

namespace {

// 100 fibers each incrementing a shared counter 100,000 times (--size) under one
// gort::mutex. ops = 10,000,000 lock/unlock pairs; check = the final counter.
gort_bench::result mutex_counter(unsigned) {
  constexpr int fibers = 100;
  const int per_fiber = int(gort_bench::size_or(100'000));
  gort::mutex mu;
  gort::wait_group wg;
  std::uint64_t counter = 0;  // guarded by mu
  wg.add(fibers);
  for (int f = 0; f < fibers; ++f) {
    gort::go([&] {
      for (int i = 0; i < per_fiber; ++i) {
        std::lock_guard g(mu);
        ++counter;
      }
      wg.done();
    });
  }
  wg.wait();
  std::lock_guard g(mu);
  return {std::uint64_t(fibers) * per_fiber, std::to_string(counter)};
}

GORT_BENCH_WORKLOAD("mutex", mutex_counter);

}  // namespace
