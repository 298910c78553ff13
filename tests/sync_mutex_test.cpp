// gort::mutex (docs/api.md, "sync"; Go's sync/mutex_test.go).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "sync_util.hpp"

using namespace std::chrono_literals;

namespace {

// n fibers each take the lock `iters` times; inside, a check that nobody
// else is inside, a plain increment, and (seeded) sometimes a yield while
// holding it so that others contend and park even on one worker.
void counter_under_contention(unsigned workers, std::uint64_t seed, int fibers, int iters) {
  gort::run(
      [&] {
        gort::mutex mu;
        gort::wait_group wg;
        std::atomic<int> inside{0};
        long counter = 0;
        for (int f = 0; f < fibers; ++f) {
          wg.add();
          gort::go([&, f] {
            sync_test::rng r{seed + std::uint64_t(f)};
            for (int i = 0; i < iters; ++i) {
              std::lock_guard g(mu);
              EXPECT_EQ(inside.fetch_add(1), 0);
              ++counter;
              if (r.below(8) == 0) gort::yield();
              inside.fetch_sub(1);
            }
            wg.done();
          });
        }
        wg.wait();
        std::lock_guard g(mu);
        EXPECT_EQ(counter, long(fibers) * iters);
      },
      {.workers = workers});
}

}  // namespace

TEST(SyncMutex, CounterUnderContention) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  gort_test::for_each_worker_count([&](unsigned w) { counter_under_contention(w, seed, 50, 2000); });
}

TEST(SyncMutex, TryLock) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort::mutex mu;
          EXPECT_TRUE(mu.try_lock());
          EXPECT_FALSE(mu.try_lock());
          std::atomic<bool> other{true};
          auto t = gort::spawn([&] { other = mu.try_lock(); });
          t.join();
          EXPECT_FALSE(other.load());
          mu.unlock();
          EXPECT_TRUE(mu.try_lock());
          mu.unlock();
        },
        {.workers = w});
  });
}

TEST(SyncMutex, OwnerIsTheHoldingFiber) {
  gort::run(
      [] {
        gort::mutex mu;
        EXPECT_EQ(mu.owner(), 0u);
        mu.lock();
        EXPECT_EQ(mu.owner(), gort::fiber_id());
        mu.unlock();
        EXPECT_EQ(mu.owner(), 0u);
      },
      {.workers = 1});
}

TEST(SyncMutex, ScopedLockOfTwo) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort::mutex a, b;
          gort::wait_group wg;
          long x = 0;
          for (int f = 0; f < 8; ++f) {
            wg.add();
            gort::go([&, f] {
              for (int i = 0; i < 500; ++i) {
                if (f % 2) {
                  std::scoped_lock g(a, b);
                  ++x;
                } else {
                  std::scoped_lock g(b, a);  // opposite order: std::lock avoids deadlock
                  ++x;
                }
              }
              wg.done();
            });
          }
          wg.wait();
          EXPECT_EQ(x, 8 * 500);
        },
        {.workers = w});
  });
}

// A fiber holds the mutex across sleeps: the single worker keeps running
// the other fibers (a blocked locker parks, it does not block the worker).
// The holder sleeps until the locker is parked on the mutex and the third
// fiber has made progress, not for a fixed time.
TEST(SyncMutex, HeldAcrossSleepOtherFibersRun) {
  gort::run(
      [] {
        gort::mutex mu;
        gort::wait_group wg;
        std::atomic<bool> held{false}, released{false}, locker_got{false};
        std::atomic<long> progress_while_held{0};
        int shared = 0;
        wg.add(3);
        gort::go([&] {
          std::lock_guard g(mu);
          held = true;
          EXPECT_TRUE(sync_test::eventually([&] {
            auto st = gort::stats();
            auto it = st.blocked_by_reason.find("sync.Mutex.Lock");
            return it != st.blocked_by_reason.end() && it->second >= 1 && progress_while_held.load() > 0;
          })) << "the locker never parked on the mutex, or the third fiber never ran";
          shared = 42;
          released = true;
          wg.done();
        });
        gort::go([&] {
          while (!held) gort::yield();
          std::lock_guard g(mu);  // parks until the sleeper unlocks
          EXPECT_TRUE(released.load());
          EXPECT_EQ(shared, 42);
          locker_got = true;
          wg.done();
        });
        gort::go([&] {
          while (!held) gort::yield();
          while (!released) {
            ++progress_while_held;
            gort::yield();
          }
          wg.done();
        });
        wg.wait();
        EXPECT_TRUE(locker_got.load());
        EXPECT_GT(progress_while_held.load(), 0);
      },
      {.workers = 1});
}

