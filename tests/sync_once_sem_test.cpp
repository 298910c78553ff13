// gort::call_once / once_flag (sync.Once), gort::semaphore, and wait_group
// misuse.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "sync_util.hpp"

using namespace std::chrono_literals;

// 100 concurrent callers: the function runs once, and no caller returns
// before it finished (the slow function parks inside).
TEST(SyncCallOnce, HundredConcurrentCallers) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort::once_flag flag;
          std::atomic<int> calls{0};
          std::atomic<bool> finished{false};
          gort::wait_group wg;
          for (int i = 0; i < 100; ++i) {
            wg.add();
            gort::go([&] {
              gort::call_once(flag, [&] {
                ++calls;
                gort::sleep_for(5ms);
                finished = true;
              });
              EXPECT_TRUE(finished.load());
              wg.done();
            });
          }
          wg.wait();
          EXPECT_EQ(calls.load(), 1);
          gort::call_once(flag, [&] { ++calls; });
          EXPECT_EQ(calls.load(), 1);
        },
        {.workers = w});
  });
}

TEST(SyncCallOnce, ArgumentsAndMemberFunctions) {
  struct counter {
    int n = 0;
    void add(int k) { n += k; }
  } c;
  gort::once_flag a, b;
  gort::call_once(a, &counter::add, &c, 5);  // plain thread, no runtime needed
  gort::call_once(a, &counter::add, &c, 5);
  gort::call_once(
      b, [](counter& x, int k) { x.add(k); }, std::ref(c), 2);
  EXPECT_EQ(c.n, 7);
}

// An exception propagates to its caller and lets a later caller try again;
// callers parked meanwhile retry too, and still exactly one succeeds.
TEST(SyncCallOnce, ExceptionLetsALaterCallerRetry) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort::once_flag flag;
          std::atomic<int> attempts{0}, successes{0}, throws{0};
          gort::wait_group wg;
          for (int i = 0; i < 20; ++i) {
            wg.add();
            gort::go([&] {
              try {
                gort::call_once(flag, [&] {
                  int n = ++attempts;
                  gort::sleep_for(1ms);
                  if (n <= 3) throw std::runtime_error("try again");
                  ++successes;
                });
              } catch (const std::runtime_error&) {
                ++throws;
              }
              wg.done();
            });
          }
          wg.wait();
          EXPECT_EQ(attempts.load(), 4);
          EXPECT_EQ(throws.load(), 3);
          EXPECT_EQ(successes.load(), 1);
        },
        {.workers = w});
  });
}

TEST(SyncCallOnce, ThreadsAndFibers) {
  gort::run(
      [] {
        gort::once_flag flag;
        std::atomic<int> calls{0};
        gort::wait_group wg;
        auto body = [&] {
          gort::call_once(flag, [&] {
            gort::sleep_for(2ms);
            ++calls;
          });
          EXPECT_EQ(calls.load(), 1);
          wg.done();
        };
        sync_test::keep_threads_visible visible;
        wg.add(10);
        std::vector<std::thread> ts;
        for (int i = 0; i < 5; ++i) ts.emplace_back(body);
        for (int i = 0; i < 5; ++i) gort::go(body);
        wg.wait();
        for (auto& t : ts) t.join();
        EXPECT_EQ(calls.load(), 1);
      },
      {.workers = 2});
}

// No more than `limit` holders at once, and all work gets done.
TEST(SyncSemaphore, BoundsConcurrency) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [&] {
          constexpr int limit = 3;
          gort::semaphore sem(limit);
          std::atomic<int> inside{0}, max_inside{0}, done{0};
          gort::wait_group wg;
          for (int f = 0; f < 40; ++f) {
            wg.add();
            gort::go([&, f] {
              sync_test::rng r{seed + std::uint64_t(f)};
              for (int i = 0; i < 50; ++i) {
                sem.acquire();
                int now = ++inside;
                EXPECT_LE(now, limit);
                int m = max_inside.load();
                while (now > m && !max_inside.compare_exchange_weak(m, now)) {}
                if (r.below(3) == 0) gort::yield();
                if (r.below(16) == 0) gort::sleep_for(std::chrono::microseconds(r.below(100)));
                --inside;
                ++done;
                sem.release();
              }
              wg.done();
            });
          }
          wg.wait();
          EXPECT_EQ(done.load(), 40 * 50);
          EXPECT_GE(max_inside.load(), 1);
          EXPECT_LE(max_inside.load(), limit);
          EXPECT_EQ(sem.available(), limit);
        },
        {.workers = w});
  });
}

