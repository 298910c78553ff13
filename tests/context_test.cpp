// gort::context: the cases of Go's context_test.go that apply to C++
// (cancel propagation, the parent left alone, deadlines and their order,
// err() that keeps its first cause, values), the error category, and the
// std::stop_token bridges both ways. Every runtime case runs at 1, 2 and 4
// workers. Timing bounds are generous: lower bounds exact, upper ones loose.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "context/node.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// True if `c` is done now; never blocks.
bool is_done(const gort::context& c) {
  auto d = c.done();
  if (!d) return false;  // the nil channel: never
  bool closed = false;
  gort::select(gort::recv_case(d, [&](std::optional<std::monostate> v) { closed = !v; }),
               gort::default_case());
  return closed;
}

// Parks until `c` is done, failing (not hanging) after 10 s.
void wait_done(const gort::context& c) {
  std::size_t k = gort::select(gort::recv_case(c.done()), gort::recv_case(gort::after(10s)));
  ASSERT_EQ(k, 0u) << "context not done after 10 s";
}

const std::error_code k_canceled = gort::context_errc::canceled;
const std::error_code k_deadline = gort::context_errc::deadline_exceeded;

}  // namespace

TEST(ContextErrc, CategoryAndMessagesAreGos) {
  std::error_code c = gort::context_errc::canceled;
  std::error_code d = make_error_code(gort::context_errc::deadline_exceeded);
  EXPECT_STREQ(c.category().name(), "context");
  EXPECT_EQ(c.message(), "context canceled");
  EXPECT_EQ(d.message(), "context deadline exceeded");
  EXPECT_EQ(c, gort::context_errc::canceled);
  EXPECT_NE(c, d);
  EXPECT_TRUE(c);  // not the "no error" value
  std::system_error e(d, "dial x");
  EXPECT_EQ(std::string(e.what()), "dial x: context deadline exceeded");
}

// Outside run(): the background context, and the constructors that need no
// timer, work on any thread.
TEST(Context, BackgroundIsNeverDoneAndWorksAnywhere) {
  gort::context bg = gort::background();
  EXPECT_FALSE(bg.done());  // the nil channel, as Go's Background().Done() is nil
  EXPECT_FALSE(bg.err());
  EXPECT_FALSE(bg.deadline());
  EXPECT_EQ(bg.value<int>(), nullptr);
  EXPECT_FALSE(bg.stop_token().stop_possible());
  EXPECT_EQ(bg, gort::context());

  auto [c, cancel] = gort::with_cancel(bg);
  auto v = gort::with_value(c, 7);
  std::thread t([cancel = cancel] { cancel(); });
  EXPECT_FALSE(v.done().recv());  // a plain thread blocks until closed
  t.join();
  EXPECT_EQ(v.err(), k_canceled);
  EXPECT_EQ(*v.value<int>(), 7);
}

TEST(Context, TimeoutsNeedARun) {
  EXPECT_THROW(gort::with_timeout(gort::background(), 1s), std::logic_error);
  EXPECT_THROW(gort::with_deadline(gort::background(), clock_type::now() + 1s), std::logic_error);
}


// Go's TestWithCancel: a tree cancels downwards, through value nodes too.
TEST(Context, CancelPropagatesToEveryDescendant) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      auto [c1, cancel] = gort::with_cancel(gort::background());
      auto v = gort::with_value(c1, std::string("between"));
      auto [c2, cancel2] = gort::with_cancel(v);
      auto [c3, cancel3] = gort::with_timeout(c2, 1h);
      const gort::context all[] = {c1, v, c2, c3};
      for (const auto& c : all) {
        EXPECT_FALSE(is_done(c));
        EXPECT_FALSE(c.err());
      }
      // A fiber parked on the deepest one is woken by the root's cancel.
      gort::chan<std::error_code> seen(1);
      gort::go([c3 = c3, seen]() mutable {
        c3.done().recv();
        seen.send(c3.err());
      });
      gort_test::wait_blocked("chan receive", 1);
      cancel();
      EXPECT_EQ(*seen.recv(), k_canceled);
      for (const auto& c : all) {
        EXPECT_TRUE(is_done(c));
        EXPECT_EQ(c.err(), k_canceled);
      }
      EXPECT_EQ(gort::detail::ctx_child_count(c1), 0u);
    });
  });
}

// Go's TestChildFinishesFirst: cancelling a child leaves the parent alone
// and takes the child out of the parent.
TEST(Context, CancellingAChildLeavesTheParentAlone) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      auto [parent, cancel_parent] = gort::with_cancel(gort::background());
      auto [child, cancel_child] = gort::with_cancel(parent);
      auto [other, cancel_other] = gort::with_cancel(parent);
      EXPECT_EQ(gort::detail::ctx_child_count(parent), 2u);
      cancel_child();
      EXPECT_TRUE(is_done(child));
      EXPECT_FALSE(is_done(parent));
      EXPECT_FALSE(parent.err());
      EXPECT_FALSE(is_done(other));
      EXPECT_EQ(gort::detail::ctx_child_count(parent), 1u);
      cancel_parent();
      EXPECT_EQ(other.err(), k_canceled);
      EXPECT_EQ(gort::detail::ctx_child_count(parent), 0u);
    });
  });
}