// Go's TestMutexFairness: a hog that re-locks at once must not starve a
// waiter (starvation mode hands the lock over).
TEST(SyncMutex, Fairness) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort::mutex mu;
          std::atomic<bool> stop{false}, done{false};
          gort::wait_group wg;
          wg.add(2);
          gort::go([&] {
            while (!stop) {
              mu.lock();
              gort::sleep_for(100us);
              mu.unlock();
            }
            wg.done();
          });
          gort::go([&] {
            for (int i = 0; i < 10; ++i) {
              gort::sleep_for(100us);
              mu.lock();
              mu.unlock();
            }
            done = true;
            wg.done();
          });
          EXPECT_TRUE(sync_test::eventually([&] { return done.load(); }, 10s))
              << "can't acquire the mutex in 10 seconds";
          stop = true;
          wg.wait();
        },
        {.workers = w});
  });
}

// A hog that re-locks at once after unlocking and yields only while it holds
// the lock (fibers are not preempted, so a hog that never switches would
// starve its worker whatever the mutex did): the waiter, always beaten to
// the free lock, still gets in once starvation mode hands the lock over.
TEST(SyncMutex, FairnessAgainstBargingHog) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort::mutex mu;
          std::atomic<bool> stop{false};
          std::atomic<int> got{0};
          gort::wait_group wg;
          wg.add(2);
          gort::go([&] {
            while (!stop) {
              std::lock_guard g(mu);
              auto until = std::chrono::steady_clock::now() + 20us;
              while (std::chrono::steady_clock::now() < until) {}
              gort::yield();
            }
            wg.done();
          });
          gort::go([&] {
            for (int i = 0; i < 10; ++i) {
              std::lock_guard g(mu);
              ++got;
            }
            wg.done();
          });
          EXPECT_TRUE(sync_test::eventually([&] { return got.load() == 10; }, 10s)) << "got " << got.load();
          stop = true;
          wg.wait();
        },
        {.workers = w});
  });
}

// Plain threads (std::thread and gort::thread) and fibers on one mutex.
TEST(SyncMutex, ForeignThreadsAndFibers) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          constexpr int iters = 3000;
          gort::mutex mu;
          gort::wait_group wg;
          std::atomic<int> inside{0};
          long counter = 0;
          sync_test::keep_threads_visible visible;
          auto body = [&] {
            for (int i = 0; i < iters; ++i) {
              std::lock_guard g(mu);
              EXPECT_EQ(inside.fetch_add(1), 0);
              ++counter;
              if (i % 64 == 0) gort::yield();  // on a thread: std::this_thread::yield
              inside.fetch_sub(1);
            }
            wg.done();
          };
          wg.add(8);
          std::thread t1(body), t2(body);
          gort::thread t3(body), t4(body);
          for (int f = 0; f < 4; ++f) gort::go(body);
          wg.wait();  // parks; joins below return at once
          t1.join();
          t2.join();
          t3.join();
          t4.join();
          EXPECT_EQ(counter, 8L * iters);
        },
        {.workers = w});
  });
}

// A lock taken by a plain thread outside any run() and released by it.
TEST(SyncMutex, PlainThreadWithoutRuntime) {
  gort::mutex mu;
  long counter = 0;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        std::lock_guard g(mu);
        ++counter;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, 4 * 5000);
}

TEST(SyncMutexDeathTest, UnlockOfUnlockedIsFatal) {
  gort_test::threadsafe_death_tests();
  EXPECT_EXIT(gort::run(
                  [] {
                    gort::mutex mu;
                    mu.unlock();
                  },
                  {.workers = 1}),
              testing::ExitedWithCode(2), "fatal error: sync: unlock of unlocked mutex");
  EXPECT_EXIT(
      {
        gort::mutex mu;
        mu.lock();
        mu.unlock();
        mu.unlock();
      },
      testing::ExitedWithCode(2), "fatal error: sync: unlock of unlocked mutex");
}
