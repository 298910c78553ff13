// gort::condition_variable (sync.Cond with std's interface; Go's
// sync/cond_test.go).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>

#include "gort/gort.hpp"
#include "sync_util.hpp"

using namespace std::chrono_literals;

TEST(SyncCond, NotifyOneWakesOneNotifyAllWakesAll) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          constexpr int n = 5;
          gort::mutex mu;
          gort::condition_variable cv;
          int waiting = 0, woken = 0;
          gort::wait_group wg;
          for (int i = 0; i < n; ++i) {
            wg.add();
            gort::go([&] {
              std::unique_lock lk(mu);
              ++waiting;
              cv.wait(lk);
              ++woken;
              wg.done();
            });
          }
          auto count = [&](int& v) {
            std::lock_guard g(mu);
            return v;
          };
          auto cond_waiters = [] {
            auto s = gort::stats();
            auto it = s.blocked_by_reason.find("sync.Cond.Wait");
            return it == s.blocked_by_reason.end() ? std::size_t(0) : it->second;
          };
          // Once a waiter counted itself under the lock it is in wait() (it
          // only releases the lock by parking), so no notify below is lost.
          EXPECT_TRUE(sync_test::eventually([&] { return count(waiting) == n; }));
          EXPECT_EQ(cond_waiters(), std::size_t(n));
          cv.notify_one();
          // notify_one readied exactly one waiter before returning: the others
          // are still parked in wait(), and only a notify can take them out.
          EXPECT_EQ(cond_waiters(), std::size_t(n - 1));
          EXPECT_TRUE(sync_test::eventually([&] { return count(woken) == 1; }));
          EXPECT_EQ(cond_waiters(), std::size_t(n - 1));
          EXPECT_EQ(count(woken), 1);
          cv.notify_all();
          wg.wait();
          EXPECT_EQ(woken, n);
        },
        {.workers = w});
  });
}

// Go's TestCondSignalStealing: a notify_all that races with a new waiter
// must still wake the waiter that was already waiting.
TEST(SyncCond, SignalStealing) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          for (int iter = 0; iter < 150; ++iter) {
            gort::mutex m;
            gort::condition_variable cond;
            std::atomic<int> stage{0};
            bool done = false;
            gort::wait_group wg;
            wg.add(3);
            gort::go([&] {
              std::unique_lock lk(m);
              stage = 1;
              cond.wait(lk);
              lk.unlock();
              stage = 2;
              wg.done();
            });
            while (stage.load() < 1) gort::yield();
            m.lock();  // the waiter released m: it is inside wait()
            m.unlock();
            gort::go([&] {
              cond.notify_all();
              wg.done();
            });
            gort::go([&] {
              std::unique_lock lk(m);
              while (!done) cond.wait(lk);
              lk.unlock();  // before done(): main destroys m once all are done
              wg.done();
            });
            ASSERT_TRUE(sync_test::eventually([&] { return stage.load() == 2; }, 5s))
                << "first waiter didn't get the broadcast (iteration " << iter << ")";
            {
              std::lock_guard g(m);
              done = true;
            }
            cond.notify_all();
            wg.wait();
          }
        },
        {.workers = w});
  });
}

TEST(SyncCond, WaitWithPredicate) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort::mutex mu;
          gort::condition_variable cv;
          int value = 0;
          auto t = gort::spawn([&] {
            std::unique_lock lk(mu);
            cv.wait(lk, [&] { return value == 3; });
            EXPECT_TRUE(lk.owns_lock());
            return value;
          });
          for (int i = 1; i <= 3; ++i) {
            {
              std::lock_guard g(mu);
              value = i;
            }
            cv.notify_all();
            gort::yield();
          }
          EXPECT_EQ(t.join(), 3);
        },
        {.workers = w});
  });
}

TEST(SyncCond, WaitForTimesOut) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort::mutex mu;
          gort::condition_variable cv;
          std::unique_lock lk(mu);
          auto t0 = std::chrono::steady_clock::now();
          EXPECT_EQ(cv.wait_for(lk, 20ms), std::cv_status::timeout);
          EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
          EXPECT_TRUE(lk.owns_lock());
          EXPECT_FALSE(cv.wait_for(lk, 5ms, [] { return false; }));
          EXPECT_TRUE(cv.wait_for(lk, 5ms, [] { return true; }));
          EXPECT_EQ(cv.wait_for(lk, 0ms), std::cv_status::timeout);
          EXPECT_EQ(cv.wait_until(lk, std::chrono::steady_clock::now() + 5ms), std::cv_status::timeout);
          EXPECT_EQ(cv.wait_until(lk, std::chrono::system_clock::now() - 1s), std::cv_status::timeout);
        },
        {.workers = w});
  });
}

TEST(SyncCond, WaitForNotifiedBeforeTimeout) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort::mutex mu;
          gort::condition_variable cv;
          bool ready = false;
          gort::go([&] {
            gort::sleep_for(2ms);
            std::lock_guard g(mu);
            ready = true;
            cv.notify_one();
          });
          std::unique_lock lk(mu);
          EXPECT_TRUE(cv.wait_for(lk, 10s, [&] { return ready; }));
          EXPECT_TRUE(lk.owns_lock());
        },
        {.workers = w});
  });
}

