// gort::signal (Go's os/signal tests that apply): signals raised in-process
// arrive on channels and cancel contexts; a full channel drops without
// blocking delivery; stop() and the end of run() give the program's own
// handlers back; bad signals are refused; a registered signal keeps the
// deadlock check quiet and the delivering fiber hides nothing by itself; the
// runtime's SIGQUIT dump still works. At 1, 2 and 4 workers.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {


// The next value of `ch`, or 0 after 10 s (a test failure, not a hang).
int recv_signal(gort::chan<int> ch) {
  int got = 0;
  gort::select(gort::recv_case(ch, [&](std::optional<int> v) { got = v.value_or(-1); }),
               gort::recv_case(gort::after(10s)));
  return got;
}

std::atomic<int> g_own_calls{0};
void own_handler(int) { ++g_own_calls; }

// The handler installed for `sig` now.
void (*handler_of(int sig))(int) {
  struct sigaction sa {};
  sigaction(sig, nullptr, &sa);
  return sa.sa_handler;
}

// Installs own_handler for `sig` for the guard's lifetime.
class own_handler_guard {
 public:
  explicit own_handler_guard(int sig) : sig_(sig) {
    struct sigaction sa {};
    sa.sa_handler = &own_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(sig_, &sa, &old_);
  }
  ~own_handler_guard() { sigaction(sig_, &old_, nullptr); }

 private:
  int sig_;
  struct sigaction old_ {};
};

}  // namespace

TEST(Signal, RaisedSignalsArriveOnEveryRegisteredChannel) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      gort::chan<int> a(4), b(4);
      gort::signal::notify(a, {SIGUSR1});
      gort::signal::notify(b, {SIGUSR1, SIGUSR2});
      gort::signal::notify(a, {SIGUSR2});  // adds to a's signals
      raise(SIGUSR1);
      EXPECT_EQ(recv_signal(a), SIGUSR1);
      EXPECT_EQ(recv_signal(b), SIGUSR1);
      raise(SIGUSR2);
      EXPECT_EQ(recv_signal(a), SIGUSR2);
      EXPECT_EQ(recv_signal(b), SIGUSR2);
      gort::signal::stop(a);
      gort::signal::stop(b);
    });
  });
}

// Go's rule: delivery never blocks; a full channel misses the signal. The
// forwarder keeps serving other channels meanwhile.
TEST(Signal, FullChannelDropsAndDoesNotBlock) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      gort::chan<int> full(1), other(8);
      // Delivery offers a signal to registrations in the order they were made,
      // so once `other` has one, `full` was offered it first.
      gort::signal::notify(full, {SIGUSR1, SIGUSR2});
      gort::signal::notify(other, {SIGUSR1, SIGUSR2});
      raise(SIGUSR1);
      EXPECT_EQ(recv_signal(other), SIGUSR1);
      ASSERT_EQ(full.size(), 1u);
      for (int i = 0; i < 3; ++i) {
        raise(SIGUSR2);
        EXPECT_EQ(recv_signal(other), SIGUSR2) << "delivery blocked on the full channel";
      }
      EXPECT_EQ(full.size(), 1u);
      EXPECT_EQ(*full.try_recv(), SIGUSR1);
      EXPECT_FALSE(full.try_recv());
      gort::signal::stop(full);
      gort::signal::stop(other);
    });
  });
}