TEST(Context, ChildOfADoneParentIsBornDone) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      auto [parent, cancel] = gort::with_cancel(gort::background());
      cancel();
      auto [child, unused] = gort::with_cancel(parent);
      EXPECT_TRUE(is_done(child));
      EXPECT_EQ(child.err(), k_canceled);
      auto timed = gort::with_timeout(parent, 1h).first;
      EXPECT_EQ(timed.err(), k_canceled);  // the parent's cause, not its own
      EXPECT_EQ(gort::detail::ctx_child_count(parent), 0u);
    });
  });
}

// done() is one channel, made on demand; asked for only after the cancel it
// is a closed one. cancel_func may be called again, copied, or be empty.
TEST(Context, DoneIsOneChannelClosedOnceAndCancelIsIdempotent) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      auto [c, cancel] = gort::with_cancel(gort::background());
      auto d1 = c.done();
      EXPECT_EQ(d1, c.done());
      gort::cancel_func copy = cancel;
      copy();
      cancel();
      copy();
      EXPECT_FALSE(d1.recv());
      auto [late, cancel_late] = gort::with_cancel(gort::background());
      cancel_late();
      EXPECT_FALSE(late.done().recv());
      EXPECT_FALSE(late.done().try_recv());
      gort::cancel_func none;
      none();  // does nothing
    });
  });
}

// err() keeps the first cause: a later deadline does not turn canceled into
// deadline_exceeded, nor a later cancel the reverse.
TEST(Context, ErrKeepsTheFirstCause) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      auto [c, cancel] = gort::with_timeout(gort::background(), 5ms);
      cancel();
      EXPECT_EQ(c.err(), k_canceled);
      gort::sleep_for(20ms);
      EXPECT_EQ(c.err(), k_canceled);

      auto [t, cancel_t] = gort::with_timeout(gort::background(), 5ms);
      wait_done(t);
      EXPECT_EQ(t.err(), k_deadline);
      cancel_t();
      EXPECT_EQ(t.err(), k_deadline);
    });
  });
}

// Go's TestDeadline / TestTimeout: a parked fiber wakes no earlier than the
// deadline, with deadline_exceeded.
TEST(Context, TimeoutWakesAParkedFiberAtTheDeadline) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      auto t0 = clock_type::now();
      auto [c, cancel] = gort::with_timeout(gort::background(), 30ms);
      ASSERT_TRUE(c.deadline());
      EXPECT_GE(*c.deadline(), t0 + 30ms);
      EXPECT_LE(*c.deadline(), clock_type::now() + 30ms);
      wait_done(c);
      EXPECT_GE(clock_type::now() - t0, 30ms);
      EXPECT_EQ(c.err(), k_deadline);
      auto [past, unused] = gort::with_deadline(gort::background(), clock_type::now() - 1s);
      EXPECT_TRUE(is_done(past));
      EXPECT_EQ(past.err(), k_deadline);
    });
  });
}

// A child's deadline is never later than its parent's; the earlier of the two
// fires; a parent's deadline reaches the child as deadline_exceeded.
TEST(Context, DeadlinesNestInOrder) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      auto [parent, cp] = gort::with_timeout(gort::background(), 60ms);
      auto [later, cl] = gort::with_timeout(parent, 1h);
      auto [sooner, cs] = gort::with_timeout(parent, 10ms);
      auto v = gort::with_value(later, 1);
      EXPECT_EQ(later.deadline(), parent.deadline());
      EXPECT_EQ(v.deadline(), parent.deadline());
      EXPECT_LT(*sooner.deadline(), *parent.deadline());
      wait_done(sooner);
      EXPECT_EQ(sooner.err(), k_deadline);
      EXPECT_FALSE(parent.err()) << "a child's deadline never reaches its parent";
      EXPECT_FALSE(later.err());
      wait_done(later);
      EXPECT_EQ(later.err(), k_deadline);
      EXPECT_EQ(parent.err(), k_deadline);
      EXPECT_EQ(v.err(), k_deadline);
    });
  });
}

// Cancelling first stops the deadline's timer: with nothing else alive, a
// fiber waiting forever is then a deadlock at once (a timer left pending
// would keep the check quiet for an hour). Also Go's rule that waiting on a
// context nobody can cancel is a deadlock.
TEST(Context, EarlyCancelStopsTheTimerAndWaitingForeverIsADeadlock) {
  gort_test::for_each_worker_count([](unsigned w) {
    std::string report;
    try {
      gort::run(
          [] {
            auto [c, cancel] = gort::with_timeout(gort::background(), 1h);
            cancel();
            auto [never, keep] = gort::with_cancel(gort::background());
            never.done().recv();
          },
          {.workers = w, .on_deadlock = gort::deadlock_policy::raise});
    } catch (const gort::deadlock_error& e) {
      report = e.what();
    }
    EXPECT_NE(report.find("goroutine 1 [chan receive]:"), std::string::npos) << report;
  });
}

