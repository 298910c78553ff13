// Channels: Go's TestChan over capacities, close/throw semantics, the nil
// channel, move-only values, handles and views, and foreign threads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using gort::chan;

namespace {

// ---- compile-time surface ---------------------------------------------------

static_assert(std::is_constructible_v<chan<int>, int>);
static_assert(!std::is_convertible_v<int, chan<int>>, "chan(capacity) is explicit");
static_assert(std::is_convertible_v<std::nullptr_t, chan<int>>);
static_assert(std::is_convertible_v<chan<int>, gort::send_chan<int>>);
static_assert(std::is_convertible_v<chan<int>, gort::recv_chan<int>>);
static_assert(!std::is_convertible_v<gort::send_chan<int>, chan<int>>);
static_assert(!std::is_convertible_v<gort::recv_chan<int>, chan<int>>);
static_assert(!std::is_convertible_v<gort::send_chan<int>, gort::recv_chan<int>>);
static_assert(std::is_base_of_v<std::logic_error, gort::closed_channel_error>);

TEST(ChanHandle, ZeroIsUnbufferedNotNil) {
  gort::run(
      [] {
        chan<int> a(0);
        EXPECT_TRUE(a);
        EXPECT_EQ(a.capacity(), 0u);
        chan<int> b(10);
        EXPECT_EQ(b.capacity(), 10u);
        chan<int> c(std::size_t(3));
        EXPECT_EQ(c.capacity(), 3u);
        chan<int> n = nullptr;
        EXPECT_FALSE(n);
        a = nullptr;
        EXPECT_FALSE(a);
        EXPECT_EQ(a, n);
        EXPECT_THROW(chan<int>(-1), std::invalid_argument);
      },
      {.workers = 1});
}

TEST(ChanHandle, EqualityAndViews) {
  gort::run(
      [] {
        chan<int> a(1), b(1);
        chan<int> a2 = a;
        EXPECT_EQ(a, a2);
        EXPECT_NE(a, b);
        gort::send_chan<int> s = a;
        gort::recv_chan<int> r = a;
        EXPECT_EQ(s, gort::send_chan<int>(a2));
        EXPECT_NE(s, gort::send_chan<int>(b));
        EXPECT_EQ(r, gort::recv_chan<int>(a));
        s.send(5);
        EXPECT_EQ(a.size(), 1u);
        EXPECT_EQ(r.size(), 1u);
        EXPECT_EQ(r.capacity(), 1u);
        EXPECT_EQ(r.recv(), 5);
        gort::send_chan<int> ns;
        gort::recv_chan<int> nr = nullptr;
        EXPECT_FALSE(ns);
        EXPECT_FALSE(nr);
        s.close();
        EXPECT_EQ(r.recv(), std::nullopt);
      },
      {.workers = 1});
}

// ---- Go's TestChan, over capacities ------------------------------------------

// (No SCOPED_TRACE inside fibers: gtest keeps traces per OS thread, and a
// fiber may resume on another worker.)
void test_chan_capacity(int cap) {
  {  // Receive from an empty channel blocks; try_recv and select+default do not.
    chan<int> c(cap);
    std::atomic<bool> recv1{false}, recv2{false};
    gort::wait_group wg;
    wg.add(2);
    gort::go([&] {
      c.recv();
      recv1 = true;
      wg.done();
    });
    gort::go([&] {
      c.recv();
      recv2 = true;
      wg.done();
    });
    gort_test::wait_blocked("chan receive", 2);  // both receivers parked on c
    EXPECT_FALSE(recv1 || recv2) << "chan: receive from empty chan";
    EXPECT_EQ(c.try_recv(), std::nullopt);
    EXPECT_EQ(gort::select(gort::recv_case(c), gort::default_case()), 1u);
    c.send(0);
    c.send(0);
    wg.wait();
  }
  {  // Send to a full channel blocks; try_send and select+default do not.
    chan<int> c(cap);
    for (int i = 0; i < cap; ++i) c.send(i);
    std::atomic<bool> sent{false};
    gort::wait_group wg;
    wg.add(1);
    gort::go([&] {
      c.send(0);
      sent = true;
      wg.done();
    });
    gort_test::wait_blocked("chan send", 1);  // the sender parked on c
    EXPECT_FALSE(sent) << "chan: send to full chan";
    EXPECT_FALSE(c.try_send(0));
    EXPECT_EQ(gort::select(gort::send_case(c, 0), gort::default_case()), 1u);
    c.recv();
    wg.wait();
  }
  {  // A closed channel drains in order, then gives nullopt.
    chan<int> c(cap);
    for (int i = 0; i < cap; ++i) c.send(i);
    c.close();
    for (int i = 0; i < cap; ++i) EXPECT_EQ(c.recv(), i);
    EXPECT_EQ(c.recv(), std::nullopt);
    EXPECT_EQ(c.try_recv(), std::nullopt);
  }
  {  // close unblocks a receive.
    chan<int> c(cap);
    chan<bool> done;
    gort::go([&] { done.send(!c.recv().has_value()); });
    gort_test::wait_blocked("chan receive", 1);  // close() wakes a parked receiver
    c.close();
    EXPECT_EQ(done.recv(), true);
  }
  {  // 100 values from one sender arrive uncorrupted, in FIFO order.
    chan<int> c(cap);
    gort::go([c]() mutable {
      for (int i = 0; i < 100; ++i) c.send(i);
    });
    for (int i = 0; i < 100; ++i) EXPECT_EQ(c.recv(), i);
  }
  {  // 4 senders x 1000 values, 4 receivers: each value exactly 4 times.
    constexpr int P = 4, L = 1000;
    chan<int> c(cap);
    chan<std::map<int, int>> done;
    for (int p = 0; p < P; ++p)
      gort::go([c]() mutable {
        for (int i = 0; i < L; ++i) c.send(i);
      });
    for (int p = 0; p < P; ++p) {
      gort::go([c, done]() mutable {
        std::map<int, int> got;
        for (int i = 0; i < L; ++i) ++got[*c.recv()];
        done.send(std::move(got));
      });
    }
    std::map<int, int> all;
    for (int p = 0; p < P; ++p) {
      std::map<int, int> part = *done.recv();
      for (auto [k, v] : part) all[k] += v;
    }
    EXPECT_EQ(all.size(), std::size_t(L));
    for (auto [k, v] : all) EXPECT_EQ(v, P) << "value " << k;
  }
  {  // size / capacity.
    chan<int> c(cap);
    EXPECT_EQ(c.size(), 0u);
    EXPECT_EQ(c.capacity(), std::size_t(cap));
    for (int i = 0; i < cap; ++i) c.send(i);
    EXPECT_EQ(c.size(), std::size_t(cap));
    EXPECT_EQ(c.capacity(), std::size_t(cap));
  }
}

TEST(ChanGo, TestChanOverCapacities) {
  gort_test::run_at_each_worker_count([](unsigned) {
    for (int cap : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 32, 33, 64, 100, 199}) {
      test_chan_capacity(cap);
      if (::testing::Test::HasFailure()) {
        ADD_FAILURE() << "first failure at capacity " << cap;
        return;
      }
    }
  });
}