// FIFO: a big acquire at the front is not bypassed by small ones behind it.
TEST(SyncSemaphore, BigAcquireIsNotStarved) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort::semaphore sem(2);
          std::atomic<bool> stop{false}, big_got{false};
          gort::wait_group wg;
          // Small acquirers keep one unit busy most of the time.
          for (int f = 0; f < 4; ++f) {
            wg.add();
            gort::go([&] {
              while (!stop) {
                sem.acquire();
                gort::sleep_for(50us);
                sem.release();
              }
              wg.done();
            });
          }
          gort::sleep_for(1ms);
          wg.add();
          gort::go([&] {
            sem.acquire(2);
            big_got = true;
            sem.release(2);
            wg.done();
          });
          EXPECT_TRUE(sync_test::eventually([&] { return big_got.load(); }, 10s));
          stop = true;
          wg.wait();
          EXPECT_EQ(sem.available(), 2);
        },
        {.workers = w});
  });
}

TEST(SyncSemaphore, TryAcquireAndCounts) {
  gort::semaphore sem(2);
  EXPECT_TRUE(sem.try_acquire());
  EXPECT_FALSE(sem.try_acquire(2));
  EXPECT_TRUE(sem.try_acquire(0));
  EXPECT_TRUE(sem.try_acquire());
  EXPECT_FALSE(sem.try_acquire());
  sem.release(3);
  EXPECT_EQ(sem.available(), 3);
  EXPECT_THROW(sem.acquire(-1), std::invalid_argument);
  EXPECT_THROW(sem.release(-1), std::invalid_argument);
  EXPECT_THROW(sem.try_acquire(-1), std::invalid_argument);
  EXPECT_THROW(gort::semaphore(-1), std::invalid_argument);
}

// A semaphore as a signal between a thread and fibers. (A gort::thread: a
// plain std::thread between two gort calls is invisible to the deadlock
// check: docs/api.md, "Deadlock reports and fatal errors".)
TEST(SyncSemaphore, ThreadsAndFibersPingPong) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort::semaphore ping(0), pong(0);
          gort::thread t([&] {
            for (int i = 0; i < 1000; ++i) {
              ping.acquire();
              pong.release();
            }
          });
          for (int i = 0; i < 1000; ++i) {
            ping.release();
            pong.acquire();
          }
          t.join();
          EXPECT_EQ(ping.available(), 0);
          EXPECT_EQ(pong.available(), 0);
        },
        {.workers = w});
  });
}

TEST(SyncWaitGroup, NegativeCounterThrows) {
  gort::wait_group wg;
  try {
    wg.done();
    FAIL() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "sync: negative WaitGroup counter");
  }
  wg.add(2);
  EXPECT_THROW(wg.add(-3), std::logic_error);
  wg.done();
  wg.done();
  wg.wait();  // zero: returns at once
}

TEST(SyncWaitGroup, WaitersFromThreadsAndFibers) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort::wait_group work, waiters;
          std::atomic<int> released{0};
          work.add();
          waiters.add(4);
          gort::thread t([&] {
            work.wait();
            ++released;
            waiters.done();
          });
          for (int i = 0; i < 3; ++i) {
            gort::go([&] {
              work.wait();
              ++released;
              waiters.done();
            });
          }
          gort::sleep_for(1ms);
          EXPECT_EQ(released.load(), 0);
          work.done();
          waiters.wait();
          t.join();
          EXPECT_EQ(released.load(), 4);
        },
        {.workers = w});
  });
}

// ---- lifetime: the taker may destroy the primitive at once -----------------

