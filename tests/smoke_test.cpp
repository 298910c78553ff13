#include <gtest/gtest.h>

#include <atomic>

#include "gort/gort.hpp"

TEST(Smoke, RunReturnsMainResult) {
  int r = gort::run([] { return 7; }, {.workers = 1});
  EXPECT_EQ(r, 7);
}

TEST(Smoke, GoAndWaitGroup) {
  for (unsigned w : {1u, 2u, 4u}) {
    std::atomic<int> n{0};
    gort::run([&] {
      gort::wait_group wg;
      for (int i = 0; i < 1000; ++i) {
        wg.add(1);
        gort::go([&] { n.fetch_add(1); wg.done(); });
      }
      wg.wait();
    }, {.workers = w});
    EXPECT_EQ(n.load(), 1000) << "workers=" << w;
  }
}