// Timers and notifies racing on many timed waiters: every waiter returns
// exactly once, holding the lock, and nothing hangs.
TEST(SyncCond, TimeoutsRacingNotifies) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [&] {
          gort::mutex mu;
          gort::condition_variable cv;
          std::atomic<int> returned{0};
          gort::wait_group wg;
          for (int f = 0; f < 50; ++f) {
            wg.add();
            gort::go([&, f] {
              sync_test::rng r{seed + std::uint64_t(f)};
              for (int i = 0; i < 20; ++i) {
                std::unique_lock lk(mu);
                cv.wait_for(lk, std::chrono::microseconds(r.below(300)));
                EXPECT_TRUE(lk.owns_lock());
                ++returned;
              }
              wg.done();
            });
          }
          auto notifier = gort::spawn([&] {
            sync_test::rng r{seed};
            while (returned.load() < 1000) {
              if (r.below(2))
                cv.notify_one();
              else
                cv.notify_all();
              gort::sleep_for(std::chrono::microseconds(r.below(200)));
            }
          });
          wg.wait();
          notifier.join();  // it uses cv and mu, which die with this frame
          EXPECT_EQ(returned.load(), 1000);
        },
        {.workers = w});
  });
}

// Producer/consumer queue: fibers and plain threads, every item once.
TEST(SyncCond, ProducerConsumerWithThreads) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          constexpr int producers = 4, per = 2000;
          gort::mutex mu;
          gort::condition_variable not_empty;
          std::deque<int> q;
          int produced_done = 0;
          long sum = 0, count = 0;
          gort::wait_group wg;
          sync_test::keep_threads_visible visible;
          auto consumer = [&] {
            std::unique_lock lk(mu);
            for (;;) {
              not_empty.wait(lk, [&] { return !q.empty() || produced_done == producers; });
              if (q.empty()) break;
              sum += q.front();
              ++count;
              q.pop_front();
            }
            wg.done();
          };
          auto producer = [&] {
            for (int i = 1; i <= per; ++i) {
              std::lock_guard g(mu);
              q.push_back(i);
              not_empty.notify_one();
            }
            std::lock_guard g(mu);
            ++produced_done;
            not_empty.notify_all();
            wg.done();
          };
          wg.add(producers + 2 + (producers - 1));  // 4 producers, 5 consumers
          std::thread tc(consumer), tp(producer);
          gort::thread gc(consumer);
          for (int i = 0; i < producers - 1; ++i) gort::go(producer);
          for (int i = 0; i < producers - 1; ++i) gort::go(consumer);
          wg.wait();
          tc.join();
          tp.join();
          gc.join();
          EXPECT_EQ(count, long(producers) * per);
          EXPECT_EQ(sum, long(producers) * per * (per + 1) / 2);
        },
        {.workers = w});
  });
}

TEST(SyncCond, WaitWithoutLockThrows) {
  gort::run(
      [] {
        gort::mutex mu;
        gort::condition_variable cv;
        std::unique_lock lk(mu, std::defer_lock);
        EXPECT_THROW(cv.wait(lk), std::system_error);
      },
      {.workers = 1});
}

// A plain thread times out on, and is notified through, a gort cv.
TEST(SyncCond, PlainThreadWaits) {
  gort::run(
      [] {
        gort::mutex mu;
        gort::condition_variable cv;
        bool flag = false;
        std::atomic<int> stage{0};
        gort::thread t([&] {
          std::unique_lock lk(mu);
          EXPECT_EQ(cv.wait_for(lk, 5ms), std::cv_status::timeout);
          stage = 1;
          EXPECT_TRUE(cv.wait_for(lk, 10s, [&] { return flag; }));
          stage = 2;
        });
        EXPECT_TRUE(sync_test::eventually([&] { return stage.load() == 1; }));
        {
          std::lock_guard g(mu);
          flag = true;
        }
        cv.notify_all();
        t.join();
        EXPECT_EQ(stage.load(), 2);
      },
      {.workers = 2});
}

// A wait's unlock step that releases a mutex in starvation mode hands it to
// the front waiter. The step runs on the scheduler's side of the switch, here
// in the context of a fiber starting on the machine the waiter handed over:
// handing the mutex on must not switch out from there (it would leave the
// machines' runtime sections unbalanced: a fatal error).
TEST(SyncCond, WaitHandsStarvingMutexOnWithoutSwitching) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [w] {
          gort::mutex mu;
          gort::condition_variable cv;
          bool b_done = false, c_done = false;
          gort::wait_group wg;
          std::unique_lock lk(mu);
          wg.add(2);
          gort::go([&] {  // B: waits for the lock past the starvation threshold
            std::lock_guard g(mu);
            b_done = true;
            wg.done();
          });
          gort::sleep_for(3ms);
          lk.unlock();    // wakes B...
          lk.lock();      // ...and takes the lock back before B runs
          gort::yield();  // B finds it held again: starvation mode
          gort::go([&] {  // C: its first run finishes our park
            std::lock_guard g(mu);
            c_done = true;
            cv.notify_one();
            wg.done();
          });
          cv.wait(lk, [&] { return c_done; });
          // At 1 worker the steps above put the mutex in starvation mode,
          // which hands the lock on in FIFO order: B before C. (With more
          // workers B may spin or be stolen, and the order is open.)
          if (w == 1) {
            EXPECT_TRUE(b_done);
          }
          lk.unlock();
          wg.wait();
          EXPECT_TRUE(b_done);
          EXPECT_TRUE(c_done);
        },
        {.workers = w});
  });
}
