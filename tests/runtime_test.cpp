// The runtime API (docs/api.md, "Runtime"): run, go, spawn, task, yield, sleep,
// ids, counts, gort::thread, and the errors for bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

TEST(Run, ReturnsIntResultAndZeroForVoid) {
  EXPECT_EQ(gort::run([] { return 42; }, {.workers = 1}), 42);
  EXPECT_EQ(gort::run([] {}, {.workers = 2}), 0);
}

TEST(Run, MainFiberIsIdOneAndIdsGrow) {
  gort::run(
      [] {
        EXPECT_EQ(gort::fiber_id(), 1u);
        std::vector<std::uint64_t> ids(10);
        gort::wait_group wg;
        for (int i = 0; i < 10; ++i) {
          wg.add();
          gort::go([&ids, &wg, i] {
            ids[i] = gort::fiber_id();
            wg.done();
          });
        }
        wg.wait();
        for (int i = 0; i < 10; ++i) EXPECT_GT(ids[i], 1u);
        for (int i = 1; i < 10; ++i) EXPECT_GT(ids[i], ids[i - 1]);  // one creator: increasing
      },
      {.workers = 1});
  EXPECT_EQ(gort::fiber_id(), 0u);
}

TEST(Run, IdsAreNeverReusedAcrossManyFibers) {
  gort_test::for_each_worker_count([&](unsigned w) {
    std::vector<std::uint64_t> ids(5000);
    gort::run(
        [&] {
          gort::wait_group wg;
          for (int i = 0; i < 5000; ++i) {
            wg.add();
            gort::go([&ids, &wg, i] {
              ids[i] = gort::fiber_id();
              wg.done();
            });
            if (i % 100 == 0) gort::yield();  // let some exit so objects get recycled
          }
          wg.wait();
        },
        {.workers = w});
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end()) << "workers=" << w;
  });
}

TEST(Run, IsReusableAfterReturn) {
  for (int i = 0; i < 5; ++i) EXPECT_EQ(gort::run([i] { return i; }, {.workers = 2}), i);
}

TEST(Run, ExceptionFromMainPropagatesAfterShutdown) {
  EXPECT_THROW(gort::run([]() -> int { throw std::runtime_error("boom"); }, {.workers = 2}),
               std::runtime_error);
  EXPECT_EQ(gort::run([] { return 1; }, {.workers = 1}), 1);  // still usable
}

TEST(Run, FromInsideAFiberThrowsLogicError) {
  gort::run([] { EXPECT_THROW(gort::run([] {}), std::logic_error); }, {.workers = 1});
}

TEST(Run, RejectsTooManyWorkersNamingTheValue) {
  try {
    gort::run([] {}, {.workers = 5000});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("5000"), std::string::npos) << e.what();
  }
}

TEST(Run, RejectsBadMaxprocsNamingTheValue) {
  for (const char* bad : {"abc", "0", "-3", "2x", "99999"}) {
    setenv("GORT_MAXPROCS", bad, 1);
    try {
      gort::run([] {});
      ADD_FAILURE() << "no exception for " << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("\"") + bad + "\""), std::string::npos) << e.what();
    }
  }
  setenv("GORT_MAXPROCS", "3", 1);
  EXPECT_EQ(gort::run([] { return int(gort::num_workers()); }), 3);
  unsetenv("GORT_MAXPROCS");
}

TEST(Run, RejectsBadStackSize) {
  EXPECT_THROW(gort::run([] {}, {.workers = 1, .stack_size = 100}), std::invalid_argument);
}

TEST(Run, NumWorkersFollowsConfig) {
  gort_test::for_each_worker_count([](unsigned w) {
    EXPECT_EQ(gort::run([] { return int(gort::num_workers()); }, {.workers = w}), int(w));
  });
  EXPECT_EQ(gort::num_workers(), 0u);
}

TEST(Go, OutsideRunThrowsLogicError) {
  EXPECT_THROW(gort::go([] {}), std::logic_error);
}

namespace {
struct counter_obj {
  std::atomic<int> n{0};
  void bump(int by, gort::wait_group* wg) {
    n += by;
    wg->done();
  }
};
void free_fn(std::atomic<int>* out, int v, gort::wait_group* wg) {
  *out = v;
  wg->done();
}
}  // namespace

