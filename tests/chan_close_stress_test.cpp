// Fault suite (issue: race detection): thousands of fibers closing channels
// while others are blocked sending and receiving on them. Every value sent
// successfully is received exactly once; every sender either delivers or
// throws closed_channel_error; every receiver ends with nullopt; nothing hangs.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <vector>

#include "gort/gort.hpp"
#include "test_util.hpp"

TEST(ChanCloseStress, CloseWhileBlocked) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));  // outside run(): fibers migrate
  for (unsigned w : gort_test::k_worker_counts) {
    std::atomic<long> sent{0}, received{0}, refused{0}, ended{0};
    gort::run(
        [&] {
          constexpr int k_channels = 400;  // 5 fibers each: 2,000 live fibers
          std::mt19937_64 rng(seed + w);
          gort::wait_group wg;
          for (int c = 0; c < k_channels; ++c) {
            gort::chan<int> ch(std::size_t(rng() % 3));  // unbuffered, 1 or 2 slots
            const int yields = int(rng() % 4);
            for (int s = 0; s < 2; ++s) {
              wg.add();
              gort::go([&, ch]() mutable {
                for (int i = 0; i < 3; ++i) {
                  try {
                    ch.send(i);
                    sent.fetch_add(1);
                  } catch (const gort::closed_channel_error&) {
                    refused.fetch_add(1);
                    break;
                  }
                }
                wg.done();
              });
            }
            for (int r = 0; r < 2; ++r) {
              wg.add();
              gort::go([&, ch]() mutable {
                while (ch.recv()) received.fetch_add(1);
                ended.fetch_add(1);
                wg.done();
              });
            }
            wg.add();
            gort::go([&, ch, yields]() mutable {
              for (int y = 0; y < yields; ++y) gort::yield();
              ch.close();
              wg.done();
            });
          }
          wg.wait();
        },
        {.workers = w});
    EXPECT_EQ(sent.load(), received.load()) << "workers=" << w;
    EXPECT_EQ(ended.load(), 2 * 400) << "workers=" << w;
    EXPECT_LE(refused.load(), 2 * 400) << "workers=" << w;
  }
}
