// gort::errgroup (x/sync/errgroup's tests): wait() waits for all, the first
// exception wins and cancels ctx(), wait() cancels ctx(), the limit holds
// under seeded stress, try_go, set_limit's rules. At 1, 2 and 4 workers.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <stdexcept>
#include <string>

#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {


const std::error_code k_canceled = gort::context_errc::canceled;

}  // namespace

TEST(Errgroup, ZeroGroupWaitsForEveryFunction) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      gort::errgroup g;
      std::atomic<int> ran{0};
      for (int i = 0; i < 50; ++i)
        g.go([&] {
          gort::yield();
          ++ran;
        });
      g.wait();
      EXPECT_EQ(ran.load(), 50);
      EXPECT_FALSE(g.ctx().err()) << "a group without a context has background()";
      g.wait();  // again: nothing to wait for, nothing to rethrow
    });
  });
}

// Go's TestWithContext: the first error cancels ctx(); wait() returns it
// (here: rethrows the first exception, every time), later ones are dropped.
TEST(Errgroup, FirstExceptionWinsAndCancelsTheContext) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      auto [parent, cancel_parent] = gort::with_cancel(gort::background());
      gort::errgroup g(parent);
      gort::context ctx = g.ctx();
      gort::chan<int> first_thrown;
      std::atomic<int> saw_cancel{0};
      for (int i = 0; i < 4; ++i)
        g.go([ctx, &saw_cancel] {  // wait for the cancel the first failure makes
          ctx.done().recv();
          if (ctx.err() == k_canceled) ++saw_cancel;
          throw std::runtime_error("late");
        });
      g.go([first_thrown]() mutable {
        first_thrown.send(1);
        throw std::runtime_error("first");
      });
      first_thrown.recv();
      for (int round = 0; round < 2; ++round) {
        try {
          g.wait();
          ADD_FAILURE() << "wait() did not rethrow";
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "first");
        }
      }
      EXPECT_EQ(saw_cancel.load(), 4);
      EXPECT_FALSE(parent.err()) << "the group's cancel stays below its parent";
    });
  });
}

TEST(Errgroup, WaitCancelsTheContextAndParentCancelReachesIt) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      gort::errgroup g(gort::background());
      g.go([] {});
      EXPECT_FALSE(g.ctx().err());
      g.wait();
      EXPECT_EQ(g.ctx().err(), k_canceled);

      auto [parent, cancel] = gort::with_cancel(gort::background());
      gort::errgroup h(parent);
      h.go([ctx = h.ctx()] { ctx.done().recv(); });
      gort_test::wait_blocked("chan receive", 1);
      cancel();
      h.wait();  // no exception: the function returned normally
    });
  });
}

TEST(Errgroup, TryGoRespectsTheLimit) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      gort::errgroup g;
      g.set_limit(2);
      gort::chan<int> release;
      auto blocker = [release] { release.recv(); };
      EXPECT_TRUE(g.try_go(blocker));
      EXPECT_TRUE(g.try_go(blocker));
      bool ran = false;
      EXPECT_FALSE(g.try_go([&] { ran = true; }));
      release.send(1);  // one returns: a slot frees
      for (;;) {
        if (g.try_go(blocker)) break;
        gort::yield();
      }
      release.close();
      g.wait();
      EXPECT_FALSE(ran);
      g.set_limit(0);  // nothing may run now
      EXPECT_FALSE(g.try_go([] {}));
      g.set_limit(-1);
      EXPECT_TRUE(g.try_go([] {}));
      g.wait();
    });
  });
}

// Go's SetLimit panics while functions started under a limit still run; here
// a std::logic_error with Go's message. Removing the limit is allowed, and a
// limit raised later does not count the functions started under the old one.
TEST(Errgroup, SetLimitWhileRunning) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      gort::errgroup g;
      gort::chan<int> release;
      g.go([release] { release.recv(); });  // no limit yet: holds no slot
      g.set_limit(1);                       // allowed, as Go's len(nil sem) == 0
      g.go([release] { release.recv(); });
      try {
        g.set_limit(3);
        ADD_FAILURE() << "set_limit while a limited function runs";
      } catch (const std::logic_error& e) {
        EXPECT_STREQ(e.what(), "errgroup: modify limit while 1 goroutines in the group are still active");
      }
      g.set_limit(-1);
      g.set_limit(1);  // the old slot does not count against the new limit
      EXPECT_TRUE(g.try_go([release] { release.recv(); }));
      EXPECT_FALSE(g.try_go([] {}));
      release.close();
      g.wait();
    });
  });
}

// A go() that finds the limit reached parks until a function returns; the
// number running never exceeds the limit; every function runs once.
TEST(Errgroup, LimitHoldsUnderStress) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    const std::uint64_t seed = gort_test::test_seed();
    SCOPED_TRACE(gort_test::seed_note(seed));
    run([seed] {
      std::mt19937_64 rng(seed);
      for (int limit : {1, 3, 8}) {
        gort::errgroup g(gort::background());
        g.set_limit(limit);
        std::atomic<int> running{0}, peak{0}, ran{0};
        gort::wait_group spawners;
        for (int s = 0; s < 3; ++s) {  // several fibers call go() at once
          spawners.add(1);
          gort::go([&, s0 = rng()] {
            std::mt19937_64 r(s0);
            for (int i = 0; i < 100; ++i) {
              g.go([&, yields = int(r() % 4)] {
                int now = ++running;
                for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {}
                for (int y = 0; y < yields; ++y) gort::yield();
                --running;
                ++ran;
              });
            }
            spawners.done();
          });
        }
        spawners.wait();
        g.wait();
        EXPECT_EQ(ran.load(), 300) << "limit " << limit;
        EXPECT_LE(peak.load(), limit);
        EXPECT_GE(peak.load(), 1);
      }
    });
  });
}

// go() may be called while wait() is already waiting: wait() waits for
// those too (they are counted before their fiber exists).
TEST(Errgroup, FunctionsStartedDuringWaitAreWaitedFor) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      gort::errgroup g;
      std::atomic<int> ran{0};
      gort::chan<int> go_on;
      g.go([&, go_on]() mutable {
        go_on.recv();
        g.go([&] {
          gort::sleep_for(5ms);
          ++ran;
        });
        ++ran;
      });
      gort::go([go_on]() mutable {
        gort_test::wait_blocked("sync.WaitGroup.Wait", 1);
        go_on.send(1);
      });
      g.wait();
      EXPECT_EQ(ran.load(), 2);
    });
  });
}
