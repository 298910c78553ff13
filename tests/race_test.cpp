// Go's -race promise under -DGORT_SANITIZE=thread (built only there):
// fibers that touch the same memory with nothing ordering them are reported
// whether or not they ran at the same time, at every worker count, 1
// included (fibers taking turns on one thread); programs ordered by gort's
// primitives stay silent (docs/api.md, "Race detection").
//
// A racy program runs in a child process (a death test): TSan reports the
// race and exits with its status 66. A synchronised one runs in this process,
// where a report fails the test (TSan's halt_on_error in scripts/sanitize.sh,
// or the status 66 it gives at exit).
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "net_util.hpp"
#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;

constexpr int k_tsan_exit = 66;  // TSan's exit status once it reported

// The memory every racy program below races on: a global, so that TSan's
// report names it ("Location is global 'g_racy'") and no other report can
// pass for the expected one.
int g_racy = 0;

// Runs body() in a child for 1, 2 and 4 workers, each expected to be
// reported as a data race on g_racy. TSan keeps a bounded history of each
// memory word and of fibers that exited, so now and then it misses a race
// that did happen (about one run in ten of this file lost one at 4 workers):
// each worker count gets up to k_race_attempts children, and fails only if
// none of them reported the race.
constexpr int k_race_attempts = 3;

template <class F>
void expect_race_reported(F body) {
  gort_test::threadsafe_death_tests();
  gort_test::for_each_worker_count([&](unsigned w) {
    for (int attempt = 1;; ++attempt) {
      testing::TestPartResultArray failures;
      {
        testing::ScopedFakeTestPartResultReporter intercept(
            testing::ScopedFakeTestPartResultReporter::INTERCEPT_ALL_THREADS, &failures);
        EXPECT_EXIT(
            {
              gort::run([&] { body(); }, {.workers = w});
              std::exit(0);
            },
            testing::ExitedWithCode(k_tsan_exit),
            "WARNING: ThreadSanitizer: data race(.|\n)*Location is global '[^']*g_racy'");
      }
      if (failures.size() == 0) return;
      if (attempt == k_race_attempts) {
        for (int i = 0; i < failures.size(); ++i)
          ADD_FAILURE() << "attempt " << attempt << " of " << k_race_attempts << ": "
                        << failures.GetTestPartResult(i).message();
        return;
      }
    }
  });
}

// Yields until `n` fibers are left (a snapshot: it orders nothing).
void yield_until_fibers(std::size_t n) {
  while (gort::num_fibers() > n) gort::yield();
}

// ---- reported ------------------------------------------------------------------

TEST(RaceDeathTest, ReadModifyWriteAcrossAYield) {
  expect_race_reported([] {
    g_racy = 0;
    gort::wait_group wg;
    for (int i = 0; i < 2; ++i) {
      wg.add(1);
      gort::go([&] {
        int v = g_racy;
        gort::yield();  // a switch orders nothing
        g_racy = v + 1;
        wg.done();
      });
    }
    wg.wait();
  });
}

TEST(RaceDeathTest, DifferentChannelsOrderNothing) {
  expect_race_reported([] {
    g_racy = 0;
    gort::chan<int> a(1), b(1);
    gort::chan<int> hold;  // keeps the writer alive (parked) while the reader reads: see below
    gort::go([&] {
      g_racy = 1;
      a.send(1);
      hold.recv();
    });
    gort::go([&] {
      while (a.size() < 1) gort::yield();  // the writer is done (a snapshot: it orders nothing)
      b.send(1);
      EXPECT_EQ(g_racy, 1);
      hold.close();
    });
    yield_until_fibers(1);
    // Drained, so each buffered value is ordered before the channels go (the
    // fiber count above orders nothing).
    a.recv();
    b.recv();
  });
}

