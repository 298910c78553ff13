// Shared helpers of the channel tests: worker-count fixtures and seeds.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

#include "gort/gort.hpp"

namespace chan_test {

// Every concurrency test runs at 1, 2 and 4 workers (4 oversubscribes a
// 2-core machine on purpose), as Go runs its runtime tests at -cpu=1,2,4.
class Workers : public ::testing::TestWithParam<unsigned> {
 protected:
  unsigned workers() const { return GetParam(); }
  template <class F>
  void run(F&& f) {
    gort::run(std::forward<F>(f), {.workers = workers()});
  }
};

inline std::string worker_name(const ::testing::TestParamInfo<unsigned>& info) {
  return "w" + std::to_string(info.param);
}

#define GORT_CHAN_WORKERS(suite) \
  INSTANTIATE_TEST_SUITE_P(, suite, ::testing::Values(1u, 2u, 4u), ::chan_test::worker_name)

// The seed of a stress test: $GORT_TEST_SEED if set, else a random one. Print
// it with SCOPED_TRACE so a failure can be replayed.
inline std::uint64_t test_seed() {
  if (const char* s = std::getenv("GORT_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

inline std::string seed_note(std::uint64_t seed) {
  return "seed=" + std::to_string(seed) + " (rerun with GORT_TEST_SEED=" + std::to_string(seed) + ")";
}

}  // namespace chan_test
