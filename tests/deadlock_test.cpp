// Deadlock detection and diagnostics: a death
// test per wait reason, the report's shape, the raise policy, no false
// positives, the mutex wait-for graph and partial cycles.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "gort/gort.hpp"
#include "runtime/netpoll.hpp"
#include "runtime/park.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using gort_test::threadsafe_death_tests;

namespace {
const char* k_header = "fatal error: all goroutines are asleep - deadlock!\n\n";

// Runs `fn` under the raise policy and returns the report (empty: none).
template <class F>
std::string deadlock_report_of(F fn, unsigned workers = 2) {
  try {
    gort::run(fn, {.workers = workers, .on_deadlock = gort::deadlock_policy::raise});
  } catch (const gort::deadlock_error& e) {
    return e.what();
  }
  return {};
}
}  // namespace

TEST(DeadlockDeathTest, SeedExampleUnbufferedSendInMain) {
  threadsafe_death_tests();
  EXPECT_EXIT(gort::run([] {
                gort::chan<int> ch;
                ch.send(1);
              }),
              testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 \\[chan "
              "send\\]:\n[^\t\n]+\n\t[^\n]*deadlock_test.cpp:[0-9]+\n");
}

TEST(DeadlockDeathTest, ReceiveOnNilChannel) {
  threadsafe_death_tests();
  EXPECT_EXIT(gort::run([] {
                gort::chan<int> nil(nullptr);
                nil.recv();
              }),
              testing::ExitedWithCode(2), "goroutine 1 \\[chan receive \\(nil chan\\)\\]:");
}

TEST(DeadlockDeathTest, EmptySelect) {
  threadsafe_death_tests();
  EXPECT_EXIT(gort::run([] { gort::select(); }), testing::ExitedWithCode(2),
              "goroutine 1 \\[select \\(no cases\\)\\]:");
}

TEST(DeadlockDeathTest, SelectOnTwoSilentChannels) {
  threadsafe_death_tests();
  EXPECT_EXIT(gort::run([] {
                gort::chan<int> a, b;
                gort::select(gort::recv_case(a, [](std::optional<int>) {}),
                             gort::recv_case(b, [](std::optional<int>) {}));
              }),
              testing::ExitedWithCode(2), "goroutine 1 \\[select\\]:");
}

TEST(DeadlockDeathTest, MutexRelockNamesTheHolder) {
  threadsafe_death_tests();
  EXPECT_EXIT(gort::run([] {
                gort::mutex m;
                m.lock();
                m.lock();
              }),
              testing::ExitedWithCode(2),
              "goroutine 1 \\[sync.Mutex.Lock\\]:\n[^\t\n]+\n\t[^\n]*deadlock_test.cpp:[0-9]+\n\theld by goroutine 1\n");
}

TEST(DeadlockDeathTest, JoinOfBlockedTask) {
  threadsafe_death_tests();
  EXPECT_EXIT(gort::run([] {
                gort::chan<int> never;
                auto t = gort::spawn([never]() mutable { return never.recv().value_or(0); });
                t.join();
              }),
              testing::ExitedWithCode(2),
              "goroutine 1 \\[task join\\]:\n[^\t\n]+\n\t[^\n]*deadlock_test.cpp:[0-9]+\n\ngoroutine [0-9]+ \\[chan "
              "receive\\]:\n.*\n"
              "created by goroutine 1 at .*deadlock_test.cpp:[0-9]+");
}

TEST(DeadlockDeathTest, WaitGroupNeverDone) {
  threadsafe_death_tests();
  EXPECT_EXIT(gort::run([] {
                gort::wait_group wg;
                wg.add(2);
                gort::go([&] { wg.done(); });
                wg.wait();
              }),
              testing::ExitedWithCode(2), "goroutine 1 \\[sync.WaitGroup.Wait\\]:");
}

TEST(Deadlock, ReportListsEveryFiberInIdOrderWithCreators) {
  std::string r = deadlock_report_of([] {
    gort::chan<int> a, b;
    gort::go([a]() mutable { a.recv(); });
    gort::go([b]() mutable { b.send(1); });
    gort::go([] {
      gort::mutex m;
      m.lock();
      m.lock();
    });
    gort::select();
  });
  ASSERT_EQ(r.rfind(k_header, 0), 0u) << r;
  auto p1 = r.find("goroutine 1 [select (no cases)]:");
  auto p2 = r.find("[chan receive]:");
  auto p3 = r.find("[chan send]:");
  auto p4 = r.find("[sync.Mutex.Lock]:");
  ASSERT_NE(p1, std::string::npos) << r;
  ASSERT_NE(p2, std::string::npos) << r;
  ASSERT_NE(p3, std::string::npos) << r;
  ASSERT_NE(p4, std::string::npos) << r;
  EXPECT_LT(p1, p2);
  EXPECT_LT(p2, p3);
  EXPECT_LT(p3, p4);
  // Three fibers created by main, each with the go() call site.
  std::size_t created = 0;
  for (auto pos = r.find("created by goroutine 1 at "); pos != std::string::npos;
       pos = r.find("created by goroutine 1 at ", pos + 1))
    ++created;
  EXPECT_EQ(created, 3u) << r;
  EXPECT_NE(r.find("deadlock_test.cpp:"), std::string::npos);
}

TEST(Deadlock, RaiseThenNextRunWorks) {
  EXPECT_FALSE(deadlock_report_of([] { gort::select(); }).empty());
  EXPECT_EQ(gort::run([] { return 9; }, {.workers = 2}), 9);
}

TEST(Deadlock, FoundAfterTheLastSleeperWakes) {
  std::string r = deadlock_report_of([] {
    gort::go([] { gort::sleep_for(20ms); });
    gort::chan<int> never;
    never.recv();
  });
  EXPECT_EQ(r.rfind(k_header, 0), 0u) << r;
}

TEST(Deadlock, NoFalsePositiveAcrossPingPongHandoffs) {
  std::string r = deadlock_report_of([] {
    gort::chan<int> ping, pong;
    gort::go([ping, pong]() mutable {
      for (int i = 0; i < 100000; ++i) pong.send(*ping.recv() + 1);
    });
    int v = 0;
    for (int i = 0; i < 100000; ++i) {
      ping.send(v);
      v = *pong.recv();
    }
    EXPECT_EQ(v, 100000);
  });
  EXPECT_EQ(r, "");
}

TEST(Deadlock, NoFalsePositiveWithSleeperAfterSocketAndStartingThread) {
  gort_test::for_each_worker_count([&](unsigned w) {
    std::string r = deadlock_report_of(
        [] {
          gort::chan<int> done(4);
          gort::go([done]() mutable {
            gort::sleep_for(20ms);
            done.send(1);
          });
          gort::go([done]() mutable {
            auto t = gort::after(20ms);
            t.recv();
            done.send(2);
          });
          int fds[2];
          ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
          gort::go([done, fds]() mutable {
            auto* pd = gort::detail::io_register(fds[0]);
            char c;
            while (::read(fds[0], &c, 1) != 1) gort::detail::io_wait(pd, gort::detail::io_mode::read, -1);
            gort::detail::io_unregister(pd);
            done.send(3);
          });
          gort::thread writer([fd = fds[1]] {
            std::this_thread::sleep_for(30ms);
            char c = 'x';
            (void)!::write(fd, &c, 1);
          });
          gort::thread slow([done]() mutable {
            std::this_thread::sleep_for(30ms);  // main waits on it while it is "starting"
            done.send(4);
          });
          int sum = 0;
          for (int i = 0; i < 4; ++i) sum += *done.recv();
          EXPECT_EQ(sum, 10);
          writer.join();
          ::close(fds[0]);
          ::close(fds[1]);
        },
        w);
    EXPECT_EQ(r, "") << "workers=" << w;
  });
}

TEST(DeadlockDeathTest, PartialCycleOfMutexesIsReported) {
  threadsafe_death_tests();
  EXPECT_EXIT(
      {
        setenv("GORT_DEADLOCK", "partial", 1);
        gort::run(
            [] {
              static gort::mutex a, b;
              gort::wait_group both;
              both.add(2);
              gort::go([&] {
                std::lock_guard la(a);
                both.done();
                both.wait();
                std::lock_guard lb(b);
              });
              gort::go([&] {
                std::lock_guard lb(b);
                both.done();
                both.wait();
                std::lock_guard la(a);
              });
              // Other fibers keep running: Go would never report this.
              for (;;) gort::sleep_for(1ms);
            },
            {.workers = 2});
      },
      testing::ExitedWithCode(2),
      "fatal error: deadlock cycle: goroutine [0-9]+ -> goroutine [0-9]+ -> goroutine [0-9]+\n\ngoroutine "
      "[0-9]+ "
      "\\[sync.Mutex.Lock\\]:\n.*\n\theld by goroutine [0-9]+\ncreated by goroutine 1 at");
}

TEST(Deadlock, PartialCheckReportsNoCycleWhenLockOrderResolves) {
  // The same two mutexes, GORT_DEADLOCK=partial set, but every fiber takes
  // them in one order (std::scoped_lock): no cycle, so no report, no exit. The
  // fibers run until the partial check (every 50 ms) has looked a few times.
  gort_test::scoped_env partial("GORT_DEADLOCK", "partial");
  long total = 0;                 // incremented under both locks
  std::atomic<long> expected{0};  // each fiber's own count, summed
  gort::run(
      [&] {
        gort::mutex a, b;
        gort::wait_group wg;
        const auto until = std::chrono::steady_clock::now() + 300ms;
        for (int i = 0; i < 4; ++i) {
          wg.add();
          gort::go([&] {
            long mine = 0;
            for (long k = 0; k < 2000 || std::chrono::steady_clock::now() < until; ++k) {
              std::scoped_lock l(a, b);
              ++total;
              ++mine;
            }
            expected.fetch_add(mine);
            wg.done();
          });
        }
        wg.wait();
      },
      {.workers = 2, .on_deadlock = gort::deadlock_policy::raise});
  EXPECT_GE(expected.load(), 4 * 2000);
  EXPECT_EQ(total, expected.load());  // the locks excluded each other
}

// A service fiber (gort::debug's server, signal delivery) parked in accept()
// does not make a program look alive: the user's fibers, all blocked for
// good, are still a deadlock; the report shows the service fiber marked as
// such, and num_fibers() never counted it.
TEST(Deadlock, ServiceFiberInAcceptDoesNotHideIt) {
  gort_test::for_each_worker_count([](unsigned w) {
    std::size_t counted = 0;
    std::string report = deadlock_report_of(
        [&] {
          gort::net::listener l = gort::net::listen("127.0.0.1:0");
          gort::chan<int> marked;
          gort::go([&] {
            gort::detail::mark_system_fiber();
            marked.send(1);
            try {
              l.accept();
            } catch (const std::system_error&) {
            }
          });
          marked.recv();
          counted = gort::num_fibers();
          gort::chan<int> never;
          never.recv();
        },
        w);
    EXPECT_EQ(counted, 1u);
    EXPECT_EQ(report.find(k_header), 0u) << report;
    EXPECT_NE(report.find("goroutine 1 [chan receive]:"), std::string::npos) << report;
    EXPECT_NE(report.find("[IO wait, system]:"), std::string::npos) << report;
  });
}

// A service fiber's timers (a sleep, an I/O deadline: the debug server's
// trace window and its stalled-client timeout) do not postpone the report
// until they fire: the deadlock is reported at once, long before the hour.
TEST(Deadlock, ServiceFiberTimersDoNotPostponeIt) {
  gort_test::for_each_worker_count([](unsigned w) {
    const auto start = std::chrono::steady_clock::now();
    std::string report = deadlock_report_of(
        [&] {
          gort::net::listener l = gort::net::listen("127.0.0.1:0");
          gort::net::conn client = gort::net::dial("127.0.0.1:" + std::to_string(l.port()));
          gort::net::conn served = l.accept();
          gort::chan<int> ready(2);
          gort::go([&] {
            gort::detail::mark_system_fiber();
            ready.send(1);
            gort::sleep_for(1h);
          });
          gort::go([&] {
            gort::detail::mark_system_fiber();
            served.set_deadline(std::chrono::steady_clock::now() + 1h);
            ready.send(1);
            char buf[1];
            try {
              served.read(std::span<char>(buf));
            } catch (const std::system_error&) {}
          });
          ready.recv();
          ready.recv();
          gort_test::wait_blocked("sleep", 1);
          gort_test::wait_blocked("IO wait", 1);
          gort::chan<int> never;
          never.recv();
        },
        w);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 60s);
    EXPECT_EQ(report.find(k_header), 0u) << report;
    EXPECT_NE(report.find("goroutine 1 [chan receive]:"), std::string::npos) << report;
    EXPECT_NE(report.find("[sleep, system]:"), std::string::npos) << report;
    EXPECT_NE(report.find("[IO wait, system]:"), std::string::npos) << report;
  });
}

// The same with a user fiber's timer pending: not a deadlock until it
// fires (it may wake someone), as before.
TEST(Deadlock, UserTimerStillPostponesIt) {
  gort_test::for_each_worker_count([](unsigned w) {
    const auto start = std::chrono::steady_clock::now();
    std::string report = deadlock_report_of(
        [&] {
          gort::go([] { gort::sleep_for(300ms); });
          gort::chan<int> never;
          never.recv();
        },
        w);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
    EXPECT_EQ(report.find(k_header), 0u) << report;
  });
}
