// gort::shared_mutex (sync.RWMutex; Go's sync/rwmutex_test.go).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "gort/gort.hpp"
#include "sync_util.hpp"

using namespace std::chrono_literals;

// Readers overlap: n readers each hold a shared lock until all n are inside.
TEST(SyncSharedMutex, ReadersOverlap) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          constexpr int n = 10;
          gort::shared_mutex mu;
          std::atomic<int> inside{0};
          gort::wait_group wg;
          for (int i = 0; i < n; ++i) {
            wg.add();
            gort::go([&] {
              std::shared_lock g(mu);
              ++inside;
              // Every reader waits here for all the others: only possible if
              // shared locks overlap.
              EXPECT_TRUE(sync_test::eventually([&] { return inside.load() == n; }));
              wg.done();
            });
          }
          wg.wait();
          EXPECT_TRUE(mu.try_lock());
          mu.unlock();
        },
        {.workers = w});
  });
}

// Writers exclude writers and readers; readers see only whole updates.
TEST(SyncSharedMutex, WritersExclude) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [&] {
          gort::shared_mutex mu;
          std::atomic<int> readers{0}, writers{0};
          long a = 0, b = 0;  // invariant under the lock: a == b
          gort::wait_group wg;
          for (int f = 0; f < 16; ++f) {
            wg.add();
            gort::go([&, f] {
              sync_test::rng r{seed * 31 + std::uint64_t(f)};
              for (int i = 0; i < 1000; ++i) {
                if (r.below(4) == 0) {
                  std::lock_guard g(mu);
                  EXPECT_EQ(writers.fetch_add(1), 0);
                  EXPECT_EQ(readers.load(), 0);
                  ++a;
                  if (r.below(4) == 0) gort::yield();
                  ++b;
                  writers.fetch_sub(1);
                } else {
                  std::shared_lock g(mu);
                  readers.fetch_add(1);
                  EXPECT_EQ(writers.load(), 0);
                  EXPECT_EQ(a, b);
                  if (r.below(4) == 0) gort::yield();
                  readers.fetch_sub(1);
                }
              }
              wg.done();
            });
          }
          wg.wait();
          EXPECT_EQ(a, b);
        },
        {.workers = w});
  });
}

// Writer preference: once a writer waits, a new reader waits behind it.
TEST(SyncSharedMutex, WaitingWriterBlocksNewReaders) {
  gort::run(
      [] {
        gort::shared_mutex mu;
        std::atomic<bool> writer_in{false}, reader2_in{false};
        mu.lock_shared();  // reader 1
        gort::wait_group wg;
        wg.add(2);
        gort::go([&] {
          std::lock_guard g(mu);
          writer_in = true;
          EXPECT_FALSE(reader2_in.load());
          wg.done();
        });
        // The writer announces itself before it parks: wait for that.
        EXPECT_TRUE(sync_test::eventually([&] {
          if (!mu.try_lock_shared()) return true;
          mu.unlock_shared();
          return false;
        }));
        gort::go([&] {
          std::shared_lock g(mu);
          EXPECT_TRUE(writer_in.load());
          reader2_in = true;
          wg.done();
        });
        gort::sleep_for(5ms);
        EXPECT_FALSE(writer_in.load());
        EXPECT_FALSE(reader2_in.load());
        mu.unlock_shared();
        wg.wait();
        EXPECT_TRUE(writer_in.load() && reader2_in.load());
      },
      {.workers = 2});
}

TEST(SyncSharedMutex, TryLocks) {
  gort::run(
      [] {
        gort::shared_mutex mu;
        EXPECT_TRUE(mu.try_lock_shared());
        EXPECT_TRUE(mu.try_lock_shared());
        EXPECT_FALSE(mu.try_lock());
        mu.unlock_shared();
        mu.unlock_shared();
        EXPECT_TRUE(mu.try_lock());
        EXPECT_FALSE(mu.try_lock_shared());
        EXPECT_FALSE(mu.try_lock());
        mu.unlock();
      },
      {.workers = 1});
}

// Plain threads and fibers mixed, readers and writers.
TEST(SyncSharedMutex, ForeignThreadsAndFibers) {
  gort::run(
      [] {
        gort::shared_mutex mu;
        long a = 0, b = 0;
        gort::wait_group wg;
        sync_test::keep_threads_visible visible;
        auto body = [&](int id) {
          for (int i = 0; i < 2000; ++i) {
            if ((i + id) % 3 == 0) {
              std::lock_guard g(mu);
              ++a;
              ++b;
            } else {
              std::shared_lock g(mu);
              EXPECT_EQ(a, b);
            }
          }
          wg.done();
        };
        wg.add(6);
        std::thread t1(body, 1);
        gort::thread t2(body, 2);
        for (int f = 0; f < 4; ++f) gort::go(body, f + 3);
        wg.wait();
        t1.join();
        t2.join();
        EXPECT_EQ(a, b);
      },
      {.workers = 2});
}

TEST(SyncSharedMutexDeathTest, UnlockOfUnlockedIsFatal) {
  gort_test::threadsafe_death_tests();
  EXPECT_EXIT(
      {
        gort::shared_mutex mu;
        mu.unlock();
      },
      testing::ExitedWithCode(2), "fatal error: sync: Unlock of unlocked RWMutex");
  EXPECT_EXIT(
      {
        gort::shared_mutex mu;
        mu.unlock_shared();
      },
      testing::ExitedWithCode(2), "fatal error: sync: RUnlock of unlocked RWMutex");
}
