// select: semantics from docs/api.md ("select and time") and the select tests of Go's
// chan_test.go and test/chan (select6.go, TestSelectDuplicateChannel,
// TestSelfSelect, TestNonblock*Race, TestSelectFairness, TestPseudoRandomSend).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <string>
#include <utility>

#include "test_util.hpp"

using namespace std::chrono_literals;
using gort::chan;

namespace {

TEST(ChanSelect, ChoosesTheReadyCaseAndRunsItsFunction) {
  gort_test::run_at_each_worker_count([](unsigned) {
    chan<int> a(1), b(1);
    chan<std::string> s(1);
    b.send(7);
    int got = 0;
    std::size_t i = gort::select(gort::recv_case(a, [&](std::optional<int> v) { got = *v; }),
                                 gort::recv_case(b, [&](std::optional<int> v) { got = *v; }),
                                 gort::recv_case(s, [&](std::optional<std::string>) { got = -1; }));
    EXPECT_EQ(i, 1u);
    EXPECT_EQ(got, 7);
    bool sent = false;
    i = gort::select(gort::recv_case(a), gort::send_case(s, "hi", [&] { sent = true; }));
    EXPECT_EQ(i, 1u);
    EXPECT_TRUE(sent);
    EXPECT_EQ(s.recv(), "hi");
    // default only when nothing is ready
    bool dflt = false;
    EXPECT_EQ(gort::select(gort::recv_case(a), gort::default_case([&] { dflt = true; })), 1u);
    EXPECT_TRUE(dflt);
    a.send(1);
    EXPECT_EQ(gort::select(gort::default_case(), gort::recv_case(a)), 1u);
  });
}

TEST(ChanSelect, ClosedChannels) {
  gort_test::run_at_each_worker_count([](unsigned) {
    chan<int> c, d;
    c.close();
    std::optional<int> got = 5;
    EXPECT_EQ(gort::select(gort::recv_case(c, [&](std::optional<int> v) { got = v; }), gort::recv_case(d)),
              0u);
    EXPECT_EQ(got, std::nullopt);
    EXPECT_THROW(gort::select(gort::send_case(c, 1), gort::recv_case(d)), gort::closed_channel_error);
    // A select blocked on a send case throws when its channel is closed.
    chan<bool> threw(1);
    chan<int> e;
    gort::go([=]() mutable {
      try {
        gort::select(gort::send_case(e, 1), gort::recv_case(d));
        threw.send(false);
      } catch (const gort::closed_channel_error& x) {
        threw.send(std::string(x.what()) == "send on closed channel");
      }
    });
    gort_test::wait_blocked("select", 1);  // the select is queued on e and d
    e.close();
    EXPECT_EQ(threw.recv(), true);
  });
}

TEST(ChanSelect, NilCasesNeverFire) {
  gort_test::run_at_each_worker_count([](unsigned) {
    chan<int> n = nullptr;
    chan<int> c;
    for (int i = 0; i < 100; ++i)
      EXPECT_EQ(gort::select(gort::recv_case(n), gort::send_case(n, 1), gort::default_case()), 2u);
    gort::go([c]() mutable { c.send(3); });
    EXPECT_EQ(gort::select(gort::recv_case(n), gort::send_case(n, 1), gort::recv_case(c)), 2u);
  });
}

// A select woken through one channel removes its records from all others
// (golang.org/issue/2075): afterwards nothing waits on them.
TEST(ChanSelect, WokenSelectLeavesNoStaleRecords) {
  gort_test::run_at_each_worker_count([](unsigned) {
    for (int round = 0; round < 200; ++round) {
      chan<int> a, b, c;
      chan<int> done(1);
      gort::go([=]() mutable {
        gort::select(gort::recv_case(a), gort::recv_case(b), gort::send_case(c, 1), gort::recv_case(a));
        done.send(1);
      });
      gort_test::wait_blocked("select", 1);  // queued on a, b and c (this round's only select)
      b.send(1);
      done.recv();
      EXPECT_FALSE(a.try_send(1)) << "stale receiver on a";
      EXPECT_EQ(c.try_recv(), std::nullopt) << "stale sender on c";
    }
  });
}

// Go's test/chan/select6.go.
TEST(ChanSelect, Select6) {
  gort_test::run_at_each_worker_count([](unsigned) {
    chan<bool> c1, c2, c3;
    gort::go([=]() mutable { c1.recv(); });
    gort::go([=]() mutable {
      gort::select(gort::recv_case(c1, [](auto) { ADD_FAILURE() << "dummy"; }),
                   gort::recv_case(c2, [&](auto) { c3.send(true); }));
      c1.recv();
    });
    gort::go([=]() mutable { c2.send(true); });
    c3.recv();
    c1.send(true);
    c1.send(true);
  });
}

// Go's TestSelectDuplicateChannel: one select queued twice on the same channel.
TEST(ChanSelect, DuplicateChannel) {
  gort_test::run_at_each_worker_count([](unsigned) {
    chan<int> c, d, e;
    // A: reports which case fired (0 or 1: c, 2: d) and the value it got.
    auto a = gort::spawn([=]() mutable {
      std::pair<int, std::optional<int>> got{-1, std::nullopt};
      auto on = [&](int i) { return [&, i](std::optional<int> v) { got = {i, v}; }; };
      gort::select(gort::recv_case(c, on(0)), gort::recv_case(c, on(1)), gort::recv_case(d, on(2)));
      e.send(9);
      return got;
    });
    gort_test::wait_blocked("select", 1);  // A queues on c (twice) and d first
    auto b = gort::spawn([=]() mutable { return c.recv(); });
    gort_test::wait_blocked("chan receive", 1);  // then B queues on c, behind A
    d.send(7);                                   // wakes A, which dequeues itself from c
    EXPECT_EQ(e.recv(), 9);
    c.send(8);  // must wake B
    EXPECT_EQ(b.join(), 8);
    auto [which, value] = a.join();
    EXPECT_EQ(which, 2);
    EXPECT_EQ(value, 7);
  });
}

// Go's TestSelfSelect: send and receive on the same channel in one select.
TEST(ChanSelect, SelfSelect) {
  gort_test::run_at_each_worker_count([](unsigned) {
    for (int cap : {0, 10}) {
      chan<int> c(cap);
      gort::wait_group wg;
      wg.add(2);
      for (int p = 0; p < 2; ++p) {
        gort::go([&, p, cap] {
          for (int i = 0; i < 1000; ++i) {
            auto check = [&](std::optional<int> v) {
              if (cap == 0 && v == p) ADD_FAILURE() << "self receive";
            };
            if (p == 0 || i % 2 == 0)
              gort::select(gort::send_case(c, p), gort::recv_case(c, check));
            else
              gort::select(gort::recv_case(c, check), gort::send_case(c, p));
          }
          wg.done();
        });
      }
      wg.wait();
    }
  });
}

// Go's TestNonblockRecvRace.
TEST(ChanSelect, NonblockRecvRace) {
  gort_test::run_at_each_worker_count([](unsigned) {
    std::atomic<int> bad{0};
    for (int i = 0; i < 2000; ++i) {
      chan<int> c(1);
      c.send(1);
      gort::wait_group wg;
      wg.add(1);
      gort::go([&, c]() mutable {
        gort::select(gort::recv_case(c), gort::default_case([&] { ++bad; }));
        wg.done();
      });
      c.close();
      c.recv();
      wg.wait();
    }
    EXPECT_EQ(bad.load(), 0) << "chan is not ready";
  });
}

// Go's TestNonblockSelectRace and TestNonblockSelectRace2: select acts on
// the channels' state at one moment, never a smeared window.
void nonblock_select_race(bool close_c2) {
  chan<bool> done(1);
  for (int i = 0; i < 5000; ++i) {
    chan<int> c1(1);
    chan<int> c2(close_c2 ? 0 : 1);
    c1.send(1);
    gort::go([=]() mutable {
      std::size_t k = gort::select(gort::recv_case(c1), gort::recv_case(c2), gort::default_case());
      done.send(k != 2);
    });
    if (close_c2)
      c2.close();
    else
      c2.send(1);
    gort::select(gort::recv_case(c1), gort::default_case());
    ASSERT_EQ(done.recv(), true) << "no chan is ready (iteration " << i << ")";
  }
}
TEST(ChanSelect, NonblockSelectRace) {
  gort_test::run_at_each_worker_count([](unsigned) { nonblock_select_race(false); });
}
TEST(ChanSelect, NonblockSelectRace2) {
  gort_test::run_at_each_worker_count([](unsigned) { nonblock_select_race(true); });
}

// Go's TestSelectFairness: two always-ready channels, chosen about equally.
TEST(ChanSelect, Fairness) {
  gort_test::run_at_each_worker_count([](unsigned) {
    constexpr int trials = 10000;
    chan<char> c1(trials + 1), c2(trials + 1);
    for (int i = 0; i < trials + 1; ++i) {
      c1.send(1);
      c2.send(2);
    }
    chan<char> c3, c4, out, done;
    gort::wait_group wg;
    wg.add(1);
    gort::go([&] {
      for (;;) {
        char b = 0;
        auto take = [&](std::optional<char> v) { b = *v; };
        gort::select(gort::recv_case(c3, take), gort::recv_case(c4, take), gort::recv_case(c1, take),
                     gort::recv_case(c2, take));
        if (gort::select(gort::send_case(out, b), gort::recv_case(done)) == 1) break;
      }
      wg.done();
    });
    int cnt1 = 0, cnt2 = 0;
    for (int i = 0; i < trials; ++i) {
      char b = *out.recv();
      if (b == 1)
        ++cnt1;
      else if (b == 2)
        ++cnt2;
      else
        ADD_FAILURE() << "unexpected value " << int(b);
    }
    const double mean = trials * 0.5, stddev = std::sqrt(trials * 0.25);
    EXPECT_LE(std::abs(cnt1 - mean), 10 * stddev) << "unfair select: " << cnt1 << ", " << cnt2;
    done.close();
    wg.wait();
  });
}

// Uniform choice among three ready cases (each within generous bounds).
TEST(ChanSelect, UniformAmongReady) {
  gort_test::run_at_each_worker_count([](unsigned) {
    constexpr int n = 6000;
    chan<int> a(1), b(1), c(1);
    std::array<int, 3> hits{};
    for (int i = 0; i < n; ++i) {
      a.try_send(0);
      b.try_send(0);
      c.try_send(0);
      ++hits[gort::select(gort::recv_case(a), gort::recv_case(b), gort::recv_case(c))];
    }
    for (int h : hits) EXPECT_NEAR(h, n / 3, n / 3 / 4) << hits[0] << " " << hits[1] << " " << hits[2];
  });
}

// Go's TestPseudoRandomSend: two send cases on one channel, both chosen.
TEST(ChanSelect, PseudoRandomSend) {
  gort_test::run_at_each_worker_count([](unsigned) {
    constexpr int n = 100;
    for (int cap : {0, n}) {
      chan<int> c(cap);
      std::array<int, n> l{};
      chan<bool> finished(1);
      gort::go([&] {
        for (int i = 0; i < n; ++i) {
          gort::yield();
          l[i] = *c.recv();
        }
        finished.send(true);
      });
      for (int i = 0; i < n; ++i) gort::select(gort::send_case(c, 1), gort::send_case(c, 0));
      finished.recv();
      int n0 = 0, n1 = 0;
      for (int v : l) {
        n0 += (v + 1) % 2;
        n1 += v;
      }
      EXPECT_GT(n0, n / 10) << "cap " << cap;
      EXPECT_GT(n1, n / 10) << "cap " << cap;
    }
  });
}

// A select blocks until a partner arrives, in each direction and mixed types.
TEST(ChanSelect, BlocksUntilPartner) {
  gort_test::run_at_each_worker_count([](unsigned) {
    for (int round = 0; round < 300; ++round) {
      chan<int> ints;
      chan<std::string> strs;
      chan<double> out;
      gort::go([=]() mutable {
        if (round % 3 == 0)
          ints.send(round);
        else if (round % 3 == 1)
          strs.send(std::to_string(round));
        else
          EXPECT_EQ(out.recv(), double(round));
      });
      std::string seen;
      std::size_t k =
          gort::select(gort::recv_case(ints, [&](std::optional<int> v) { seen = std::to_string(*v); }),
                       gort::recv_case(strs, [&](std::optional<std::string> v) { seen = *v; }),
                       gort::send_case(out, double(round), [&] { seen = std::to_string(round); }));
      EXPECT_EQ(k, std::size_t(round % 3));
      EXPECT_EQ(seen, std::to_string(round));
    }
  });
}

// A case object built before the select call holds its own reference to the
// channel: here the only other one is the timer's, dropped once it fired (and
// the after() temporary is gone at the end of the case's declaration).
TEST(ChanSelect, CaseBuiltBeforeTheCallOwnsItsChannel) {
  gort_test::run_at_each_worker_count([](unsigned) {
    bool fired = false;
    auto timeout = gort::recv_case(gort::after(1ms), [&](auto v) { fired = v.has_value(); });
    gort::sleep_for(20ms);  // the timer fires and releases its reference meanwhile
    EXPECT_EQ(gort::select(std::move(timeout)), 0u);
    EXPECT_TRUE(fired);

    // Parked on it when the timer fires and lets go.
    chan<int> never;
    fired = false;
    auto later = gort::recv_case(gort::after(20ms), [&](auto v) { fired = v.has_value(); });
    EXPECT_EQ(gort::select(gort::recv_case(never), std::move(later)), 1u);
    EXPECT_TRUE(fired);

    // A send case on a channel whose only handle is the case's.
    int sent = 0;
    auto send = gort::send_case(chan<int>(1), 5, [&] { ++sent; });
    EXPECT_EQ(gort::select(std::move(send)), 0u);
    EXPECT_EQ(sent, 1);
    // Cases may be copied, and each copy can be used.
    chan<int> c(2);
    auto put = gort::send_case(c, 9);
    auto put_again = put;
    EXPECT_EQ(gort::select(put), 0u);
    EXPECT_EQ(gort::select(put_again), 0u);
    EXPECT_EQ(c.size(), 2u);
  });
}

}  // namespace
