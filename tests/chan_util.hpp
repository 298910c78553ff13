// Shared helpers of the channel tests: worker-count fixtures. Seeds come
// from test_util.hpp (gort_test::test_seed, gort_test::seed_note).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "gort/gort.hpp"
#include "test_util.hpp"

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

}  // namespace chan_test