namespace {

// The lifetime rule of mutex, semaphore, shared_mutex and wait_group: a taker
// may destroy the primitive as soon as its lock / acquire / wait returns, even
// while the releasing call on another fiber or plain thread is still
// returning. Each iteration heap-allocates one primitive; a releaser (a fiber,
// every fourth iteration a plain std::thread) runs hold(), then yields a
// seeded number of times and runs release(); the taker, once hold() is done,
// runs take() (which blocks until the release) and deletes the primitive at
// once. AddressSanitizer reports a releaser that touches it after that.
template <class Make, class Hold, class Release, class Take>
void taker_destroys_at_once(int iterations, Make make, Hold hold, Release release, Take take) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  gort_test::for_each_worker_count([&](unsigned w) {
    std::atomic<int> released{0};
    int taken = 0, by_threads = 0;
    gort::run(
        [&] {
          // The taker parks while a plain std::thread is its only releaser.
          sync_test::keep_threads_visible visible;
          sync_test::rng r{seed ^ (std::uint64_t(w) << 32)};
          for (int i = 0; i < iterations; ++i) {
            const bool on_thread = i % 4 == 3;
            const unsigned yields = r.below(4);
            const bool alt = r.below(2) == 0;  // take()'s variant, where it has one
            auto* p = make();
            std::atomic<bool> held{false};
            auto body = [p, &held, &released, hold, release, yields, on_thread] {
              hold(*p);
              held.store(true, std::memory_order_release);
              for (unsigned k = 0; k < yields; ++k) {
                if (on_thread)
                  std::this_thread::yield();
                else
                  gort::yield();
              }
              release(*p);  // *p may be gone before this returns
              released.fetch_add(1, std::memory_order_relaxed);
            };
            std::thread thread;
            gort::task<void> fiber;
            if (on_thread) {
              thread = std::thread(body);
              ++by_threads;
            } else {
              fiber = gort::spawn(body);
            }
            while (!held.load(std::memory_order_acquire)) gort::yield();
            take(*p, alt);
            delete p;
            ++taken;
            if (on_thread)
              thread.join();
            else
              fiber.join();
          }
        },
        {.workers = w});
    EXPECT_EQ(taken, iterations);
    EXPECT_EQ(released.load(), iterations);
    EXPECT_EQ(by_threads, iterations / 4);
  });
}

// Enough for hundreds of releases on plain threads per worker count, and
// well under 10 s per worker count under AddressSanitizer.
constexpr int k_lifetime_iterations = 3000;

}  // namespace

TEST(SyncLifetime, MutexFreedAsSoonAsLockReturns) {
  taker_destroys_at_once(
      k_lifetime_iterations, [] { return new gort::mutex; }, [](gort::mutex& m) { m.lock(); },
      [](gort::mutex& m) { m.unlock(); },
      [](gort::mutex& m, bool) {
        m.lock();  // parks (or spins) until the releaser's unlock
        m.unlock();
      });
}

TEST(SyncLifetime, SemaphoreFreedAsSoonAsAcquireReturns) {
  taker_destroys_at_once(
      k_lifetime_iterations, [] { return new gort::semaphore(0); }, [](gort::semaphore&) {},
      [](gort::semaphore& s) { s.release(); }, [](gort::semaphore& s, bool) { s.acquire(); });
}

// The taker is a writer or (alt) a reader admitted by the writer's unlock.
TEST(SyncLifetime, SharedMutexFreedAsSoonAsLockReturns) {
  taker_destroys_at_once(
      k_lifetime_iterations, [] { return new gort::shared_mutex; }, [](gort::shared_mutex& m) { m.lock(); },
      [](gort::shared_mutex& m) { m.unlock(); },
      [](gort::shared_mutex& m, bool reader) {
        if (reader) {
          m.lock_shared();
          m.unlock_shared();
        } else {
          m.lock();
          m.unlock();
        }
      });
}

TEST(SyncLifetime, WaitGroupFreedAsSoonAsWaitReturns) {
  taker_destroys_at_once(
      k_lifetime_iterations,
      [] {
        auto* wg = new gort::wait_group;
        wg->add(1);
        return wg;
      },
      [](gort::wait_group&) {}, [](gort::wait_group& wg) { wg.done(); },
      [](gort::wait_group& wg, bool) { wg.wait(); });
}
