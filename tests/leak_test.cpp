// GORT_LEAKCHECK=1 and SIGQUIT dumps: goroutine leaks at exit and the crash
// dump of every fiber.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

#include "gort/gort.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

using gort_test::threadsafe_death_tests;

TEST(LeakCheckDeathTest, ListsFibersStillBlockedWhenMainReturns) {
  threadsafe_death_tests();
  EXPECT_EXIT(
      {
        setenv("GORT_LEAKCHECK", "1", 1);
        gort::run(
            [] {
              static gort::wait_group never;
              never.add();
              gort::go([] { never.wait(); });
              gort::go([] { gort::sleep_for(1h); });
              gort::go([] {});
              for (int i = 0; i < 10000 && gort::stats().blocked < 2; ++i)
                gort::sleep_for(std::chrono::microseconds(500));
            },
            {.workers = 2});
        std::exit(0);
      },
      testing::ExitedWithCode(0),
      "gort: 2 fibers still blocked at exit\n\ngoroutine [0-9]+ "
      "\\[sync.WaitGroup.Wait\\]:\n.*operator\\(\\).*\n\t.*leak_test.cpp:[0-9]+\n"
      "created by goroutine 1 at .*leak_test.cpp:[0-9]+\n\ngoroutine [0-9]+ \\[sleep\\]:");
}

TEST(LeakCheckDeathTest, SilentWhenNothingLeaks) {
  threadsafe_death_tests();
  EXPECT_EXIT(
      {
        setenv("GORT_LEAKCHECK", "1", 1);
        gort::run(
            [] {
              gort::wait_group wg;
              wg.add();
              gort::go([&] { wg.done(); });
              wg.wait();
            },
            {.workers = 2});
        std::fprintf(stderr, "clean\n");
        std::exit(0);
      },
      testing::ExitedWithCode(0), "^clean\n$");
}

TEST(SigquitDeathTest, DumpsEveryFiberAndExits2) {
  threadsafe_death_tests();
  EXPECT_EXIT(gort::run(
                  [] {
                    static gort::wait_group never;
                    never.add();
                    gort::go([] { never.wait(); });
                    for (int i = 0; i < 10000 && gort::stats().blocked < 1; ++i)
                      gort::sleep_for(std::chrono::microseconds(500));
                    raise(SIGQUIT);
                    gort::sleep_for(10s);
                  },
                  {.workers = 2}),
              testing::ExitedWithCode(2),
              "SIGQUIT: quit\n(.|\n)*goroutine [0-9]+ "
              "\\[sync.WaitGroup.Wait\\]:\n.*operator\\(\\).*\n\t.*leak_test.cpp:[0-9]+\ncreated by "
              "goroutine 1 at");
}