// ---- close semantics -----------------------------------------------------------

std::string closed_what(auto&& f) {
  try {
    f();
  } catch (const gort::closed_channel_error& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(ChanClose, Texts) {
  gort_test::run_at_each_worker_count([](unsigned) {
    chan<int> c(1);
    c.close();
    EXPECT_EQ(closed_what([&] { c.send(1); }), "send on closed channel");
    EXPECT_EQ(closed_what([&] { c.try_send(1); }), "send on closed channel");
    EXPECT_EQ(closed_what([&] { c.close(); }), "close of closed channel");
    chan<int> n = nullptr;
    EXPECT_EQ(closed_what([&] { n.close(); }), "close of nil channel");
    EXPECT_EQ(closed_what([&] { gort::select(gort::send_case(c, 1)); }), "send on closed channel");
  });
}

TEST(ChanClose, BlockedSendersThrow) {
  gort_test::for_each_worker_count([](unsigned w) {
    for (int cap : {0, 1, 3}) {
      SCOPED_TRACE("capacity=" + std::to_string(cap));
      gort::run(
          [cap] {
            constexpr int n = 5;
            chan<int> c(cap);
            for (int i = 0; i < cap; ++i) c.send(i);
            chan<std::string> out(n);
            for (int i = 0; i < n; ++i) {
              gort::go([c, out]() mutable { out.send(closed_what([&] { c.send(42); })); });
            }
            gort_test::wait_blocked("chan send", n);  // close() wakes n parked senders
            c.close();
            for (int i = 0; i < n; ++i) EXPECT_EQ(out.recv(), "send on closed channel");
            for (int i = 0; i < cap; ++i) EXPECT_EQ(c.recv(), i);  // buffered values survive the close
            EXPECT_EQ(c.recv(), std::nullopt);
          },
          {.workers = w});
    }
  });
}

TEST(ChanClose, WakesEveryReceiverAndSelect) {
  gort_test::run_at_each_worker_count([](unsigned) {
    constexpr int n = 20;
    chan<int> c;
    chan<int> other;
    std::atomic<int> nullopts{0};
    gort::wait_group wg;
    wg.add(2 * n);
    // The fibers hold their own handles: should wait_blocked throw, run()
    // unwinds them after this frame's channels are gone.
    for (int i = 0; i < n; ++i) {
      gort::go([c, &nullopts, &wg]() mutable {
        if (!c.recv()) ++nullopts;
        wg.done();
      });
      gort::go([c, other, &nullopts, &wg]() mutable {
        gort::select(gort::recv_case(other), gort::recv_case(c, [&](std::optional<int> v) {
                       if (!v) ++nullopts;
                     }));
        wg.done();
      });
    }
    gort_test::wait_blocked("chan receive", n);  // close() wakes n parked receivers
    gort_test::wait_blocked("select", n);        // and n parked selects
    c.close();
    wg.wait();
    EXPECT_EQ(nullopts.load(), 2 * n);
    EXPECT_FALSE(other.try_send(1)) << "a woken select left a stale receiver on `other`";
  });
}

// ---- FIFO and direct handoff -----------------------------------------------------

TEST(ChanGo, FullBufferWithParkedSenderStaysFifo) {
  gort_test::run_at_each_worker_count([](unsigned) {
    for (int round = 0; round < 200; ++round) {
      chan<int> c(2);
      c.send(1);
      c.send(2);
      gort::wait_group wg;
      wg.add(1);
      gort::go([&] {
        c.send(3);
        wg.done();
      });
      gort_test::wait_blocked("chan send", 1);  // the third value waits behind a full buffer
      EXPECT_EQ(c.recv(), 1);
      EXPECT_EQ(c.recv(), 2);
      EXPECT_EQ(c.recv(), 3);
      wg.wait();
    }
  });
}

// Blocked receivers are served in the order they blocked. One worker makes
// the blocking order deterministic: each spawned fiber runs (and parks)
// when the main fiber yields.
TEST(ChanOrder, BlockedReceiversAndSendersFifo) {
  gort::run(
      [] {
        constexpr int n = 8;
        chan<int> c;
        chan<int> got(n);
        for (int i = 0; i < n; ++i) {
          gort::go([c, got, i]() mutable {
            c.recv();
            got.send(i);
          });
          gort::yield();
        }
        for (int i = 0; i < n; ++i) {
          c.send(0);
          EXPECT_EQ(got.recv(), i);
        }
        for (int i = 0; i < n; ++i) {
          gort::go([c, i]() mutable { c.send(i); });
          gort::yield();
        }
        for (int i = 0; i < n; ++i) EXPECT_EQ(c.recv(), i);
      },
      {.workers = 1});
}

// ---- nil channel ---------------------------------------------------------------

TEST(ChanGo, NilChannel) {
  gort_test::run_at_each_worker_count([](unsigned) {
    chan<int> n = nullptr;
    EXPECT_FALSE(n.try_send(1));
    EXPECT_EQ(n.try_recv(), std::nullopt);
    EXPECT_EQ(n.size(), 0u);
    EXPECT_EQ(n.capacity(), 0u);
    EXPECT_EQ(gort::select(gort::recv_case(n), gort::send_case(n, 1), gort::default_case()), 2u);
  });
}

struct counted {
  static inline std::atomic<int> live{0};
  counted() { ++live; }
  counted(const counted&) { ++live; }
  counted(counted&&) noexcept { ++live; }
  ~counted() { --live; }
};

// Fibers parked forever (nil channel, select()) or on channels nobody serves
// are unwound when run() returns: their destructors run.
TEST(ChanGo, ParkedFibersUnwindAtExit) {
  gort_test::for_each_worker_count([&](unsigned w) {
    counted::live = 0;
    gort::run(
        [] {
          chan<int> c;
          chan<int> full(1);
          full.send(0);
          gort::go([] {
            counted k;
            chan<int> n = nullptr;
            n.recv();
          });
          gort::go([] {
            counted k;
            chan<int> n = nullptr;
            n.send(1);
          });
          gort::go([] {
            counted k;
            gort::select();
          });
          gort::go([c]() mutable {
            counted k;
            c.recv();
          });
          gort::go([full]() mutable {
            counted k;
            full.send(1);
          });
          gort::go([c, full]() mutable {
            counted k;
            gort::select(gort::recv_case(c), gort::send_case(full, 2));
          });
          gort::go([] {
            counted k;
            chan<counted> cc;
            cc.send(counted{});
          });
          // Every one of them parked before run() returns and unwinds them.
          gort_test::wait_blocked("chan receive (nil chan)", 1);
          gort_test::wait_blocked("chan send (nil chan)", 1);
          gort_test::wait_blocked("select (no cases)", 1);
          gort_test::wait_blocked("chan receive", 1);
          gort_test::wait_blocked("chan send", 2);  // full.send and cc.send
          gort_test::wait_blocked("select", 1);
        },
        {.workers = w});
    EXPECT_EQ(counted::live.load(), 0);
  });
}

// ---- deadlock reports name the wait reason and the caller -------------------------

std::string deadlock_of(auto&& main_fn) {
  try {
    gort::run(main_fn, {.workers = 1, .on_deadlock = gort::deadlock_policy::raise});
  } catch (const gort::deadlock_error& e) {
    return e.what();
  }
  return "(no deadlock)";
}

TEST(ChanWaitReasons, DeadlockReportNamesReasonAndLocation) {
  const std::string file = "chan_basic_test.cpp:";
  int line = 0;
  std::string r = deadlock_of([&] {
    chan<int> c;
    line = __LINE__ + 1;  // the operation below
    c.send(1);
  });
  EXPECT_NE(r.find("goroutine 1 [chan send]:"), std::string::npos) << r;
  EXPECT_NE(r.find(file + std::to_string(line)), std::string::npos) << r;
  r = deadlock_of([&] {
    chan<int> c;
    line = __LINE__ + 1;  // the operation below
    c.recv();
  });
  EXPECT_NE(r.find("goroutine 1 [chan receive]:"), std::string::npos) << r;
  EXPECT_NE(r.find(file + std::to_string(line)), std::string::npos) << r;
  r = deadlock_of([&] {
    chan<int> c = nullptr;
    line = __LINE__ + 1;  // the operation below
    c.send(1);
  });
  EXPECT_NE(r.find("[chan send (nil chan)]:"), std::string::npos) << r;
  EXPECT_NE(r.find(file + std::to_string(line)), std::string::npos) << r;
  r = deadlock_of([&] {
    chan<int> c = nullptr;
    line = __LINE__ + 1;  // the operation below
    c.recv();
  });
  EXPECT_NE(r.find("[chan receive (nil chan)]:"), std::string::npos) << r;
  EXPECT_NE(r.find(file + std::to_string(line)), std::string::npos) << r;
  r = deadlock_of([&] {
    chan<int> c;
    line = __LINE__ + 1;  // the operation below
    gort::select(gort::recv_case(c), gort::send_case(c, 1));
  });
  EXPECT_NE(r.find("[select]:"), std::string::npos) << r;
  EXPECT_NE(r.find(file + std::to_string(line)), std::string::npos) << r;
  r = deadlock_of([&] {
    line = __LINE__ + 1;  // the operation below
    gort::select();
  });
  EXPECT_NE(r.find("[select (no cases)]:"), std::string::npos) << r;
  EXPECT_NE(r.find(file + std::to_string(line)), std::string::npos) << r;
  r = deadlock_of([&] {
    chan<int> c;
    line = __LINE__ + 1;  // the operation below
    for (int v : c) (void)v;
  });
  EXPECT_NE(r.find("[chan receive]:"), std::string::npos) << r;
  EXPECT_NE(r.find(file + std::to_string(line)), std::string::npos) << r;
}

// ---- move-only values, element lifetime, range-for ---------------------------------

TEST(ChanGo, MoveOnlyValues) {
  gort_test::run_at_each_worker_count([](unsigned) {
    for (int cap : {0, 2}) {
      chan<std::unique_ptr<int>> c(cap);
      gort::go([c]() mutable {
        for (int i = 0; i < 50; ++i) c.send(std::make_unique<int>(i));
        c.close();
      });
      int want = 0;
      for (std::unique_ptr<int> p : c) EXPECT_EQ(*p, want++);
      EXPECT_EQ(want, 50);
    }
    chan<std::unique_ptr<int>> one(1);
    auto p = std::make_unique<int>(7);
    EXPECT_TRUE(one.try_send(std::move(p)));
    EXPECT_EQ(p, nullptr);
    auto q = std::make_unique<int>(8);
    EXPECT_FALSE(one.try_send(std::move(q)));
    ASSERT_NE(q, nullptr) << "try_send moved from the value although it failed";
    EXPECT_EQ(*q, 8);
    EXPECT_EQ(**one.recv(), 7);
    EXPECT_EQ(gort::select(gort::send_case(one, std::move(q)), gort::default_case()), 0u);
    std::optional<std::unique_ptr<int>> got;
    gort::select(gort::recv_case(one, [&](std::optional<std::unique_ptr<int>> v) { got = std::move(v); }));
    ASSERT_TRUE(got && *got);
    EXPECT_EQ(**got, 8);
  });
}

TEST(ChanGo, BufferedValuesDestroyedWithChannel) {
  gort_test::for_each_worker_count([&](unsigned w) {
    counted::live = 0;
    gort::run(
        [] {
          {
            chan<counted> c(4);
            c.send(counted{});
            c.send(counted{});
            c.send(counted{});
            { auto v = c.recv(); }
            EXPECT_EQ(counted::live.load(), 2);
          }
          EXPECT_EQ(counted::live.load(), 0);
          chan<counted> u;
          gort::go([u]() mutable { u.send(counted{}); });
          {
            auto v = u.recv();
            EXPECT_TRUE(v);
          }
        },
        {.workers = w});
    EXPECT_EQ(counted::live.load(), 0);
  });
}

TEST(ChanGo, RangeForUntilClosed) {
  gort_test::run_at_each_worker_count([](unsigned) {
    chan<int> c(3);
    gort::go([s = gort::send_chan<int>(c)]() mutable {
      for (int i = 1; i <= 1000; ++i) s.send(i);
      s.close();
    });
    long sum = 0;
    gort::recv_chan<int> r = c;
    for (int v : r) sum += v;
    EXPECT_EQ(sum, 500500);
  });
}

// ---- plain OS threads talk to fibers ------------------------------------------------

TEST(ChanThreads, ThreadToFiberAndBack) {
  gort_test::run_at_each_worker_count([](unsigned) {
    for (int cap : {0, 4}) {
      chan<int> to_fiber(cap), to_thread(cap);
      gort::thread t([=]() mutable {
        for (int i = 0; i < 2000; ++i) {
          to_fiber.send(i);
          EXPECT_EQ(to_thread.recv(), i + 1);
        }
        to_fiber.close();
      });
      gort::go([=]() mutable {
        for (int v : to_fiber) to_thread.send(v + 1);
      });
      t.join();
    }
  });
}

// A std::thread is invisible to deadlock detection except while it is
// blocked inside gort, so the main fiber polls (it stays runnable) instead of
// blocking on the thread.
TEST(ChanThreads, StdThreadReceivesFromFibersAndIsWokenByClose) {
  gort_test::run_at_each_worker_count([](unsigned) {
    chan<int> c;
    chan<long> result(1);
    std::thread t([=]() mutable {
      long sum = 0;
      for (int v : c) sum += v;  // blocks this OS thread between values
      result.send(sum);
    });
    gort::go([c]() mutable {
      gort::wait_group wg;
      for (int f = 0; f < 4; ++f) {
        wg.add(1);
        gort::go([&wg, c]() mutable {
          for (int i = 1; i <= 250; ++i) c.send(i);
          wg.done();
        });
      }
      wg.wait();
      c.close();
    });
    std::optional<long> sum;
    while (!(sum = result.try_recv())) gort::yield();
    EXPECT_EQ(*sum, 4 * 31375);
    t.join();
  });
}

TEST(ChanThreads, SelectOnThread) {
  gort_test::run_at_each_worker_count([](unsigned) {
    chan<int> a, b;
    chan<int> done(1);
    gort::thread t([=]() mutable {
      int got = 0;
      while (got < 200) {
        gort::select(gort::recv_case(a, [&](std::optional<int>) { ++got; }),
                     gort::recv_case(b, [&](std::optional<int>) { ++got; }));
      }
      done.send(got);
    });
    for (int i = 0; i < 100; ++i) {
      a.send(i);
      b.send(i);
    }
    EXPECT_EQ(done.recv(), 200);
    t.join();
  });
}

}  // namespace
