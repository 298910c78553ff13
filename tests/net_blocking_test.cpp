// gort::blocking: helper threads, results, exceptions, parking, deadlock
// accounting (docs/api.md, "Network and blocking calls").
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "gort/gort.hpp"
#include "net_util.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using gort_test::cfg;

namespace {

TEST(NetBlocking, RunsOnAnotherThreadAndReturnsItsResult) {
  gort_test::run_at_each_worker_count(
      [](unsigned) {
        auto me = std::this_thread::get_id();
        auto [where, value] = gort::blocking([] { return std::pair(std::this_thread::get_id(), 42); });
        EXPECT_NE(where, me);
        EXPECT_EQ(value, 42);
        // Move-only results, references and void.
        auto p = gort::blocking([] { return std::make_unique<std::string>("moved"); });
        EXPECT_EQ(*p, "moved");
        int x = 1;
        int& r = gort::blocking([&]() -> int& { return x; });
        EXPECT_EQ(&r, &x);
        gort::blocking([&] { x = 2; });
        EXPECT_EQ(x, 2);
      },
      cfg());
}

TEST(NetBlocking, RethrowsTheException) {
  gort_test::run_at_each_worker_count(
      [](unsigned) {
        try {
          gort::blocking([]() -> int { throw std::runtime_error("boom on a helper"); });
          ADD_FAILURE() << "no exception";
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "boom on a helper");
        }
      },
      cfg());
}

TEST(NetBlockingPark, OtherFibersRunMeanwhileOnOneWorker) {
  gort::run(
      [] {
        std::promise<int> p;
        auto f = p.get_future();
        // The helper blocks its thread until another fiber, on the only
        // worker, fulfils the promise: only possible if just the fiber parked.
        auto waiter = gort::spawn([&] { return gort::blocking([&] { return f.get(); }); });
        gort_test::wait_blocked("blocking call", 1);
        p.set_value(7);
        EXPECT_EQ(waiter.join(), 7);
      },
      cfg(1));
}

TEST(NetBlockingPark, WaitingInBlockingIsNotADeadlock) {
  // Every fiber is blocked while the call runs: main waits on a channel that
  // only the blocking fiber will send to. With the raise policy a false
  // deadlock would throw out of run().
  EXPECT_NO_THROW(gort::run(
      [] {
        gort::chan<int> ch;
        gort::go([ch]() mutable {
          int v = gort::blocking([] {
            std::this_thread::sleep_for(200ms);
            return 5;
          });
          ch.send(v);
        });
        EXPECT_EQ(ch.recv(), 5);
      },
      cfg(1)));
}

TEST(NetBlockingPool, ManyCallsQueueBeyondTheBoundAndAllFinish) {
  gort::run(
      [] {
        constexpr int k_calls = 150;  // more than the 64 helpers
        std::atomic<int> inside{0}, peak{0}, done{0};
        gort::wait_group wg;
        wg.add(k_calls);
        for (int i = 0; i < k_calls; ++i) {
          gort::go([&] {
            gort::blocking([&] {
              int now = inside.fetch_add(1) + 1;
              int p = peak.load();
              while (now > p && !peak.compare_exchange_weak(p, now)) {}
              // Stay inside until a second call was inside at the same time
              // (bounded: serial helpers fail the check below after 15 s).
              auto give_up = std::chrono::steady_clock::now() + 15s;
              while (peak.load() < 2 && std::chrono::steady_clock::now() < give_up)
                std::this_thread::sleep_for(1ms);
              std::this_thread::sleep_for(20ms);
              inside.fetch_sub(1);
            });
            done.fetch_add(1);
            wg.done();
          });
        }
        wg.wait();
        EXPECT_EQ(done.load(), k_calls);
        EXPECT_LE(peak.load(), 64);
        EXPECT_GE(peak.load(), 2);  // they did run in parallel
      },
      cfg(2));
}

TEST(NetBlockingThread, PlainThreadRunsInline) {
  std::thread t([] {
    auto me = std::this_thread::get_id();
    EXPECT_EQ(gort::blocking([] { return std::this_thread::get_id(); }), me);
    EXPECT_THROW(gort::blocking([] { throw std::logic_error("x"); }), std::logic_error);
  });
  t.join();
}

TEST(NetBlockingExit, RunWaitsForCallsOfUnwoundFibers) {
  // A fiber still inside blocking() when main returns is unwound; its call
  // uses the fiber's stack, so run() must not return before the call did.
  std::atomic<bool> finished{false};
  gort::run(
      [&] {
        gort::go([&] {
          int local = 0;
          gort::blocking([&] {
            std::this_thread::sleep_for(100ms);
            local = 1;  // writes to the fiber's stack
            finished = true;
          });
          (void)local;
        });
        gort_test::wait_blocked("blocking call", 1);
      },
      cfg(2));
  EXPECT_TRUE(finished.load());
}

}  // namespace
