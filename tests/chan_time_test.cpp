// after() and ticker: time.After and time.Ticker semantics on the runtime's
// timers. Bounds are generous (lower bounds exact, upper bounds loose), so a
// loaded machine cannot fail them.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "test_util.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

TEST(ChanTime, AfterFiresOnceNoEarlierThanAsked) {
  gort_test::run_at_each_worker_count([](unsigned) {
    auto t0 = clock_type::now();
    auto c = gort::after(20ms);
    EXPECT_EQ(c.capacity(), 1u);
    auto v = c.recv();
    auto t1 = clock_type::now();
    ASSERT_TRUE(v);
    EXPECT_GE(t1 - t0, 20ms);
    EXPECT_GE(*v - t0, 20ms);
    EXPECT_LE(*v, t1);
    EXPECT_LT(t1 - t0, 5s);
    EXPECT_EQ(c.try_recv(), std::nullopt) << "after() fires once";
  });
}

TEST(ChanTime, AfterZeroOrNegativeIsReadyAtOnce) {
  gort_test::run_at_each_worker_count([](unsigned) {
    EXPECT_TRUE(gort::after(0ns).try_recv());
    EXPECT_TRUE(gort::after(-5ms).try_recv());
  });
}

TEST(ChanTime, AfterAsSelectTimeout) {
  gort_test::run_at_each_worker_count([](unsigned) {
    gort::chan<int> never;
    auto t0 = clock_type::now();
    bool timed_out = false;
    std::size_t k =
        gort::select(gort::recv_case(never),
                     gort::recv_case(gort::after(10ms), [&](auto v) { timed_out = v.has_value(); }));
    EXPECT_EQ(k, 1u);
    EXPECT_TRUE(timed_out);
    EXPECT_GE(clock_type::now() - t0, 10ms);
    // A value that arrives first wins over a long timeout.
    gort::chan<int> soon;
    gort::go([soon]() mutable { soon.send(1); });
    EXPECT_EQ(gort::select(gort::recv_case(soon), gort::recv_case(gort::after(1h))), 0u);
  });
}

// Dropping an after() channel cancels its timer; many pending at once work.
TEST(ChanTime, ManyAftersAndDroppedOnes) {
  gort_test::run_at_each_worker_count([](unsigned) {
    for (int i = 0; i < 1000; ++i) (void)gort::after(1h);  // dropped: cancelled
    std::vector<gort::recv_chan<clock_type::time_point>> cs;
    for (int i = 0; i < 200; ++i) cs.push_back(gort::after(std::chrono::microseconds(i * 50)));
    for (auto& c : cs) EXPECT_TRUE(c.recv());
  });
}

// A fiber waiting only on after() is not a deadlock: the timer wakes it.
TEST(ChanTimeDeadlock, PendingAfterIsNotADeadlock) {
  EXPECT_NO_THROW(gort::run([] { gort::after(20ms).recv(); },
                            {.workers = 1, .on_deadlock = gort::deadlock_policy::raise}));
}

TEST(ChanTime, TickerTicksAtItsPeriod) {
  gort_test::run_at_each_worker_count([](unsigned) {
    auto t0 = clock_type::now();
    gort::ticker t(5ms);
    auto c = t.c();
    clock_type::time_point last = t0;
    for (int i = 0; i < 10; ++i) {
      auto v = c.recv();
      ASSERT_TRUE(v);
      EXPECT_GE(*v, last);
      last = *v;
    }
    EXPECT_GE(clock_type::now() - t0, 50ms);
    EXPECT_LT(clock_type::now() - t0, 10s);
    t.stop();
  });
}