// A program's own handler is kept until it asks gort for the signal, saved
// meanwhile, and back once stop() removes the last registration; after
// stop() returns the channel gets nothing more.
TEST(Signal, StopRestoresTheProgramsHandler) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      own_handler_guard own(SIGUSR2);
      g_own_calls = 0;
      gort::chan<int> ch(4), witness(4);
      gort::signal::notify(witness, {SIGUSR1});
      EXPECT_EQ(handler_of(SIGUSR2), &own_handler) << "not notified: untouched";
      gort::signal::notify(ch, {SIGUSR2, SIGUSR1});
      EXPECT_NE(handler_of(SIGUSR2), &own_handler);
      raise(SIGUSR2);
      EXPECT_EQ(recv_signal(ch), SIGUSR2);
      EXPECT_EQ(g_own_calls.load(), 0);
      gort::signal::stop(ch);
      EXPECT_EQ(handler_of(SIGUSR2), &own_handler);
      raise(SIGUSR2);
      EXPECT_EQ(g_own_calls.load(), 1);
      raise(SIGUSR1);  // still notified to `witness`: once it arrived, `ch` had its chance
      EXPECT_EQ(recv_signal(witness), SIGUSR1);
      EXPECT_FALSE(ch.try_recv());
      gort::signal::stop(witness);
      gort::signal::stop(witness);  // unknown now: ignored
    });
  });
}

// Registrations end with the run() they were made in; the next run starts
// afresh. An empty list notifies every signal that may be.
TEST(SignalRuns, RegistrationsEndWithTheirRun) {
  own_handler_guard own(SIGUSR1);
  for (unsigned w : {1u, 2u}) {
    gort::run(
        [] {
          gort::chan<int> ch(2);
          auto segv = handler_of(SIGSEGV);  // the runtime's (stack overflows), or ASan's
          gort::signal::notify(ch, {});
          EXPECT_NE(handler_of(SIGUSR1), &own_handler);
          EXPECT_NE(handler_of(SIGHUP), SIG_DFL);
          EXPECT_EQ(handler_of(SIGSEGV), segv) << "never taken";
          raise(SIGUSR1);
          EXPECT_EQ(recv_signal(ch), SIGUSR1);
        },
        {.workers = w});
    EXPECT_EQ(handler_of(SIGUSR1), &own_handler) << "workers=" << w;
    EXPECT_EQ(handler_of(SIGHUP), SIG_DFL) << "workers=" << w;
  }
}

TEST(Signal, NotifyContextIsCancelledBySignalAndStopUnregisters) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      auto [ctx, stop] = gort::signal::notify_context(gort::background(), {SIGUSR1});
      auto [child, unused] = gort::with_cancel(ctx);
      gort::chan<std::error_code> seen(1);
      gort::go([child = child, seen]() mutable {
        child.done().recv();
        seen.send(child.err());
      });
      gort_test::wait_blocked("chan receive", 1);
      EXPECT_FALSE(ctx.err());
      raise(SIGUSR1);
      EXPECT_EQ(*seen.recv(), gort::context_errc::canceled);
      EXPECT_EQ(ctx.err(), gort::context_errc::canceled);
      own_handler_guard own(SIGUSR2);
      auto [ctx2, stop2] = gort::signal::notify_context(gort::background(), {SIGUSR2});
      EXPECT_NE(handler_of(SIGUSR2), &own_handler);
      stop2();  // cancels and unregisters, as Go's stop
      EXPECT_EQ(ctx2.err(), gort::context_errc::canceled);
      EXPECT_EQ(handler_of(SIGUSR2), &own_handler);
      stop();
    });
  });
}

TEST(SignalRuns, RefusesWhatItCannotNotify) {
  gort::chan<int> ch(1);
  EXPECT_THROW(gort::signal::notify(ch, {SIGUSR1}), std::logic_error);  // no run()
  gort::run([ch] {
    auto message_of = [&](std::initializer_list<int> sigs) -> std::string {
      try {
        gort::signal::notify(ch, sigs);
      } catch (const std::invalid_argument& e) {
        return e.what();
      }
      return "accepted";
    };
    EXPECT_EQ(message_of({SIGSEGV}),
              "gort::signal::notify: signal 11 (SIGSEGV) cannot be notified: it reports faults (and the "
              "runtime's stack overflows)");
    EXPECT_EQ(message_of({SIGUSR1, SIGKILL}),
              "gort::signal::notify: signal 9 (SIGKILL) cannot be notified: it cannot be caught");
    EXPECT_EQ(message_of({0}), "gort::signal::notify: 0 is not a signal number");
    EXPECT_EQ(message_of({65}), "gort::signal::notify: 65 is not a signal number");
    EXPECT_EQ(message_of({32}), "gort::signal::notify: 32 is not a signal number");
    EXPECT_EQ(handler_of(SIGUSR1), SIG_DFL) << "a refused call registers nothing";
    EXPECT_THROW(gort::signal::notify(gort::send_chan<int>(), {SIGUSR1}), std::invalid_argument);
    EXPECT_THROW(gort::signal::notify_context(gort::background(), {SIGBUS}), std::invalid_argument);
  });
}