TEST(Go, LambdasFunctionsMemberFunctionsAndMoveOnly) {
  gort::run(
      [] {
        gort::wait_group wg;
        counter_obj obj;
        std::atomic<int> out{0};
        auto p = std::make_unique<int>(5);
        wg.add(3);
        gort::go(&counter_obj::bump, &obj, 3, &wg);
        gort::go(free_fn, &out, 9, &wg);
        gort::go([p = std::move(p), &wg] {
          EXPECT_EQ(*p, 5);
          wg.done();
        });
        wg.wait();
        EXPECT_EQ(obj.n.load(), 3);
        EXPECT_EQ(out.load(), 9);
      },
      {.workers = 2});
}

TEST(Go, ArgumentsAreDecayCopied) {
  gort::run(
      [] {
        std::string s = "before";
        gort::wait_group wg;
        wg.add();
        gort::go(
            [&wg](std::string copy) {
              EXPECT_EQ(copy, "before");
              wg.done();
            },
            s);
        s = "after";
        wg.wait();
      },
      {.workers = 1});
}

TEST(Go, LargeCaptureUsesHeapStorage) {
  gort::run(
      [] {
        std::array<char, 4096> big{};
        big[4095] = 'x';
        auto t = gort::spawn([big] { return big[4095]; });
        EXPECT_EQ(t.join(), 'x');
      },
      {.workers = 1});
}

// A spawn loop cannot queue its children without bound: every 256th go() in
// a row yields, so they run while it spawns (gort's stand-in for Go's
// preemption of the spawner). Live fibers stay near one burst per worker.
TEST(Go, SpawnLoopLetsChildrenRunAsItGoes) {
  constexpr int n = 20'000;
  constexpr std::size_t burst = 256;
  gort_test::for_each_worker_count([&](unsigned w) {
    std::size_t peak = 0;
    std::atomic<int> ran{0};
    gort::run(
        [&] {
          gort::wait_group wg;
          wg.add(n);
          for (int i = 0; i < n; ++i) {
            gort::go([&] {
              ran.fetch_add(1, std::memory_order_relaxed);
              wg.done();
            });
            peak = std::max(peak, gort::num_fibers());
          }
          // Before the loop's last burst, the earlier children had all run
          // at 1 worker; with more workers, at least most of them.
          EXPECT_GE(ran.load(), w == 1 ? n - int(burst) : n / 2) << "workers=" << w;
          wg.wait();
        },
        {.workers = w});
    EXPECT_EQ(ran.load(), n);
    // Main, the children of the current burst, and at most a burst queued
    // or running on each other worker.
    EXPECT_LE(peak, 1 + burst * (w + 1)) << "workers=" << w;
  });
}

// The yield inside go() is an ordinary switch: a spawner holding a gort
// mutex may be descheduled there, and a fiber that wants the mutex parks.
TEST(Go, SpawnBurstWhileHoldingAMutex) {
  gort_test::for_each_worker_count([&](unsigned w) {
    int counter = 0;
    gort::run(
        [&] {
          gort::mutex m;
          gort::wait_group wg;
          std::lock_guard g(m);
          wg.add(1000);
          for (int i = 0; i < 1000; ++i) {
            gort::go([&] {
              std::lock_guard g2(m);
              ++counter;
              wg.done();
            });
          }
          EXPECT_EQ(counter, 0) << "workers=" << w;  // nobody got in while main held m
          m.unlock();
          wg.wait();
          m.lock();  // for the guard
        },
        {.workers = w});
    EXPECT_EQ(counter, 1000);
  });
}

TEST(Go, FromForeignThread) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort::wait_group wg;
          std::atomic<int> ran{0};
          wg.add(100);
          gort::thread t([&] {
            for (int i = 0; i < 100; ++i)
              gort::go([&] {
                ran.fetch_add(1);
                wg.done();
              });
          });
          wg.wait();
          EXPECT_EQ(ran.load(), 100);
        },
        {.workers = w});
  });
}

TEST(Spawn, JoinReturnsResultOrRethrows) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          auto a = gort::spawn([](int x) { return x * 2; }, 21);
          auto b = gort::spawn([]() -> int { throw std::out_of_range("nope"); });
          auto c = gort::spawn([] { gort::sleep_for(1ms); });
          EXPECT_TRUE(a.joinable());
          EXPECT_EQ(a.join(), 42);
          EXPECT_FALSE(a.joinable());
          EXPECT_THROW(b.join(), std::out_of_range);
          c.join();
          EXPECT_THROW(a.join(), std::logic_error);
        },
        {.workers = w});
  });
}

TEST(Spawn, DestroyedTaskDetaches) {
  std::atomic<bool> ran{false};
  gort::run(
      [&] {
        gort::wait_group wg;
        wg.add();
        {
          auto t = gort::spawn([&] {
            gort::yield();
            ran = true;
            wg.done();
          });
        }
        wg.wait();
      },
      {.workers = 2});
  EXPECT_TRUE(ran.load());
}

