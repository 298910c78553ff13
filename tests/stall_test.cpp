// No fiber stalls the others: a fiber that blocks its OS thread, or computes
// without switching, keeps its thread but not its worker's queue. The
// monitor hands the worker to another thread once work waits (handoffs),
// stats and dumps show it, the thread limit holds, stall reports are
// printed, and a stuck fiber is alive for the deadlock check.
//
// Bounds on delays are generous (the machine is noisy; the stall benchmark
// in gort-bench measures the real figures), and every clock starts before
// the fibers that could hold the program up are started.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "net_util.hpp"
#include "runtime/machine.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

namespace {

constexpr auto k_bound = 150ms;  // a 10-20 ms wait may take this long, no longer

// Spins (never switching) until `stop` is set.
void spin_until(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_acquire)) {
  }
}

// Spins (never switching) for `d`.
void spin_for(clk::duration d) {
  const auto end = clk::now() + d;
  while (clk::now() < end) {
  }
}

// The process's voluntary context switches (sleeps of any of its threads)
// while `body` runs.
template <class F>
long voluntary_switches_during(F&& body) {
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  body();
  getrusage(RUSAGE_SELF, &after);
  return after.ru_nvcsw - before.ru_nvcsw;
}

gort::config cfg(unsigned workers) {
  gort::config c;
  c.workers = workers;
  c.on_deadlock = gort::deadlock_policy::raise;
  return c;
}

// The calling thread's nice value.
int own_nice() {
  errno = 0;
  int n = getpriority(PRIO_PROCESS, 0);
  return errno == 0 ? n : 0;
}

// The nice value of every thread of the process (/proc/self/task/*/stat,
// field 19; the fields after the command name start at field 3).
std::vector<int> thread_nices() {
  std::vector<int> out;
  DIR* d = opendir("/proc/self/task");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(std::string("/proc/self/task/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(in, line)) continue;  // the thread just exited
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string f;
    for (int i = 3; i <= 19 && fields >> f; ++i) {
      if (i == 19) out.push_back(std::stoi(f));
    }
  }
  closedir(d);
  return out;
}

}  // namespace

// Every worker's fiber sleeps 500 ms in the kernel; main's 10 ms sleep_for
// still ends in time, because the workers' queues (and timers) moved.
TEST(Stall, TimerFiresWhileEveryWorkerIsBlockedInTheKernel) {
  gort_test::for_each_worker_count([&](unsigned w) {
    std::atomic<int> blocked{0};
    clk::duration slept{};
    gort::sched_stats during;
    gort::run(
        [&] {
          const auto t0 = clk::now();
          for (unsigned i = 0; i < w; ++i)
            gort::go([&] {
              blocked.fetch_add(1);
              std::this_thread::sleep_for(500ms);
            });
          gort::sleep_for(10ms);
          slept = clk::now() - t0;
          during = gort::stats();
        },
        cfg(w));
    EXPECT_EQ(blocked.load(), int(w));
    EXPECT_GE(slept, 10ms);
    EXPECT_LE(slept, k_bound) << "main woke after "
                              << std::chrono::duration_cast<std::chrono::milliseconds>(slept).count() << " ms";
    EXPECT_GE(during.handoffs, 1u);
    EXPECT_GT(during.threads, w);
  });
}

// The same with fibers that compute without ever switching.
TEST(Stall, TimerFiresWhileEveryWorkerComputes) {
  gort_test::for_each_worker_count([&](unsigned w) {
    std::atomic<bool> stop{false};
    clk::duration slept{};
    gort::run(
        [&] {
          const auto t0 = clk::now();
          for (unsigned i = 0; i < w; ++i) gort::go([&] { spin_until(stop); });
          gort::sleep_for(20ms);
          slept = clk::now() - t0;
          stop.store(true, std::memory_order_release);
        },
        cfg(w));
    EXPECT_GE(slept, 20ms);
    EXPECT_LE(slept, k_bound) << "main woke after "
                              << std::chrono::duration_cast<std::chrono::milliseconds>(slept).count() << " ms";
  });
}