// Two sends into a buffered channel, with no receive between: not ordered
// (each is ordered only with the receive of its slot).
// In these tests the first fiber stays alive (parked on `hold`) until the
// second has made its access: TSan missed about one race in eight at 4
// workers when the first fiber had already exited.
TEST(RaceDeathTest, BufferedSendersAreNotOrdered) {
  expect_race_reported([] {
    g_racy = 0;
    gort::chan<int> c(2);
    gort::chan<int> hold;
    gort::go([&] {
      g_racy = 1;
      c.send(1);
      hold.recv();
    });
    gort::go([&] {
      while (c.size() < 1) gort::yield();  // a snapshot: it orders nothing
      c.send(2);
      g_racy = 2;
      hold.close();
    });
    yield_until_fibers(1);
    c.recv();  // drained, as above
    c.recv();
  });
}

// The first fiber stays alive here too, and says it is done through a
// relaxed atomic, which orders nothing for TSan.
TEST(RaceDeathTest, FailedTryReceivesOrderNothing) {
  expect_race_reported([] {
    g_racy = 0;
    gort::chan<int> c(1);
    gort::chan<int> hold;
    std::atomic<bool> first_done{false};
    gort::go([&] {
      g_racy = 1;
      EXPECT_FALSE(c.try_recv());
      first_done.store(true, std::memory_order_relaxed);
      hold.recv();
    });
    gort::go([&] {
      while (!first_done.load(std::memory_order_relaxed)) gort::yield();
      EXPECT_FALSE(c.try_recv());
      g_racy = 2;
      hold.close();
    });
    yield_until_fibers(1);
  });
}

TEST(RaceDeathTest, ASleepOrdersNothing) {
  expect_race_reported([] {
    g_racy = 0;
    gort::go([&] { g_racy = 1; });
    gort::sleep_for(20ms);  // time.Sleep as synchronisation: Go's -race reports it too
    EXPECT_EQ(g_racy, 1);
  });
}

TEST(RaceDeathTest, DifferentMutexesOrderNothing) {
  expect_race_reported([] {
    g_racy = 0;
    gort::mutex m1, m2;
    gort::chan<int> hold;
    std::atomic<bool> first_done{false};  // relaxed: orders nothing
    gort::go([&] {
      {
        std::lock_guard g(m1);
        g_racy = 1;
      }
      first_done.store(true, std::memory_order_relaxed);
      hold.recv();
    });
    gort::go([&] {
      while (!first_done.load(std::memory_order_relaxed)) gort::yield();
      {
        std::lock_guard g(m2);
        g_racy = 2;
      }
      hold.close();
    });
    yield_until_fibers(1);
  });
}

// The second fiber runs on the stack (and in the fiber object) the first
// left: reusing them orders nothing.
TEST(RaceDeathTest, AFiberStartedAfterAnotherExitedIsNotOrderedAfterIt) {
  expect_race_reported([] {
    g_racy = 0;
    gort::go([&] { g_racy = 1; });
    yield_until_fibers(1);  // it exited: no edge from it
    gort::go([&] { g_racy = 2; });
    yield_until_fibers(1);
  });
}

TEST(RaceDeathTest, PlainThreadAndFiber) {
  expect_race_reported([] {
    g_racy = 0;
    std::atomic<bool> written{false};
    std::thread t([&] {
      g_racy = 1;
      written.store(true, std::memory_order_relaxed);  // relaxed: orders nothing
    });
    while (!written.load(std::memory_order_relaxed)) gort::yield();
    EXPECT_EQ(g_racy, 1);
    t.join();
  });
}

// ---- silent: what orders fibers -------------------------------------------------

class RaceSilent : public ::testing::TestWithParam<unsigned> {
 protected:
  template <class F>
  void run(F&& body) {
    gort::run(std::forward<F>(body), {.workers = GetParam()});
  }
};
INSTANTIATE_TEST_SUITE_P(workers, RaceSilent, ::testing::ValuesIn(gort_test::k_worker_counts));

TEST_P(RaceSilent, GoOrdersTheCreatorBeforeTheFiber) {
  run([] {
    std::vector<int> v(100, 1);
    int sum = 0;
    gort::wait_group wg;
    wg.add(1);
    gort::go([&, copy = v] {
      for (int x : copy) sum += x;
      v.push_back(2);
      wg.done();
    });
    wg.wait();
    EXPECT_EQ(sum, 100);
    EXPECT_EQ(v.size(), 101u);
  });
}