TEST(Sleep, ZeroAndNegativeReturnAtOnce) {
  gort::run(
      [] {
        auto t0 = std::chrono::steady_clock::now();
        gort::sleep_for(0ms);
        gort::sleep_for(-5s);
        gort::sleep_until(std::chrono::steady_clock::now() - 1h);
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
      },
      {.workers = 1});
}

TEST(Sleep, SleepsAtLeastTheDuration) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          auto t0 = std::chrono::steady_clock::now();
          gort::sleep_for(20ms);
          EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
        },
        {.workers = w});
  });
}

// Every sleeper wakes at or after its own deadline, at every worker count.
// (The order in which the timers fire is checked deterministically in
// TimerHeap.FiresInDeadlineOrder; the order in which woken fibers then run is
// up to the OS on a loaded machine.)
TEST(Sleep, EachSleeperWakesAfterItsDeadline) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort::wait_group wg;
          std::atomic<int> early{0};
          for (int i : {4, 1, 3, 0, 2}) {
            wg.add();
            gort::go([&, i] {
              auto d = std::chrono::milliseconds(3 * i + 1);
              auto t0 = std::chrono::steady_clock::now();
              gort::sleep_for(d);
              if (std::chrono::steady_clock::now() - t0 < d) early.fetch_add(1);
              wg.done();
            });
          }
          wg.wait();
          EXPECT_EQ(early.load(), 0);
        },
        {.workers = w});
  });
}

TEST(Sleep, DoesNotBlockTheWorker) {
  // One worker: while main sleeps, another fiber runs to completion.
  gort::run(
      [] {
        std::atomic<bool> other{false};
        gort::go([&] { other = true; });
        gort::sleep_for(10ms);
        EXPECT_TRUE(other.load());
      },
      {.workers = 1});
}

TEST(Sleep, OnPlainThreadSleepsTheThread) {
  auto t0 = std::chrono::steady_clock::now();
  gort::sleep_for(5ms);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 5ms);
}

TEST(NumFibers, CountsLiveFibersIncludingMain) {
  gort::run(
      [] {
        EXPECT_EQ(gort::num_fibers(), 1u);
        gort::wait_group release, started, finished;
        release.add();
        for (int i = 0; i < 10; ++i) {
          started.add();
          finished.add();
          gort::go([&] {
            started.done();
            release.wait();
            finished.done();
          });
        }
        started.wait();
        EXPECT_EQ(gort::num_fibers(), 11u);
        release.done();
        finished.wait();  // they use our locals: let them finish before we return
      },
      {.workers = 2});
  EXPECT_EQ(gort::num_fibers(), 0u);
}

TEST(Thread, OutsideRunThrows) {
  EXPECT_THROW(gort::thread([] {}), std::logic_error);
}

TEST(Thread, JoinFromFiberParksNotTheWorker) {
  gort::run(
      [] {
        std::atomic<bool> fiber_ran{false};
        std::atomic<bool> release{false};
        gort::thread t([&] {
          while (!release.load()) std::this_thread::yield();
        });
        gort::go([&] {
          fiber_ran = true;
          release = true;
        });
        t.join();  // one worker: the other fiber must run while we wait
        EXPECT_TRUE(fiber_ran.load());
      },
      {.workers = 1});
}

TEST(Thread, PassesStopTokenAndJoinsOnDestruction) {
  std::atomic<bool> stopped{false};
  gort::run(
      [&] {
        gort::thread t([&](std::stop_token st) {
          while (!st.stop_requested()) std::this_thread::yield();
          stopped = true;
        });
      },
      {.workers = 1});
  EXPECT_TRUE(stopped.load());
}

TEST(WaitGroup, NegativeCounterThrows) {
  gort::wait_group wg;
  try {
    wg.done();
    FAIL();
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "sync: negative WaitGroup counter");
  }
  wg.add(2);
  EXPECT_THROW(wg.add(-3), std::logic_error);
  wg.add(-2);  // counter was left at 2, so this brings it to zero
  wg.wait();
}

TEST(WaitGroup, WaitFromPlainThread) {
  gort::run(
      [] {
        gort::wait_group wg;
        wg.add();
        std::atomic<bool> waited{false};
        std::thread t([&] {
          wg.wait();
          waited = true;
        });
        gort::sleep_for(5ms);
        EXPECT_FALSE(waited.load());
        wg.done();
        t.join();
        EXPECT_TRUE(waited.load());
      },
      {.workers = 2});
}
