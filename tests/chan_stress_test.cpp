// Channel and select stress: Go's TestSelectStress, TestMultiConsumer,
// test/chan/doubleselect.go, and a seeded random mix of every operation by
// fibers and OS threads. Each test prints its seed; rerun a failure with
// GORT_TEST_SEED=<seed>.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <random>
#include <set>
#include <vector>

#include "test_util.hpp"

using gort::chan;

namespace {

class ChanStress : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = gort_test::test_seed();
    std::printf("%s\n", gort_test::seed_note(seed_).c_str());
  }
  std::uint64_t seed_ = 0;
};

// Go's TestSelectStress: plain senders/receivers on four channels interleave
// with one select that sends on all four and one that receives from all
// four, nil-ing each channel once it has done its share.
TEST_F(ChanStress, SelectStress) {
  SCOPED_TRACE(gort_test::seed_note(seed_));
  gort_test::for_each_worker_count([&](unsigned w) {
    // Per channel: how often each select case fired. Channel k carries the
    // value k + 1, so a value delivered on the wrong channel (or a receive that
    // saw a close) is counted as bad.
    std::array<int, 4> sel_sent{}, sel_got{};
    std::atomic<int> bad{0};
    constexpr int N = 100000;
    gort::run(
        [&] {
          std::array<chan<int>, 4> c{chan<int>(0), chan<int>(0), chan<int>(2), chan<int>(3)};
          gort::wait_group wg;
          wg.add(10);
          for (int k = 0; k < 4; ++k) {
            gort::go([&, k] {
              for (int i = 0; i < N; ++i) c[k].send(k + 1);
              wg.done();
            });
            gort::go([&, k] {
              for (int i = 0; i < N; ++i)
                if (c[k].recv() != k + 1) bad.fetch_add(1);
              wg.done();
            });
          }
          gort::go([&] {
            auto& n = sel_sent;
            auto c1 = c;
            auto sent = [&](int k) {
              return [&, k] {
                if (++n[k] == N) c1[k] = nullptr;
              };
            };
            for (int i = 0; i < 4 * N; ++i)
              gort::select(gort::send_case(c1[3], 4, sent(3)), gort::send_case(c1[2], 3, sent(2)),
                           gort::send_case(c1[0], 1, sent(0)), gort::send_case(c1[1], 2, sent(1)));
            wg.done();
          });
          gort::go([&] {
            auto& n = sel_got;
            auto c1 = c;
            auto got = [&](int k) {
              return [&, k](std::optional<int> v) {
                if (v != k + 1) bad.fetch_add(1);
                if (++n[k] == N) c1[k] = nullptr;
              };
            };
            for (int i = 0; i < 4 * N; ++i)
              gort::select(gort::recv_case(c1[0], got(0)), gort::recv_case(c1[1], got(1)),
                           gort::recv_case(c1[2], got(2)), gort::recv_case(c1[3], got(3)));
            wg.done();
          });
          wg.wait();
        },
        {.workers = w});
    for (int k = 0; k < 4; ++k) {
      SCOPED_TRACE("channel " + std::to_string(k));
      EXPECT_EQ(sel_sent[k], N);  // each send case fired exactly N times
      EXPECT_EQ(sel_got[k], N);   // each receive case fired exactly N times
    }
    EXPECT_EQ(bad.load(), 0);
  });
}