// Ticks a slow receiver missed are dropped: the channel holds one.
TEST(ChanTime, TickerDropsMissedTicks) {
  gort_test::run_at_each_worker_count([](unsigned) {
    constexpr auto period = 1ms;
    constexpr auto missed = 40 * period;
    auto t0 = clock_type::now();
    gort::ticker t(period);
    auto c = t.c();
    // Miss at least 40 periods, and wait (bounded) until a tick is buffered:
    // a state, not a guess at how long the first tick takes on a busy machine.
    auto give_up = t0 + 10s;
    while ((clock_type::now() - t0 < missed || c.size() == 0) && clock_type::now() < give_up)
      gort::sleep_for(1ms);
    EXPECT_EQ(c.size(), 1u);
    auto first = c.try_recv();
    ASSERT_TRUE(first);
    EXPECT_LE(c.size(), 1u);
    // The ticker kept going past the full channel: a later tick still comes.
    auto next = c.recv();
    ASSERT_TRUE(next);
    EXPECT_GT(*next, *first);
    // ... and it is a fresh one. A tick's value is the time it fired, and the
    // channel was full from the first tick until `first` was taken, at least
    // `missed` after t0. A ticker that queued the ticks it missed would hand
    // over one that fired a period or two after t0. The bound leaves half the
    // wait as slack for a worker preempted between reading the clock and
    // sending.
    EXPECT_GE(*next - t0, missed / 2) << "a missed tick was queued instead of dropped";
  });
}

TEST(ChanTime, TickerStopEndsTicks) {
  gort_test::run_at_each_worker_count([](unsigned) {
    gort::ticker t(1ms);
    auto c = t.c();
    EXPECT_TRUE(c.recv());
    t.stop();
    c.try_recv();  // a tick that raced with stop()
    gort::sleep_for(20ms);
    EXPECT_EQ(c.try_recv(), std::nullopt) << "tick after stop()";
    t.stop();  // idempotent
    gort::ticker moved = std::move(t);
    moved.stop();
  });
}

// The deterministic half of TickerStopEndsTicks: once stop() returns, no
// timer of the ticker is left, so a receive on its channel waits for nothing
// and the runtime reports the deadlock at once (Go's timers keep a program
// alive the same way; a stopped one does not). A stop() that left the timer
// running would let the receive return, and the process would not die.
TEST(ChanTimeDeathTest, StoppedTickerLeavesNoTimerBehind) {
  gort_test::threadsafe_death_tests();
  gort_test::for_each_worker_count([&](unsigned w) {
    EXPECT_EXIT(gort::run(
                    [] {
                      gort::ticker t(1ms);
                      auto c = t.c();
                      c.recv();
                      t.stop();
                      c.try_recv();  // a tick that raced with stop()
                      c.recv();
                    },
                    {.workers = w}),
                testing::ExitedWithCode(2), "fatal error: all goroutines are asleep - deadlock!")
        << "workers=" << w;
  });
}

TEST(ChanTimeTicker, NonPositivePeriodThrows) {
  gort::run(
      [] {
        EXPECT_THROW(gort::ticker(0ns), std::invalid_argument);
        EXPECT_THROW(gort::ticker(-1ms), std::invalid_argument);
      },
      {.workers = 1});
}

// A ticker in a select loop with a quit channel, as Go programs use it.
TEST(ChanTime, TickerInSelectLoop) {
  gort_test::run_at_each_worker_count([](unsigned) {
    gort::ticker t(2ms);
    gort::chan<bool> quit;
    std::atomic<int> ticks{0};
    // Quits once the loop has counted 3 ticks (gives up after 15 s, so that
    // a ticker that never ticks fails the check below instead of hanging).
    gort::go([quit, &ticks]() mutable {
      auto give_up = clock_type::now() + 15s;
      while (ticks.load() < 3 && clock_type::now() < give_up) gort::sleep_for(1ms);
      quit.close();
    });
    bool done = false;
    while (!done) {
      gort::select(gort::recv_case(t.c(), [&](auto v) { ticks += v.has_value(); }),
                   gort::recv_case(quit, [&](auto) { done = true; }));
    }
    EXPECT_GE(ticks.load(), 3);
  });
}

// A plain OS thread can wait on after().
TEST(ChanTime, AfterOnThread) {
  gort_test::run_at_each_worker_count([](unsigned) {
    gort::chan<bool> ok(1);
    gort::thread th([ok]() mutable {
      auto t0 = clock_type::now();
      gort::after(10ms).recv();
      ok.send(clock_type::now() - t0 >= 10ms);
    });
    EXPECT_EQ(ok.recv(), true);
  });
}

}  // namespace