// A fiber that computes gives its worker and its thread's priority up: one
// spinning fiber per worker, and main ping-pongs with a partner behind
// them. A spinner whose worker is handed off (work waits behind it) runs at
// nice + 10 where the process may raise it back (root or RLIMIT_NICE;
// otherwise its priority stays); when the spinners and the ping-pong's
// thread together want more CPUs than there are, every spinner's worker is
// handed off, waiting work or not. Once they stop, every thread is back at
// its priority.
TEST(Stall, ComputingFibersGiveTheirPriorityUpUntilTheySwitch) {
  const int base = own_nice();
  const bool lowers = base < 19 && gort::detail::nice_restorable(base);
  const int lowered = lowers ? std::min(19, base + 10) : base;
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  gort_test::for_each_worker_count([&](unsigned w) {
    // Oversubscribed: every spinner; otherwise at least the one in front of main.
    const unsigned want = !lowers ? 0 : w + 1 > cpus ? w : 1;
    std::atomic<bool> stop{false};
    std::vector<std::atomic<int>> seen(w);
    for (auto& n : seen) n.store(base);
    std::uint64_t handoffs = 0;
    unsigned at_lowered = 0, elsewhere = 0;
    std::vector<int> after;
    gort::run(
        [&] {
          gort::wait_group spinners;
          for (unsigned i = 0; i < w; ++i) {
            spinners.add(1);
            gort::go([&, i] {
              while (!stop.load(std::memory_order_acquire)) seen[i].store(own_nice(), std::memory_order_relaxed);
              spinners.done();
            });
          }
          gort::chan<int> ping, pong;
          gort::go([&] {
            while (auto v = ping.recv()) pong.send(*v);
          });
          auto count = [&] {
            handoffs = gort::stats().handoffs;
            at_lowered = elsewhere = 0;
            for (auto& n : seen) {
              const int v = n.load();
              if (v == lowered)
                ++at_lowered;
              else if (v != base)
                ++elsewhere;
            }
            return handoffs >= 1 && at_lowered >= want;
          };
          const auto give_up = clk::now() + 20s;
          for (int i = 0; !(i % 100 == 0 && count()) && clk::now() < give_up; ++i) {
            ping.send(i);
            (void)pong.recv();
          }
          ping.close();
          stop.store(true, std::memory_order_release);
          spinners.wait();
          // A spinner's thread restores its priority on its scheduler
          // stack, just after the spinner's exit (which follows its done()).
          const auto restored_by = clk::now() + 20s;
          do {
            after = thread_nices();
            if (std::all_of(after.begin(), after.end(), [&](int n) { return n == base; })) break;
            gort::sleep_for(1ms);
          } while (clk::now() < restored_by);
        },
        cfg(w));
    if (lowers) {
      EXPECT_GE(at_lowered, want) << "spinners at nice " << lowered << ", " << w << " workers, " << cpus << " CPUs";
    } else {
      EXPECT_EQ(at_lowered, w);  // lowered == base: nobody's priority changed
    }
    EXPECT_EQ(elsewhere, 0u);
    EXPECT_GE(handoffs, 1u);
    for (int n : after) EXPECT_EQ(n, base) << "a thread kept a lowered priority";
    EXPECT_EQ(own_nice(), base);
  });
}