// Go's TestMultiConsumer: 23 workers ranging over one queue, results counted.
TEST_F(ChanStress, MultiConsumer) {
  gort_test::run_at_each_worker_count([](unsigned) {
    constexpr int nwork = 23, niter = 271828;
    constexpr std::array<int, 10> pn{2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
    chan<int> q(nwork * 3), r(nwork * 3);
    gort::wait_group wg;
    for (int i = 0; i < nwork; ++i) {
      wg.add(1);
      gort::go([&, i] {
        for (int v : q) {
          if (pn[i % pn.size()] == v) gort::yield();  // mess with the fifo-ish nature of range
          r.send(v);
        }
        wg.done();
      });
    }
    long expect = 0;
    gort::go([&] {
      for (int i = 0; i < niter; ++i) {
        int v = pn[i % pn.size()];
        expect += v;
        q.send(v);
      }
      q.close();
      wg.wait();
      r.close();
    });
    long n = 0, s = 0;
    for (int v : r) {
      ++n;
      s += v;
    }
    EXPECT_EQ(n, niter);
    EXPECT_EQ(s, expect);
  });
}

// Go's test/chan/doubleselect.go: two cases of one select must never both run.
TEST_F(ChanStress, DoubleSelect) {
  gort_test::run_at_each_worker_count([](unsigned) {
    constexpr int iterations = 100000;
    chan<int> c1, c2, c3, c4, cmux;
    chan<bool> done;
    gort::go([=]() mutable {
      for (int i = 0; i < iterations; ++i)
        gort::select(gort::send_case(c1, i), gort::send_case(c2, i), gort::send_case(c3, i),
                     gort::send_case(c4, i));
      c1.close();
      c2.close();
      c3.close();
      c4.close();
    });
    for (auto in : {c1, c2, c3, c4}) {
      gort::go([=]() mutable {
        for (int v : in) cmux.send(v);
        done.send(true);
      });
    }
    gort::go([=]() mutable {
      for (int i = 0; i < 4; ++i) done.recv();
      cmux.close();
    });
    std::vector<char> seen(iterations, 0);
    int count = 0;
    for (int v : cmux) {
      ASSERT_TRUE(v >= 0 && v < iterations);
      EXPECT_EQ(seen[v], 0) << "got duplicate value: " << v;
      seen[v] = 1;
      ++count;
    }
    EXPECT_EQ(count, iterations);
  });
}

// A seeded random mix: producers (fibers and one OS thread) send disjoint
// ranges of values through plain sends, try_send and selects over random
// subsets of channels with mixed capacities; consumers receive through plain
// receives, try_recv and selects, nil-ing channels as they close. Every value
// must arrive exactly once.
TEST_F(ChanStress, RandomMix) {
  SCOPED_TRACE(gort_test::seed_note(seed_));
  const std::uint64_t seed = seed_;
  gort_test::run_at_each_worker_count([seed](unsigned) {
    constexpr int kchans = 5, producers = 6, consumers = 5, per_producer = 20000;
    std::array<chan<int>, kchans> ch{chan<int>(0), chan<int>(1), chan<int>(0), chan<int>(7), chan<int>(64)};
    std::atomic<long> sum{0}, count{0};
    std::vector<std::atomic<unsigned char>> seen(producers * per_producer);
    auto produce = [&](int p) {
      std::mt19937_64 rng(seed * 1000 + p);
      for (int i = 0; i < per_producer; ++i) {
        int v = p * per_producer + i;
        int k = int(rng() % kchans);
        switch (rng() % 4) {
          case 0: ch[k].send(v); break;
          case 1:
            while (!ch[k].try_send(v)) gort::yield();
            break;
          case 2: {
            int k2 = int(rng() % kchans);
            gort::select(gort::send_case(ch[k], v), gort::send_case(ch[k2], v));
            break;
          }
          default:
            gort::select(gort::send_case(ch[0], v), gort::send_case(ch[1], v), gort::send_case(ch[2], v),
                         gort::send_case(ch[3], v), gort::send_case(ch[4], v));
        }
      }
    };
    auto take = [&](int v) {
      if (seen[v].exchange(1)) ADD_FAILURE() << "value " << v << " received twice";
      sum += v;
      ++count;
    };
    auto consume = [&](int c) {
      std::mt19937_64 rng(seed * 1000 + 500 + c);
      auto mine = ch;  // nil-ed one by one as they close
      int open = kchans;
      while (open > 0) {
        int k = int(rng() % kchans);
        if (rng() % 3 == 0 && mine[k]) {
          if (auto v = mine[k].try_recv()) take(*v);
          continue;
        }
        auto on = [&](int j) {
          return [&, j](std::optional<int> v) {
            if (v) {
              take(*v);
            } else {
              mine[j] = nullptr;  // Go's `c = nil` in a select loop
              --open;
            }
          };
        };
        gort::select(gort::recv_case(mine[0], on(0)), gort::recv_case(mine[1], on(1)),
                     gort::recv_case(mine[2], on(2)), gort::recv_case(mine[3], on(3)),
                     gort::recv_case(mine[4], on(4)));
      }
    };
    gort::wait_group prod, cons;
    prod.add(producers - 1);
    for (int p = 0; p < producers - 1; ++p)
      gort::go([&, p] {
        produce(p);
        prod.done();
      });
    gort::thread t([&] { produce(producers - 1); });
    cons.add(consumers - 1);
    for (int c = 0; c < consumers - 1; ++c)
      gort::go([&, c] {
        consume(c);
        cons.done();
      });
    gort::thread tc([&] { consume(consumers - 1); });
    prod.wait();
    t.join();
    for (auto& c : ch) c.close();
    cons.wait();
    tc.join();
    const long n = long(producers) * per_producer;
    EXPECT_EQ(count.load(), n);
    EXPECT_EQ(sum.load(), n * (n - 1) / 2);
  });
}

}  // namespace
