// GORT_DEADLOCK=partial under deadlock_policy::raise: a cycle of fibers
// waiting on each other's mutexes, found while other fibers still run, stops
// the run, and run() throws deadlock_error with the cycle report, after
// unwinding every fiber (the cycle, the bystanders, the main fiber). The
// abort policy's exit is DeadlockDeathTest.PartialCycleOfMutexesIsReported.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "gort/detail/scope_exit.hpp"
#include "gort/gort.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// What a run left behind, checked after run() threw.
struct observed {
  std::atomic<std::uint64_t> id_a{0}, id_b{0};
  std::atomic<bool> main_unwound{false};
  std::atomic<int> cycle_unwound{0};
  std::atomic<long> bystander_rounds{0};
  std::atomic<bool> bystander_unwound{false};
};

// Starts fibers A and B that take mutexes a and b in opposite orders, each
// holding its first before either asks for its second: a sure cycle. They
// count their unwinding in `o`. `both` is done once each holds its first.
void start_cycle(gort::mutex& a, gort::mutex& b, gort::wait_group& both, observed& o) {
  both.add(2);
  auto fiber = [pb = &both, po = &o](gort::mutex* first, gort::mutex* second,
                                     std::atomic<std::uint64_t>* id) {
    gort::detail::scope_exit unwound([po] { po->cycle_unwound.fetch_add(1); });
    *id = gort::fiber_id();
    std::lock_guard l1(*first);
    pb->done();
    pb->wait();
    std::lock_guard l2(*second);  // never returns
  };
  gort::go(fiber, &a, &b, &o.id_a);
  gort::go(fiber, &b, &a, &o.id_b);
}

// The cycle report for fibers x and y: the lower id first, as the monitor
// walks fibers in id order.
std::string cycle_header(std::uint64_t x, std::uint64_t y) {
  auto lo = std::to_string(std::min(x, y)), hi = std::to_string(std::max(x, y));
  return "fatal error: deadlock cycle: goroutine " + lo + " -> goroutine " + hi + " -> goroutine " + lo +
         "\n";
}

// Runs `main_fn` under GORT_DEADLOCK=partial and raise; returns the report
// (empty: run returned without throwing).
template <class F>
std::string partial_report_of(unsigned workers, F&& main_fn) {
  gort_test::scoped_env partial("GORT_DEADLOCK", "partial");
  try {
    gort::run(main_fn, {.workers = workers, .on_deadlock = gort::deadlock_policy::raise});
  } catch (const gort::deadlock_error& e) {
    return e.what();
  }
  return {};
}

TEST(DeadlockPartial, CycleUnderRaiseStopsTheRunAndThrows) {
  gort_test::for_each_worker_count([](unsigned workers) {
    observed o;
    std::string report = partial_report_of(workers, [&] {
      gort::detail::scope_exit unwound([&] { o.main_unwound = true; });
      gort::mutex a, b;  // the children unwind before main (newest first)
      gort::wait_group both;
      start_cycle(a, b, both, o);
      // A bystander that keeps switching: Go would never call this a deadlock.
      gort::go([&] {
        gort::detail::scope_exit bye([&] { o.bystander_unwound = true; });
        for (;;) {
          gort::sleep_for(1ms);
          o.bystander_rounds.fetch_add(1);
        }
      });
      // Main keeps running too, bounded so that a missed cycle fails the
      // test instead of hanging it.
      for (auto give_up = clock_type::now() + 20s; clock_type::now() < give_up;) gort::sleep_for(2ms);
    });
    ASSERT_FALSE(report.empty()) << "run returned without a deadlock_error";
    EXPECT_EQ(report.rfind(cycle_header(o.id_a, o.id_b), 0), 0u) << report;
    // Each member's block, then its call stack: the fiber's lambda in start_cycle.
    for (std::uint64_t id : {o.id_a.load(), o.id_b.load()}) {
      // gcc names it start_cycle(...), clang (anonymous namespace)::start_cycle(...).
      const std::string block = "goroutine " + std::to_string(id) + " [sync.Mutex.Lock]:\n";
      const std::size_t at = report.find(block);
      ASSERT_NE(at, std::string::npos) << report;
      const std::size_t line_end = report.find('\n', at + block.size());
      EXPECT_NE(report.substr(at + block.size(), line_end - at - block.size()).find("start_cycle"), std::string::npos)
          << report;
    }
    EXPECT_NE(report.find(std::string("\n\t") + GORT_SOURCE_DIR + "/tests/deadlock_partial_test.cpp:"), std::string::npos)
        << report;
    EXPECT_NE(report.find("held by goroutine "), std::string::npos) << report;
    EXPECT_EQ(report.find("\ngoroutine 1 ["), std::string::npos) << "only the cycle is listed:\n" << report;
    // Everything was unwound: the run shut down as after a normal return.
    EXPECT_TRUE(o.main_unwound);
    EXPECT_EQ(o.cycle_unwound, 2);
    EXPECT_TRUE(o.bystander_unwound);
    EXPECT_GT(o.bystander_rounds, 0);
  });
}

// A fiber computing without parking when the cycle is found runs on: the run
// stops once it reaches its next park (then it is unwound), as at any exit.
TEST(DeadlockPartial, RunWaitsForAComputingFiberToPark) {
  gort_test::for_each_worker_count([](unsigned workers) {
    observed o;
    std::atomic<bool> computed{false};
    clock_type::time_point computed_at;
    std::string report = partial_report_of(workers, [&] {
      gort::mutex a, b;
      gort::wait_group both;
      start_cycle(a, b, both, o);
      gort::go([&] {
        gort::detail::scope_exit bye([&] { o.bystander_unwound = true; });
        both.wait();  // the cycle is about to close
        // Long past the two 50 ms checks that find it; no switch point.
        for (auto until = clock_type::now() + 600ms; clock_type::now() < until;) {}
        computed_at = clock_type::now();
        computed = true;
        gort::sleep_for(1h);  // the next park: it throws, unwinding this fiber
      });
      for (auto give_up = clock_type::now() + 20s; clock_type::now() < give_up;) gort::sleep_for(2ms);
    });
    const auto thrown_at = clock_type::now();
    ASSERT_FALSE(report.empty()) << "run returned without a deadlock_error";
    EXPECT_EQ(report.rfind(cycle_header(o.id_a, o.id_b), 0), 0u) << report;
    EXPECT_TRUE(computed.load());
    EXPECT_LE(computed_at, thrown_at);
    EXPECT_TRUE(o.bystander_unwound);
    EXPECT_EQ(o.cycle_unwound, 2);
  });
}

TEST(DeadlockPartial, NextRunAfterARaisedCycleWorks) {
  observed o;
  std::string report = partial_report_of(2, [&] {
    gort::mutex a, b;
    gort::wait_group both;
    start_cycle(a, b, both, o);
    for (auto give_up = clock_type::now() + 20s; clock_type::now() < give_up;) gort::sleep_for(2ms);
  });
  ASSERT_FALSE(report.empty());
  EXPECT_EQ(gort::run([] { return 7; }, {.workers = 2}), 7);
}

}  // namespace