// Threads that gort starts from a thread whose fiber computes (a blocking()
// helper, a gort::thread) run at the priority the thread had before the
// monitor lowered it, not the lowered one they inherit.
TEST(Stall, ThreadsStartedByAComputingFiberDoNotInheritItsLowerPriority) {
  const int base = own_nice();
  const bool lowers = base < 19 && gort::detail::nice_restorable(base);
  const int lowered = lowers ? std::min(19, base + 10) : base;
  int stuck_nice = 0, helper_nice = 0;
  std::atomic<int> thread_nice{INT_MIN};
  gort::run(
      [&] {
        std::atomic<bool> done{false};
        gort::go([&] {
          // Spin until the monitor has moved the worker and lowered us.
          const auto give_up = clk::now() + 20s;
          while (own_nice() != lowered && clk::now() < give_up) {
          }
          stuck_nice = own_nice();
          gort::thread t([&] { thread_nice.store(own_nice()); });
          while (thread_nice.load() == INT_MIN) {  // no switch: still lowered
          }
          helper_nice = gort::blocking([] { return own_nice(); });  // started from here, then parks
          t.join();
          done.store(true);
        });
        // A due timer keeps work waiting behind the spinner.
        while (!done.load()) gort::sleep_for(1ms);
      },
      cfg(1));
  EXPECT_EQ(stuck_nice, lowered);
  EXPECT_EQ(thread_nice.load(), base);
  EXPECT_EQ(helper_nice, base);
  EXPECT_EQ(own_nice(), base);
}

// A ping-pong of 1,000 round trips completes while a fiber spins on the
// only worker.
TEST(Stall, PingPongRunsWhileTheOnlyWorkerSpins) {
  std::atomic<bool> stop{false};
  int rounds = 0;
  gort::run(
      [&] {
        gort::go([&] { spin_until(stop); });
        gort::chan<int> ping, pong;
        gort::go([&] {
          while (auto v = ping.recv()) pong.send(*v + 1);
        });
        for (int i = 0; i < 1000; ++i) {
          ping.send(i);
          if (pong.recv().value_or(-1) == i + 1) ++rounds;
        }
        ping.close();
        stop.store(true, std::memory_order_release);
      },
      cfg(1));
  EXPECT_EQ(rounds, 1000);
}