TEST_P(RaceSilent, UnbufferedChannelOrdersBothWays) {
  run([] {
    int to_receiver = 0, to_sender = 0;
    gort::chan<int> c;
    gort::task<void> sender = gort::spawn([&] {
      to_receiver = 1;
      c.send(1);  // the send happens before the receive completes...
      EXPECT_EQ(to_sender, 2);
    });
    to_sender = 2;  // ...and the receive before the send completes
    c.recv();
    EXPECT_EQ(to_receiver, 1);
    sender.join();
  });
}

TEST_P(RaceSilent, BufferedChannelAsASemaphore) {
  run([] {
    int counter = 0;
    gort::chan<int> tokens(1);  // the k-th receive happens before the (k+1)-th send completes
    gort::wait_group wg;
    for (int f = 0; f < 4; ++f) {
      wg.add(1);
      gort::go([&] {
        for (int i = 0; i < 50; ++i) {
          tokens.send(0);
          ++counter;
          if (i % 7 == 0) gort::yield();
          tokens.recv();
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(counter, 200);
  });
}

TEST_P(RaceSilent, ValuesThroughABufferedChannelAndClose) {
  run([] {
    std::vector<std::string> slots(64);
    std::string last;
    gort::chan<int> c(3);
    gort::go([&] {
      for (int i = 0; i < 64; ++i) {
        slots[i] = std::to_string(i);
        c.send(i);
      }
      last = "closed";
      c.close();  // the close happens before a receive that finds it closed
    });
    int n = 0;
    while (auto i = c.recv()) {
      EXPECT_EQ(slots[*i], std::to_string(*i));
      ++n;
    }
    EXPECT_EQ(n, 64);
    EXPECT_EQ(last, "closed");
  });
}

TEST_P(RaceSilent, SelectOrdersTheCaseThatProceeded) {
  run([] {
    int data = 0;
    gort::chan<int> a, b;
    gort::go([&] {
      data = 7;
      b.send(1);
    });
    auto r = gort::recv_case(a);
    auto s = gort::recv_case(b);
    EXPECT_EQ(gort::select(r, s), 1u);
    EXPECT_EQ(data, 7);
  });
}

TEST_P(RaceSilent, MutexSharedMutexCondition) {
  run([] {
    int counter = 0, written = 0;
    std::atomic<int> reads{0};
    gort::mutex m;
    gort::shared_mutex rw;
    gort::condition_variable cv;
    bool ready = false;
    gort::wait_group wg;
    for (int f = 0; f < 4; ++f) {
      wg.add(2);
      gort::go([&] {
        for (int i = 0; i < 100; ++i) {
          std::lock_guard g(m);
          ++counter;
          if (i % 10 == 0) gort::yield();  // contention: waiters park
        }
        for (int i = 0; i < 10; ++i) {
          std::lock_guard g(rw);
          ++written;
          gort::yield();
        }
        wg.done();
      });
      gort::go([&] {
        {
          std::unique_lock lk(m);
          cv.wait(lk, [&] { return ready; });
        }
        for (int i = 0; i < 10; ++i) {
          std::shared_lock g(rw);
          reads.fetch_add(written >= 0, std::memory_order_relaxed);
          gort::yield();
        }
        wg.done();
      });
    }
    {
      std::lock_guard g(m);
      ready = true;
    }
    cv.notify_all();
    wg.wait();
    EXPECT_EQ(counter, 400);
    EXPECT_EQ(written, 40);
    EXPECT_EQ(reads.load(), 40);
  });
}

TEST_P(RaceSilent, WaitGroupTaskJoinOnceSemaphore) {
  run([] {
    std::vector<int> parts(8);
    gort::wait_group wg;
    for (int i = 0; i < 8; ++i) {
      wg.add(1);
      gort::go([&, i] {
        parts[i] = i;
        gort::yield();
        wg.done();  // done happens before wait returns
      });
    }
    wg.wait();
    for (int i = 0; i < 8; ++i) EXPECT_EQ(parts[i], i);

    std::string result;
    gort::task<int> t = gort::spawn([&] {
      result = "done";
      return 3;
    });
    EXPECT_EQ(t.join(), 3);  // the fiber's end happens before join returns
    EXPECT_EQ(result, "done");

    gort::once_flag once;
    int init = 0;
    gort::semaphore sem(0);
    for (int i = 0; i < 3; ++i) {
      gort::go([&] {
        gort::call_once(once, [&] { init = 42; });
        EXPECT_EQ(init, 42);
        sem.release();
      });
    }
    sem.acquire(3);
  });
}

TEST_P(RaceSilent, TimersAfterAndSleep) {
  run([] {
    int data = 0;
    gort::chan<int> c;
    gort::go([&] {
      gort::sleep_for(2ms);
      data = 5;
      c.send(1);
    });
    int timeouts = 0;
    for (;;) {
      auto r = gort::recv_case(c);
      auto t = gort::recv_case(gort::after(1ms));
      if (gort::select(r, t) == 0) break;
      ++timeouts;
    }
    EXPECT_EQ(data, 5);
    gort::ticker tick(1ms);
    for (int i = 0; i < 3; ++i) tick.c().recv();
    tick.stop();
  });
}

TEST_P(RaceSilent, SocketsAndBlockingCalls) {
  run([] {
    gort::net::listener ln = gort::net::listen("127.0.0.1:0");
    std::string note;
    gort::go([&, port = ln.port()] {
      gort::net::conn c = gort::net::dial("127.0.0.1:" + std::to_string(port));
      note = "written before the write";
      c.write("hi");
    });
    gort::net::conn s = ln.accept();
    EXPECT_EQ(gort_test::read_n(s, 2), "hi");  // what the writer did before its write
    EXPECT_EQ(note, "written before the write");

    std::vector<int> v{1, 2, 3};
    int sum = gort::blocking([&] {  // the caller's writes happen before the call, the call before its return
      v.push_back(4);
      return v[0] + v[1] + v[2] + v[3];
    });
    EXPECT_EQ(sum, 10);
    EXPECT_EQ(v.size(), 4u);
  });
}

TEST_P(RaceSilent, PlainThreadsThroughChannelsAndMutexes) {
  run([] {
    std::vector<int> data;
    gort::chan<int> c;
    gort::mutex m;
    // A gort::thread: it counts as alive for the deadlock check before it
    // first blocks (a std::thread would not until then).
    gort::thread t([&] {
      data.push_back(1);
      c.send(1);
      std::lock_guard g(m);
      data.push_back(3);
    });
    c.recv();
    {
      std::lock_guard g(m);
      data.push_back(2);
    }
    t.join();
    EXPECT_EQ(data.size(), 3u);
  });
}

// A context's cancel happens before a receive on done() that it ended and
// before an err() that reports it (also when done() is first asked for
// after the cancel), as Go's context orders them with its mutex.
TEST_P(RaceSilent, ContextCancelOrdersDoneAndErr) {
  run([] {
    for (int round = 0; round < 3; ++round) {
      auto [ctx, cancel] = gort::with_cancel(gort::background());
      int data = 0;
      auto waiter = gort::spawn([&, ctx = ctx] {
        // The first waiter parks on done() before the cancel, the second
        // may first ask for done() after it, the third polls err().
        if (round == 1) gort::yield();
        if (round == 2) {
          while (!ctx.err()) gort::yield();
        } else {
          ctx.done().recv();
        }
        return data;
      });
      gort::go([&, cancel = cancel] {
        data = round + 1;
        cancel();
      });
      EXPECT_EQ(waiter.join(), round + 1);
    }
  });
}

// run() returns after every fiber ended, leftovers unwound included; the
// unwound fibers run after main ended.
TEST_P(RaceSilent, RunReturnsAfterEveryFiber) {
  std::vector<int> log(4);
  std::string main_note;
  gort::run(
      [&] {
        gort::chan<int> never, started(4);
        for (int i = 0; i < 4; ++i) {
          gort::go([&, i, never, started]() mutable {
            log[i] = i + 1;
            struct at_unwind {
              std::string& note;
              ~at_unwind() { note += "+"; }
            } u{main_note};
            started.send(i);
            never.recv();  // unwound at exit
          });
        }
        for (int i = 0; i < 4; ++i) started.recv();
        main_note = "main";
      },
      {.workers = GetParam()});
  EXPECT_EQ(log, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(main_note, "main++++");
}

}  // namespace
