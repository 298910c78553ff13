// A leftover fiber whose catch (...) swallows the exception that unwinds it
// when run() ends (docs/api.md, "catch (...) in a fiber swallows the
// shutdown"). It may return normally, or block again (the blocking call
// throws again); one that keeps catching it and blocking again is a fatal
// error instead of a hang. Neither way leaks (the asan build checks).
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "gort/gort.hpp"
#include "test_util.hpp"

namespace {

// Owns heap memory: LeakSanitizer reports it if its frame is never unwound.
struct counted {
  static inline std::atomic<int> alive{0};
  std::unique_ptr<int> heap = std::make_unique<int>(1);
  counted() { ++alive; }
  ~counted() { --alive; }
};

// Outlives each run: leftover fibers are unwound after main_fn returned.
struct shared_state {
  gort::chan<int> never, never_either;
  gort::wait_group parked;
  std::atomic<int> caught{0};
  std::atomic<bool> after_second_block{false};
  std::atomic<bool> returned{false};
};

TEST(UnwindSwallow, FiberThatSwallowsAndReturnsEnds) {
  gort_test::for_each_worker_count([](unsigned workers) {
    auto s = std::make_unique<shared_state>();
    s->parked.add(2);
    int r = gort::run(
        [p = s.get()] {
          gort::go([p] {
            counted c;
            try {
              p->parked.done();
              p->never.recv();
            } catch (...) {  // swallows the unwind
              p->caught.fetch_add(1);
            }
            p->returned = true;
          });
          // A task's fiber too: its result is stored, nobody joins.
          auto t = gort::spawn([p] {
            counted c;
            try {
              p->parked.done();
              p->never_either.recv();
            } catch (...) {
              p->caught.fetch_add(1);
            }
            return 5;
          });
          p->parked.wait();
          gort_test::wait_blocked("chan receive", 2);
          return 3;
        },
        {.workers = workers});
    EXPECT_EQ(r, 3);
    EXPECT_EQ(s->caught, 2);
    EXPECT_TRUE(s->returned);
    EXPECT_EQ(counted::alive, 0);
  });
}

TEST(UnwindSwallow, BlockingAgainAfterSwallowingThrowsAgain) {
  gort_test::for_each_worker_count([](unsigned workers) {
    auto s = std::make_unique<shared_state>();
    s->parked.add(1);
    gort::run(
        [p = s.get()] {
          gort::go([p] {
            counted outer;
            try {
              p->parked.done();
              p->never.recv();
            } catch (...) {
              p->caught.fetch_add(1);
            }
            counted inner;
            p->never_either.recv();  // throws again: no catch this time
            p->after_second_block = true;
          });
          p->parked.wait();
          gort_test::wait_blocked("chan receive", 1);
        },
        {.workers = workers});
    EXPECT_EQ(s->caught, 1);
    EXPECT_FALSE(s->after_second_block);
    EXPECT_EQ(counted::alive, 0);
  });
}

// The main fiber, unwound after a deadlock under raise, swallows too and
// returns normally: run() still reports the deadlock.
TEST(UnwindSwallow, MainFiberSwallowingAtADeadlockStillRaises) {
  gort_test::for_each_worker_count([](unsigned workers) {
    auto s = std::make_unique<shared_state>();
    try {
      gort::run(
          [p = s.get()] {
            counted c;
            try {
              p->never.recv();  // every fiber blocked: a deadlock
            } catch (...) {
              p->caught.fetch_add(1);
            }
            p->returned = true;
            return 1;
          },
          {.workers = workers, .on_deadlock = gort::deadlock_policy::raise});
      ADD_FAILURE() << "no deadlock_error";
    } catch (const gort::deadlock_error& e) {
      EXPECT_NE(std::string(e.what()).find("goroutine 1 [chan receive]:"), std::string::npos) << e.what();
    }
    EXPECT_EQ(s->caught, 1);
    EXPECT_TRUE(s->returned);
    EXPECT_EQ(counted::alive, 0);
  });
}

// A retry loop around catch (...) would never end. After 100 catches the
// runtime gives up: fatal error, exit 2, naming the fiber and its creator.
TEST(UnwindSwallowDeathTest, SwallowingInALoopIsFatalNotAHang) {
  gort_test::threadsafe_death_tests();
  for (unsigned workers : {1u, 2u}) {
    SCOPED_TRACE("workers=" + std::to_string(workers));
    EXPECT_EXIT(
        {
          static shared_state s;
          s.parked.add(1);
          gort::run(
              [] {
                gort::go([] {
                  counted c;
                  s.parked.done();
                  for (;;) {
                    try {
                      s.never.recv();
                    } catch (...) {  // and tries again
                    }
                  }
                });
                s.parked.wait();
                gort_test::wait_blocked("chan receive", 1);
              },
              {.workers = workers});
          std::exit(0);  // not reached
        },
        testing::ExitedWithCode(2),
        "fatal error: goroutine [0-9]+ caught the exception that unwinds it at exit 100 times without "
        "rethrowing it \\(catch \\(\\.\\.\\.\\) without throw;\\)\n\ngoroutine [0-9]+ \\[chan receive\\]:\n"
        ".*operator\\(\\).*\n\t.*unwind_swallow_test.cpp:[0-9]+\ncreated by goroutine 1 at .*unwind_swallow_test.cpp:[0-9]+");
  }
}

TEST(UnwindSwallowDeathTest, SwallowingAroundYieldInALoopIsFatal) {
  gort_test::threadsafe_death_tests();
  for (unsigned workers : {1u, 2u}) {
    SCOPED_TRACE("workers=" + std::to_string(workers));
    EXPECT_EXIT(
        {
          static shared_state s;
          s.parked.add(1);
          gort::run(
              [] {
                gort::go([] {
                  try {
                    s.parked.done();
                    s.never.recv();
                  } catch (...) {}
                  for (;;) {
                    try {
                      gort::yield();
                    } catch (...) {}
                  }
                });
                s.parked.wait();
                gort_test::wait_blocked("chan receive", 1);
              },
              {.workers = workers});
          std::exit(0);
        },
        testing::ExitedWithCode(2), "fatal error: goroutine [0-9]+ caught the exception that unwinds it");
  }
}

}  // namespace