// A socket echo is served while every worker's fiber is blocked in the
// kernel (the network is polled by the monitor or the new threads).
TEST(Stall, SocketEchoServedWhileEveryWorkerIsBlocked) {
  gort_test::for_each_worker_count([&](unsigned w) {
    std::string echoed;
    clk::duration took{};
    gort::run(
        [&] {
          gort::net::listener l = gort::net::listen("127.0.0.1:0");
          gort::go([&] {
            gort::net::conn c = l.accept();
            char buf[64];
            while (std::size_t n = c.read(std::span<char>(buf))) c.write(std::string_view(buf, n));
          });
          gort::net::conn c = gort::net::dial("127.0.0.1:" + std::to_string(l.port()));
          const auto t0 = clk::now();
          for (unsigned i = 0; i < w; ++i) gort::go([] { std::this_thread::sleep_for(400ms); });
          gort::yield();  // let the blockers take the workers
          c.write(std::string_view("hello"));
          echoed = gort_test::read_n(c, 5);
          took = clk::now() - t0;
          c.close();
        },
        cfg(w));
    EXPECT_EQ(echoed, "hello");
    EXPECT_LE(took, 300ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  });
}

// A fiber stuck in an OS call is alive: main waiting for it is no deadlock.
TEST(Stall, FiberInAnOsCallIsNoDeadlock) {
  gort_test::for_each_worker_count([&](unsigned w) {
    int got = 0;
    EXPECT_NO_THROW(gort::run(
        [&] {
          gort::chan<int> done;
          gort::go([&] {
            std::this_thread::sleep_for(300ms);
            done.send(42);
          });
          got = done.recv().value_or(0);
        },
        cfg(w)));
    EXPECT_EQ(got, 42);
  });
}

// A program that never stalls hands nothing off and starts no extra thread
// (the count starts from the run's own: blocking() helpers of an earlier
// test in this process may still be waiting for work).
TEST(Stall, NoHandoffsWithoutStalls) {
  gort_test::for_each_worker_count([](unsigned w) {
    gort::sched_stats s;
    unsigned threads_at_start = 0;
    gort::run(
        [&] {
          threads_at_start = gort::stats().threads;
          gort::chan<int> c;
          gort::wait_group wg;
          for (int p = 0; p < 8; ++p) {
            wg.add(1);
            gort::go([&] {
              for (int i = 0; i < 2000; ++i) c.send(i);
              wg.done();
            });
          }
          gort::go([&] {
            wg.wait();
            c.close();
          });
          long sum = 0;
          for (int v : c) sum += v;
          EXPECT_EQ(sum, 8L * 1999 * 2000 / 2);
          s = gort::stats();
        },
        cfg(w));
    EXPECT_EQ(s.handoffs, 0u);
    EXPECT_GE(threads_at_start, w);
    EXPECT_EQ(s.threads, threads_at_start);
    std::uint64_t per_worker = 0;
    for (const auto& pw : s.per_worker) per_worker += pw.handoffs;
    EXPECT_EQ(per_worker, 0u);
  });
}

// A stuck fiber shows in dumps as running, with how long it has held its
// thread; the JSON carries threads and handoffs.
TEST(Stall, DumpShowsTheStuckFiberRunning) {
  std::string dump;
  std::string json;
  std::atomic<bool> stop{false};
  gort::run(
      [&] {
        gort::go([&] { spin_until(stop); });
        // Wait (parked) until the monitor has handed the worker off.
        auto give_up = clk::now() + 10s;
        while (gort::stats().handoffs == 0 && clk::now() < give_up) gort::sleep_for(1ms);
        gort::sleep_for(20ms);
        std::ostringstream os;
        gort::dump_fibers(os);
        dump = os.str();
        json = gort::stats().to_json();
        stop.store(true, std::memory_order_release);
      },
      cfg(1));
  EXPECT_NE(dump.find("goroutine 2 [running, "), std::string::npos) << dump;
  EXPECT_NE(dump.find(" without switching]:"), std::string::npos) << dump;
  EXPECT_NE(json.find("\"threads\":"), std::string::npos) << json;
  EXPECT_NE(json.find("\"handoffs\":1"), std::string::npos) << json;
}

// An idle runtime costs nothing: the monitor sleeps without a deadline while
// every worker is idle (here waiting for a timer 300 ms away).
TEST(Stall, IdleRuntimeUsesNoCpu) {
  gort::run(
      [] {
        gort::sleep_for(50ms);  // let start-up settle
        const auto before = gort_test::process_cpu();
        gort::sleep_for(300ms);
        const auto used = gort_test::process_cpu() - before;
        EXPECT_LT(used, 30ms) << std::chrono::duration_cast<std::chrono::microseconds>(used).count() << " us";
      },
      cfg(2));
}

// A fiber that computes with nothing waiting for its worker is looked at, not
// polled: the monitor backs off to one look a millisecond (at 20 us a look
// it would wake 20,000 times in these 400 ms). The process's voluntary
// context switches count its wake-ups, and with more than one worker the
// idle poller's (one a millisecond: it watches the busy worker's runnext).
TEST(Stall, MonitorBacksOffWhileAFiberComputes) {
  gort_test::for_each_worker_count([](unsigned w) {
    long switches = -1;
    gort::run(
        [&] {
          gort::sleep_for(20ms);  // let start-up settle
          switches = voluntary_switches_during([] {
            gort::wait_group wg;
            wg.add(1);
            gort::go([&] {
              spin_for(400ms);
              wg.done();
            });
            wg.wait();
          });
        },
        cfg(w));
    // The monitor: 50 looks in the first millisecond, then one a millisecond
    // (~460); the idle poller ~400 more. Without the back-off: over 4,000.
    EXPECT_GE(switches, 0) << "workers=" << w;
    EXPECT_LT(switches, 2000) << "workers=" << w;
  });
}

// A worker that idles between short bursts of work (a server between
// requests) wakes the monitor each time it leaves idle; the monitor must not
// then start over at 20 us a look (on the core the worker may share). 1
// worker, so that every voluntary context switch is the worker's idle wait
// or the monitor's: about 3 a burst of 1 ms; about 12 when each burst restarted
// the 20 us looks (which the kernel's timer slack stretches to ~70 us).
TEST(Stall, MonitorDoesNotRestartItsFastLooksAfterEachShortIdleSpell) {
  constexpr int bursts = 200;
  long switches = -1;
  gort::run(
      [&] {
        gort::sleep_for(20ms);  // let start-up settle
        switches = voluntary_switches_during([] {
          for (int i = 0; i < bursts; ++i) {
            spin_for(1ms);
            gort::sleep_for(200us);
          }
        });
      },
      cfg(1));
  EXPECT_GE(switches, 0);
  EXPECT_LT(switches, 6 * bursts);
}

TEST(Stall, MaxThreadsBelowWorkersIsRejected) {
  try {
    gort::run([] {}, {.workers = 4, .max_threads = 2});
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("max_threads = 2"), std::string::npos) << e.what();
  }
}