namespace {
struct tracked {
  static inline std::atomic<int> alive{0};
  int v;
  explicit tracked(int x) : v(x) { ++alive; }
  tracked(tracked&& o) noexcept : v(o.v) { ++alive; }
  ~tracked() { --alive; }
};
struct request_id {
  std::string id;
};
}  // namespace

// Go's TestValues, keyed by type: the nearest value wins, missing is null,
// values live while any context below them does.
TEST(Context, ValuesAreFoundByTypeNearestFirst) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      {
        auto c1 = gort::with_value(gort::background(), request_id{"r1"});
        auto c2 = gort::with_value(c1, 42);
        auto c3 = gort::with_value(c2, request_id{"r3"});
        auto [c4, cancel] = gort::with_cancel(c3);
        EXPECT_EQ(c1.value<request_id>()->id, "r1");
        EXPECT_EQ(c1.value<int>(), nullptr);
        EXPECT_EQ(c2.value<request_id>()->id, "r1");
        EXPECT_EQ(*c4.value<int>(), 42);
        EXPECT_EQ(c4.value<request_id>()->id, "r3");
        EXPECT_EQ(c4.value<long>(), nullptr);
        cancel();
        EXPECT_EQ(*c4.value<int>(), 42) << "values outlive cancellation";
      }
      gort::context kept;
      {
        auto c = gort::with_value(gort::background(), tracked(5));
        kept = gort::with_value(c, 1);
        EXPECT_EQ(tracked::alive.load(), 1);
      }
      EXPECT_EQ(kept.value<tracked>()->v, 5);
      kept = gort::context();
      EXPECT_EQ(tracked::alive.load(), 0);
    });
  });
}

// ---- std::stop_token, both ways ----------------------------------------------

TEST(Context, StopTokenIsRequestedWhenTheContextIsDone) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      auto [c, cancel] = gort::with_cancel(gort::background());
      std::stop_token st = c.stop_token();
      EXPECT_TRUE(st.stop_possible());
      EXPECT_FALSE(st.stop_requested());
      std::atomic<int> called{0};
      std::stop_callback cb(st, [&] { ++called; });
      // A plain thread waiting with the token, as std code does.
      std::mutex m;
      std::condition_variable_any cv;
      std::atomic<bool> woke{false};
      gort::thread t([&] {
        std::unique_lock lk(m);
        cv.wait(lk, st, [] { return false; });
        woke = true;
      });
      cancel();
      t.join();
      EXPECT_TRUE(woke);
      EXPECT_TRUE(st.stop_requested());
      EXPECT_EQ(called.load(), 1);
      // A token asked for after the cancel is stopped already; so is a deadline's.
      EXPECT_TRUE(c.stop_token().stop_requested());
      auto [d, unused] = gort::with_timeout(gort::background(), 1ms);
      std::stop_token dt = d.stop_token();
      wait_done(d);
      EXPECT_TRUE(dt.stop_requested());
    });
  });
}

TEST(Context, StoppingATokenCancelsTheContext) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      // A gort::thread's stop request cancels a fiber tree.
      std::atomic<bool> go_on{false};
      gort::thread worker([&](std::stop_token) {
        while (!go_on) std::this_thread::yield();
      });
      gort::context c = gort::with_stop_token(gort::background(), worker.get_stop_token());
      auto [child, unused] = gort::with_cancel(gort::with_value(c, 3));
      EXPECT_FALSE(is_done(child));
      gort::chan<std::error_code> seen(1);
      gort::go([child = child, seen]() mutable {
        child.done().recv();
        seen.send(child.err());
      });
      gort_test::wait_blocked("chan receive", 1);
      std::thread stopper([&] { worker.request_stop(); });  // another OS thread
      EXPECT_EQ(*seen.recv(), k_canceled);
      stopper.join();
      go_on = true;
      worker.join();
      EXPECT_EQ(c.err(), k_canceled);

      std::stop_source stopped;
      stopped.request_stop();
      EXPECT_EQ(gort::with_stop_token(gort::background(), stopped.get_token()).err(), k_canceled);
      EXPECT_FALSE(is_done(gort::with_stop_token(gort::background(), std::stop_token())));
      // Dropped before the stop: the callback is gone, the stop is harmless.
      std::stop_source later;
      { gort::context gone = gort::with_stop_token(gort::background(), later.get_token()); }
      later.request_stop();
      // Both bridges chained: context -> token -> context.
      auto [a, cancel_a] = gort::with_cancel(gort::background());
      gort::context b = gort::with_stop_token(gort::background(), a.stop_token());
      cancel_a();
      EXPECT_EQ(b.err(), k_canceled);
    });
  });
}