// Waiting for a signal is not a deadlock while it is registered (as in Go).
// The signal comes from a plain thread that never calls into gort in a way
// the deadlock check counts (gort::stats() does not), so while main waits
// nothing but the registration keeps the check quiet; a wrong report would
// end run() with deadlock_error at once. (The thread raises the signal at
// itself: a process-directed one may land on a worker asleep in a futex,
// where ThreadSanitizer holds it back until that thread wakes.) Once
// stopped, the same wait is a deadlock, and the delivering fiber (system,
// uncounted) shows in the report without hiding it.
TEST(SignalRuns, RegisteredSignalKeepsTheDeadlockCheckQuiet) {
  gort_test::for_each_worker_count([](unsigned w) {
    int got = 0;
    std::thread raiser;
    try {
      gort::run(
          [&] {
            gort::chan<int> ch(1);
            gort::signal::notify(ch, {SIGALRM});
            raiser = std::thread([] {
              try {
                auto give_up = std::chrono::steady_clock::now() + 10s;
                while (gort::stats().blocked_by_reason["chan receive"] < 1 &&
                       std::chrono::steady_clock::now() < give_up)
                  std::this_thread::sleep_for(1ms);
                // The check runs as the last worker goes idle, right after
                // main parked; this pause only keeps the signal from beating it.
                std::this_thread::sleep_for(20ms);
                gort::stats();  // still running
              } catch (const std::logic_error&) {
                return;  // run() already ended (a wrong deadlock report)
              }
              raise(SIGALRM);
            });
            got = ch.recv().value_or(0);
            gort::signal::stop(ch);
          },
          {.workers = w, .on_deadlock = gort::deadlock_policy::raise});
    } catch (const gort::deadlock_error& e) {
      ADD_FAILURE() << "reported while a signal was registered:\n" << e.what();
    }
    if (raiser.joinable()) raiser.join();
    EXPECT_EQ(got, SIGALRM);

    std::string report;
    std::size_t counted = 0;
    try {
      gort::run(
          [&] {
            gort::chan<int> ch(1);
            gort::signal::notify(ch, {SIGUSR1});
            raise(SIGUSR1);
            ch.recv();  // the forwarder has run: it exists and is parked
            gort::signal::stop(ch);
            counted = gort::num_fibers();
            ch.recv();
          },
          {.workers = w, .on_deadlock = gort::deadlock_policy::raise});
    } catch (const gort::deadlock_error& e) {
      report = e.what();
    }
    EXPECT_EQ(counted, 1u);
    EXPECT_NE(report.find("goroutine 1 [chan receive]:"), std::string::npos) << report;
    EXPECT_NE(report.find("[IO wait, system]:"), std::string::npos) << report;
  });
}

// SIGQUIT may be notified (the dump is off meanwhile) and the runtime's dump
// is back after stop().
TEST(SignalDeathTest, SigquitDumpWorksAgainAfterStop) {
  gort_test::threadsafe_death_tests();
  EXPECT_EXIT(gort::run([] {
                gort::chan<int> ch(1);
                gort::signal::notify(ch, {SIGQUIT});
                raise(SIGQUIT);
                if (recv_signal(ch) != SIGQUIT) std::_Exit(7);
                gort::signal::stop(ch);
                raise(SIGQUIT);
                std::_Exit(8);  // not reached: the dump exits 2
              }),
              testing::ExitedWithCode(2), "SIGQUIT: quit\n\n(.|\n)*goroutine 1 \\[running\\]:");
}
