// A million fibers alive at once on a default vm.max_map_count: guarded
// stacks run out after ~tens of thousands, and the rest must come from
// unguarded slabs.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>

#include "gort/gort.hpp"

TEST(Million, OneMillionLiveBlockedFibers) {
  constexpr int n = 1'000'000;
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  std::size_t peak_live = 0;
  gort::run(
      [&] {
        gort::wait_group all_started, release, all_done;
        all_started.add(n);
        release.add(1);
        all_done.add(n);
        for (int i = 0; i < n; ++i) {
          gort::go([&] {
            started.fetch_add(1, std::memory_order_relaxed);
            all_started.done();
            release.wait();  // every one of them is parked here at the same time
            finished.fetch_add(1, std::memory_order_relaxed);
            all_done.done();
          });
        }
        all_started.wait();
        peak_live = gort::num_fibers();
        release.done();
        all_done.wait();
      },
      {.workers = 2, .stack_size = 64 * 1024});
  EXPECT_EQ(started.load(), n);
  EXPECT_EQ(finished.load(), n);
  EXPECT_EQ(peak_live, std::size_t(n) + 1);
}