TEST(StallDeathTest, ExceedingMaxThreadsIsFatal) {
  gort_test::threadsafe_death_tests();
  EXPECT_EXIT(gort::run(
                  [] {
                    gort::go([] { std::this_thread::sleep_for(2s); });
                    gort::sleep_for(10ms);  // needs the worker back: a second thread
                  },
                  {.workers = 1, .max_threads = 1}),
              testing::ExitedWithCode(2),
              "runtime: program exceeds 1-thread limit\nfatal error: thread exhaustion\n");
}

TEST(StallDeathTest, GortMaxthreadsIsTheLimit) {
  gort_test::threadsafe_death_tests();
  EXPECT_EXIT(
      {
        setenv("GORT_MAXTHREADS", "2", 1);
        gort::run(
            [] {
              for (int i = 0; i < 2; ++i) gort::go([] { std::this_thread::sleep_for(2s); });
              gort::sleep_for(10ms);
            },
            {.workers = 2});
      },
      testing::ExitedWithCode(2), "runtime: program exceeds 2-thread limit\nfatal error: thread exhaustion\n");
}

// A death-test body: main runs `body` beside fiber 2, which spins on the
// only worker until body returns; then the process exits 0 (the reports on
// stderr are what the death test reads).
template <class F>
[[noreturn]] void beside_a_spinner(F body, gort::config c) {
  std::atomic<bool> stop{false};
  c.workers = 1;
  gort::run(
      [&] {
        gort::go([&] { spin_until(stop); });
        body();
        stop.store(true, std::memory_order_release);
      },
      c);
  std::exit(0);
}

// One report per stall, while the fiber is still stuck, in Go's format:
// here after its worker moved (main's timer fell due at 10 ms; main waits
// for the handoff, then sleeps past the report's threshold).
TEST(StallDeathTest, StallReportNamesTheFiber) {
  gort_test::threadsafe_death_tests();
  EXPECT_EXIT(beside_a_spinner(
                  [] {
                    gort::sleep_for(10ms);
                    while (gort::stats().handoffs == 0) gort::sleep_for(1ms);
                    gort::sleep_for(400ms);
                  },
                  {.stall_report = 300ms}),
              testing::ExitedWithCode(0),
              "gort: stall: goroutine 2 has run [0-9]+ ms without switching; its worker's queue moved to "
              "another thread\ngoroutine 2 \\[running\\]:\n(.|\n)*created by goroutine 1 at "
              "[^\n]*stall_test.cpp:[0-9]+\n");
}

// A stall with nothing else waiting is reported too (and its worker stays).
TEST(StallDeathTest, StallReportWithNothingWaiting) {
  gort_test::threadsafe_death_tests();
  EXPECT_EXIT(beside_a_spinner([] { gort::sleep_for(150ms); }, {.stall_report = 40ms}),
              testing::ExitedWithCode(0),
              "gort: stall: goroutine 2 has run [0-9]+ ms without switching; nothing else is waiting for "
              "its worker\ngoroutine 2 \\[running\\]:\n");
}

