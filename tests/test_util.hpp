// Helpers shared by the tests: worker-count sweeps and reproducible seeds.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

namespace gort_test {

// The worker counts every scheduler-sensitive test runs at (Go's -cpu=1,2,4;
// 4 oversubscribes a 2-core machine on purpose).
inline constexpr unsigned k_worker_counts[] = {1, 2, 4};

// A seed from $GORT_TEST_SEED, else a random one. Tests print it
// (SCOPED_TRACE) so that a failure can be replayed.
inline std::uint64_t test_seed() {
  if (const char* s = std::getenv("GORT_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

inline std::string seed_note(std::uint64_t seed) {
  return "seed=" + std::to_string(seed) + " (rerun with GORT_TEST_SEED=" + std::to_string(seed) + ")";
}

}  // namespace gort_test
