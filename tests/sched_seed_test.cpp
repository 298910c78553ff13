// GORT_SCHED_SEED: a 1-worker runtime picks the next
// runnable fiber from the seed and yields at synchronisation points, so an
// interleaving can be replayed exactly.
#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "gort/gort.hpp"
#include "test_util.hpp"

namespace {
// Three fibers taking turns through a buffered channel and a wait_group; the
// order in which they record themselves is the interleaving.
std::vector<int> interleaving(const char* seed) {
  gort_test::scoped_env env("GORT_SCHED_SEED", seed);
  std::vector<int> order;
  // Taking turns on one worker orders nothing (Go's memory model; TSan
  // reports a race without it). Never contended: it adds no switch point.
  gort::mutex order_mu;
  gort::run(
      [&] {
        gort::chan<int> tokens(64);
        gort::wait_group wg;
        for (int f = 0; f < 3; ++f) {
          wg.add();
          gort::go([&, f, tokens]() mutable {
            for (int i = 0; i < 20; ++i) {
              {
                std::lock_guard g(order_mu);
                order.push_back(f);
              }
              tokens.send(f);
            }
            wg.done();
          });
        }
        for (int i = 0; i < 60; ++i) tokens.recv();
        wg.wait();
      },
      {.workers = 1});
  return order;
}
}  // namespace

TEST(SchedSeed, SameSeedSameInterleaving) {
  std::vector<int> a = interleaving("42");
  std::vector<int> b = interleaving("42");
  ASSERT_EQ(a.size(), 60u);
  EXPECT_EQ(a, b);
}

TEST(SchedSeed, DifferentSeedsExploreDifferentInterleavings) {
  std::set<std::vector<int>> seen;
  for (int s = 1; s <= 8; ++s) seen.insert(interleaving(std::to_string(s).c_str()));
  EXPECT_GE(seen.size(), 3u);
}

TEST(SchedSeed, RejectsBadSeedNamingIt) {
  gort_test::scoped_env env("GORT_SCHED_SEED", "x9");
  try {
    gort::run([] {}, {.workers = 1});
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("\"x9\""), std::string::npos) << e.what();
  }
}

TEST(SchedSeed, MultiWorkerRuntimeStillCorrect) {
  long sum = 0;
  {
    gort_test::scoped_env env("GORT_SCHED_SEED", "7");
    sum = gort::run(
        [] {
          gort::chan<int> ch;
          gort::go([ch]() mutable {
            for (int i = 1; i <= 1000; ++i) ch.send(i);
            ch.close();
          });
          long s = 0;
          for (int v : ch) s += v;
          return int(s);
        },
        {.workers = 2});
  }
  EXPECT_EQ(sum, 500500);
}
