// Fatal paths of the runtime core, each in a subprocess (gtest death tests):
// Go-shaped message on stderr, exit status 2.
#include <gtest/gtest.h>

#include <stdexcept>

#include "gort/gort.hpp"
#include "runtime/machine.hpp"
#include "runtime/sanitizer.hpp"
#include "test_util.hpp"

namespace {
using gort_test::threadsafe_death_tests;

void spawn_and_throw() {
  gort::run(
      [] {
        gort::go([] { throw std::runtime_error("something broke"); });
        gort::sleep_for(std::chrono::seconds(10));
      },
      {.workers = 2});
}

void throw_non_std() {
  gort::run(
      [] {
        gort::go([] { throw 42; });
        gort::sleep_for(std::chrono::seconds(10));
      },
      {.workers = 1});
}

__attribute__((noinline)) int recurse(volatile char* prev, int depth) {
  volatile char frame[1024];
  frame[0] = char(depth);
  frame[1023] = prev ? prev[0] : 0;
  return recurse(frame, depth + 1) + frame[5];
}
}  // namespace

TEST(FatalDeathTest, PanicInGoFiberPrintsWhatAndFiberThenExits2) {
  threadsafe_death_tests();
  EXPECT_EXIT(spawn_and_throw(), testing::ExitedWithCode(2),
              "panic: something broke\n\ngoroutine [0-9]+ \\[running\\]:\n.*created by goroutine 1 at "
              ".*fatal_death_test.cpp:[0-9]+");
}

// The runtime's own invariant: nothing switches out from inside a runtime
// section (the scheduler's side of a switch, such as a park's unlock step).
TEST(FatalDeathTest, SwitchInsideRuntimeSection) {
  threadsafe_death_tests();
  EXPECT_EXIT(gort::run(
                  [] {
                    // TSan: the runtime's inline internals, from instrumented code.
                    gort::detail::race_ignored internals;
                    gort::detail::runtime_section s(*gort::detail::machine_of_thread());
                    gort::yield();
                  },
                  {.workers = 1}),
              testing::ExitedWithCode(2),
              "fatal error: gort: a fiber switched out on the runtime's side of a switch");
}

TEST(FatalDeathTest, PanicWithNonStdException) {
  threadsafe_death_tests();
  EXPECT_EXIT(throw_non_std(), testing::ExitedWithCode(2), "panic: unknown exception");
}

// Under ASan/TSan the sanitizer owns SIGSEGV and there are no guard pages
// (it reports overflows itself), so this test exists in plain builds only.
#if !GORT_ASAN && !GORT_TSAN
TEST(FatalDeathTest, StackOverflowNamesTheFiber) {
  threadsafe_death_tests();
  EXPECT_EXIT(
      gort::run(
          [] {
            gort::go([] { recurse(nullptr, 0); });
            gort::sleep_for(std::chrono::seconds(10));
          },
          {.workers = 1, .stack_size = 64 * 1024}),
      testing::ExitedWithCode(2),
      "fatal error: stack overflow in goroutine [0-9]+ \\(created at .*fatal_death_test.cpp:[0-9]+\\)");
}
#endif

TEST(FatalDeathTest, DeadlockOfMainAloneIsReported) {
  threadsafe_death_tests();
  EXPECT_EXIT(gort::run(
                  [] {
                    gort::wait_group wg;
                    wg.add();
                    wg.wait();
                  },
                  {.workers = 2}),
              testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 "
              "\\[sync.WaitGroup.Wait\\]:\n[^\t\n]+\n\t[^\n]*fatal_death_test.cpp:[0-9]+");
}

TEST(FatalDeathTest, DeadlockAfterLastSleeperWakes) {
  threadsafe_death_tests();
  EXPECT_EXIT(gort::run(
                  [] {
                    gort::go([] { gort::sleep_for(std::chrono::milliseconds(30)); });
                    gort::wait_group wg;
                    wg.add();
                    wg.wait();
                  },
                  {.workers = 2}),
              testing::ExitedWithCode(2), "fatal error: all goroutines are asleep - deadlock!");
}

TEST(Deadlock, RaisePolicyThrowsAndRuntimeIsReusable) {
  try {
    gort::run(
        [] {
          gort::wait_group wg;
          wg.add();
          gort::go([&] { wg.wait(); });
          wg.wait();
        },
        {.workers = 2, .on_deadlock = gort::deadlock_policy::raise});
    FAIL() << "no deadlock_error";
  } catch (const gort::deadlock_error& e) {
    std::string r = e.what();
    EXPECT_NE(r.find("fatal error: all goroutines are asleep - deadlock!"), std::string::npos) << r;
    EXPECT_NE(r.find("goroutine 1 [sync.WaitGroup.Wait]:"), std::string::npos) << r;
    EXPECT_NE(r.find("created by goroutine 1 at"), std::string::npos) << r;
  }
  EXPECT_EQ(gort::run([] { return 3; }, {.workers = 2}), 3);
}

TEST(Deadlock, SleepingFiberIsNotADeadlock) {
  gort_test::for_each_worker_count([&](unsigned w) {
    EXPECT_EQ(gort::run(
                  [] {
                    gort::wait_group wg;
                    wg.add();
                    gort::go([&] {
                      gort::sleep_for(std::chrono::milliseconds(50));
                      wg.done();
                    });
                    wg.wait();
                    return 5;
                  },
                  {.workers = w, .on_deadlock = gort::deadlock_policy::raise}),
              5);
  });
}

TEST(Deadlock, StartingThreadIsNotADeadlock) {
  EXPECT_EQ(gort::run(
                [] {
                  gort::wait_group wg;
                  wg.add();
                  gort::thread t([&] {
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                    wg.done();
                  });
                  wg.wait();
                  return 6;
                },
                {.workers = 2, .on_deadlock = gort::deadlock_policy::raise}),
            6);
}
