// gort::context under load, at 1, 2 and 4 workers with a seed: one cancel
// waking 10,000 parked fibers spread over the workers, a long-lived parent
// that does not grow with 100,000 short-lived children, cancellations racing
// creations across a tree, and std::stop_token stops racing the destruction
// of the context they cancel.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "context/node.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr int k_waiters = 2'000;  // TSan keeps per-fiber state: stay small
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr int k_waiters = 2'000;
#else
constexpr int k_waiters = 10'000;
#endif
#else
constexpr int k_waiters = 10'000;
#endif

const std::error_code k_canceled = gort::context_errc::canceled;


}  // namespace

// Go's TestCancelRemoves / many waiters: every fiber parked on done(), half of
// them through select, wakes from one cancel issued by an OS thread, and
// sees the same cause.
TEST(ContextStress, OneCancelWakesTenThousandWaiters) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    const std::uint64_t seed = gort_test::test_seed();
    SCOPED_TRACE(gort_test::seed_note(seed));
    run([seed] {
      auto [root, cancel] = gort::with_cancel(gort::background());
      // Waiters on the root, on a child and on a value below it.
      auto [child, unused] = gort::with_cancel(root);
      const gort::context watched[] = {root, child, gort::with_value(child, 1)};
      std::atomic<int> woke{0}, right_cause{0};
      gort::wait_group wg;
      std::mt19937_64 rng(seed);
      std::size_t selecting = 0;
      for (int i = 0; i < k_waiters; ++i) {
        wg.add(1);
        const bool in_select = rng() & 1;
        selecting += in_select;
        gort::go([&, c = watched[rng() % 3], in_select] {
          if (in_select) {
            gort::chan<int> never;
            gort::select(gort::recv_case(never), gort::recv_case(c.done()));
          } else {
            c.done().recv();
          }
          ++woke;
          if (c.err() == k_canceled) ++right_cause;
          wg.done();
        });
      }
      gort_test::wait_blocked("select", selecting);
      gort_test::wait_blocked("chan receive", k_waiters - selecting);
      EXPECT_EQ(woke.load(), 0);
      gort::thread t([cancel = cancel] { cancel(); });  // a thread the deadlock check knows
      wg.wait();
      t.join();
      EXPECT_EQ(woke.load(), k_waiters);
      EXPECT_EQ(right_cause.load(), k_waiters);
    });
  });
}

// Go's TestCancelRemoves at scale: children cancelled (by their own cancel,
// their deadline, or dropped without a cancel) leave a long-lived parent, so
// it holds none of them afterwards.
TEST(ContextStress, LongLivedParentDoesNotGrow) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      auto [parent, cancel_parent] = gort::with_cancel(gort::background());
      auto v = gort::with_value(parent, 1);  // children registered through a value node
      constexpr int n = 100'000;
      for (int i = 0; i < n; ++i) {
        switch (i % 4) {
          case 0: gort::with_cancel(parent).second(); break;
          case 1: gort::with_cancel(v).second(); break;
          case 2: gort::with_timeout(parent, 1h).second(); break;
          case 3: (void)gort::with_cancel(v); break;  // dropped uncancelled: unlinked on destruction
        }
        if (i % 10'000 == 0) {
          ASSERT_EQ(gort::detail::ctx_child_count(parent), 0u) << "after " << i;
        }
      }
      EXPECT_EQ(gort::detail::ctx_child_count(parent), 0u);
      auto [kept, cancel_kept] = gort::with_cancel(v);
      EXPECT_EQ(gort::detail::ctx_child_count(parent), 1u);
      EXPECT_FALSE(parent.err());
    });
  });
}

// Fibers create children and grandchildren of a shared root and cancel them
// at seeded random while another fiber cancels the root: once the root's
// cancel returned, every context of the tree is done (those made afterwards
// are born done), the root holds no children, nothing leaks (ASan).
TEST(ContextStress, CancelsRaceCreationAcrossATree) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    const std::uint64_t seed = gort_test::test_seed();
    SCOPED_TRACE(gort_test::seed_note(seed));
    run([seed] {
      constexpr int fibers = 8, per = 50;
      for (int round = 0; round < 20; ++round) {
        auto [root, cancel_root] = gort::with_cancel(gort::background());
        std::vector<std::vector<gort::context>> made(fibers);
        gort::wait_group wg;
        for (int f = 0; f < fibers; ++f) {
          wg.add(1);
          gort::go([&, root = root, mine = &made[f], s = seed + round * 31 + f] {
            std::mt19937_64 rng(s);
            for (int i = 0; i < per; ++i) {
              auto [c, cancel] = gort::with_cancel(root);
              auto [g, cancel_g] = (rng() & 1) ? gort::with_cancel(c) : gort::with_timeout(c, 1ms);
              if (rng() % 3 == 0) gort::yield();
              if (rng() & 1) cancel_g();
              if (rng() & 1) cancel();
              mine->push_back(c);
              mine->push_back(g);
            }
            wg.done();
          });
        }
        wg.add(1);
        gort::go([&, cancel_root = cancel_root, s = seed + round] {
          for (unsigned i = s % 4; i > 0; --i) gort::yield();
          cancel_root();
          wg.done();
        });
        wg.wait();
        EXPECT_EQ(root.err(), k_canceled);
        std::size_t done = 0;
        for (const auto& v : made)
          for (const gort::context& c : v) done += bool(c.err());
        EXPECT_EQ(done, std::size_t(fibers * per * 2)) << "round " << round;
        EXPECT_EQ(gort::detail::ctx_child_count(root), 0u);
      }
    });
  });
}

// A stop request from another OS thread races the destruction of the context
// it cancels (the stop_callback's destructor must wait for, or skip, the
// callback in flight), and a context cancel races stop_token() callers.
TEST(ContextStress, StopTokenBridgesRaceDestruction) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    const std::uint64_t seed = gort_test::test_seed();
    SCOPED_TRACE(gort_test::seed_note(seed));
    run([seed] {
      std::mt19937_64 rng(seed);
      for (int i = 0; i < 300; ++i) {
        std::stop_source src;
        auto c = std::make_unique<gort::context>(gort::with_stop_token(gort::background(), src.get_token()));
        auto [child, cancel] = gort::with_cancel(*c);
        std::thread stopper([&src] { src.request_stop(); });
        if (rng() & 1) std::this_thread::yield();
        c.reset();  // may run while the callback runs on the stopper
        stopper.join();
        EXPECT_EQ(child.err(), k_canceled);

        auto [d, cancel_d] = gort::with_cancel(gort::background());
        std::thread canceller([cancel_d = cancel_d] { cancel_d(); });
        std::stop_token t = d.stop_token();  // made while the cancel may be under way
        canceller.join();
        EXPECT_TRUE(t.stop_requested());
      }
    });
  });
}