TEST(StallDeathTest, GortStallreportTurnsReportsOn) {
  gort_test::threadsafe_death_tests();
  EXPECT_EXIT(
      {
        setenv("GORT_STALLREPORT", "30", 1);
        beside_a_spinner([] { gort::sleep_for(120ms); }, {});
      },
      testing::ExitedWithCode(0), "gort: stall: goroutine 2 has run [0-9]+ ms without switching");
}

// Hundreds of fibers that randomly compute, block in OS calls, and park on
// channels and mutexes: every value is accounted for, at 1, 2 and 4 workers.
TEST(StallStress, MixedStallsLoseNothing) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  constexpr int k_fibers = 60, k_steps = 20;
#else
  constexpr int k_fibers = 300, k_steps = 30;
#endif
  gort_test::for_each_worker_count([&](unsigned w) {
    long received = 0, sent = 0, counter = 0, locked_ops = 0;
    gort::run(
        [&] {
          gort::chan<long> values(16);
          gort::mutex mu;
          long guarded = 0;
          gort::wait_group wg;
          std::atomic<long> total_sent{0}, total_locks{0};
          for (int f = 0; f < k_fibers; ++f) {
            wg.add(1);
            gort::go([&, f] {
              std::mt19937_64 rng(seed * 1000003 + std::uint64_t(f));
              for (int s = 0; s < k_steps; ++s) {
                switch (rng() % 4) {
                  case 0:  // compute without switching, up to ~2 ms
                    spin_for(std::chrono::microseconds(rng() % 2000));
                    break;
                  case 1:  // block the thread in the kernel, up to 3 ms
                    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
                    break;
                  case 2:
                    values.send(long(f) * k_steps + s);
                    total_sent.fetch_add(long(f) * k_steps + s);
                    break;
                  default: {
                    std::lock_guard g(mu);
                    ++guarded;
                    total_locks.fetch_add(1);
                    if (rng() % 8 == 0) std::this_thread::sleep_for(200us);  // hold it while blocked
                  }
                }
              }
              wg.done();
            });
          }
          gort::go([&] {
            wg.wait();
            values.close();
          });
          for (long v : values) received += v;
          sent = total_sent.load();
          locked_ops = total_locks.load();
          std::lock_guard g(mu);
          counter = guarded;
        },
        cfg(w));
    EXPECT_EQ(received, sent);
    EXPECT_EQ(counter, locked_ops);
    EXPECT_GT(counter, 0);
  });
}

// Under GORT_SCHED_SEED nothing is handed off (a handoff would make the
// seeded schedule irreproducible): main's timer waits for the spinner.
TEST(Stall, NoHandoffsUnderASeededSchedule) {
  gort_test::scoped_env seed("GORT_SCHED_SEED", "7");
  gort::sched_stats s;
  clk::duration slept{};
  gort::run(
      [&] {
        const auto t0 = clk::now();
        gort::go([] { spin_for(150ms); });
        gort::sleep_for(10ms);
        slept = clk::now() - t0;
        s = gort::stats();
      },
      cfg(1));
  EXPECT_EQ(s.handoffs, 0u);
  EXPECT_GE(slept, 150ms);
}

// main returning while a fiber is stuck in an OS call: run() waits for the
// call to end (as for any running fiber), then returns normally.
TEST(Stall, RunWaitsForAFiberStuckInAnOsCallAtExit) {
  gort_test::for_each_worker_count([](unsigned w) {
    std::atomic<bool> finished{false};
    const auto t0 = clk::now();
    gort::run(
        [&] {
          gort::go([&] {
            std::this_thread::sleep_for(200ms);
            finished.store(true);
          });
          gort::sleep_for(5ms);  // the fiber is in its sleep
        },
        cfg(w));
    EXPECT_TRUE(finished.load());
    EXPECT_GE(clk::now() - t0, 200ms);
  });
}
