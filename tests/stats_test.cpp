// Scheduler statistics, dumps, GORT_SCHEDTRACE and GORT_TRACE (docs/api.md).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gort/gort.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {
// Waits (yielding) until the runtime has counted `n` exits; exits are
// counted on the scheduler side just after a fiber's last instruction.
void await_exited(std::uint64_t n) {
  for (int i = 0; i < 1'000'000 && gort::stats().exited < n; ++i) gort::yield();
}

// One fiber blocked in wait_group::wait until release(), which also waits
// for it to leave (it uses the object's members).
class gated_fiber {
 public:
  gated_fiber() {
    gate_.add();
    left_.add();
    gort::go([this] {
      gate_.wait();
      left_.done();
    });
  }
  void release() {
    gate_.done();
    left_.wait();
  }

 private:
  gort::wait_group gate_, left_;
};
}  // namespace

TEST(Stats, OutsideRunThrows) { EXPECT_THROW(gort::stats(), std::logic_error); }

TEST(Stats, CountsMatchAKnownWorkload) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [w] {
          gort::wait_group done;
          for (int i = 0; i < 100; ++i) {
            done.add();
            gort::go([&] { done.done(); });
          }
          done.wait();
          await_exited(100);
          gort::wait_group gate, parked, left;
          gate.add();
          for (int i = 0; i < 10; ++i) {
            parked.add();
            left.add();
            gort::go([&] {
              parked.done();
              gate.wait();
              left.done();
            });
          }
          parked.wait();
          // The 10 are parked (or about to); wait until all are counted.
          gort::sched_stats s;
          for (int i = 0; i < 1'000'000; ++i) {
            s = gort::stats();
            if (s.blocked_by_reason["sync.WaitGroup.Wait"] == 10) break;
            gort::yield();
          }
          EXPECT_EQ(s.workers, w);
          EXPECT_EQ(s.spawned, 111u);
          EXPECT_EQ(s.exited, 100u);
          EXPECT_EQ(s.live, 11u);
          EXPECT_EQ(s.blocked, 10u);
          EXPECT_EQ(s.blocked_by_reason["sync.WaitGroup.Wait"], 10u);
          ASSERT_EQ(s.per_worker.size(), w);
          std::uint64_t switches = 0, steals = 0, migrations = 0;
          for (const auto& pw : s.per_worker) {
            switches += pw.switches;
            steals += pw.steals;
            migrations += pw.migrations;
            EXPECT_LE(pw.steals, pw.steal_attempts);
            EXPECT_LE(pw.migrations, pw.switches);
          }
          EXPECT_EQ(switches, s.switches);
          EXPECT_EQ(steals, s.steals);
          EXPECT_EQ(migrations, s.migrations);
          if (w == 1) {
            EXPECT_EQ(s.migrations, 0u);  // nowhere else to have run
          }
          EXPECT_GE(s.switches, 111u);
          gate.done();
          left.wait();  // they use our locals: let them leave first
        },
        {.workers = w});
  });
}

namespace {
// From a fiber of a 2-worker runtime: bursts of 2000 fibers, each computing
// ~tens of µs (work that cannot be folded away) and yielding halfway, pile up
// on the spawning worker, so the other one must steal to help. On a loaded
// machine its thread may get no CPU during one burst, so bursts repeat (at
// most 200) until `seen()` holds.
template <class Seen>
void imbalanced_bursts(Seen seen) {
  std::atomic<unsigned long> sink{0};
  for (int burst = 0; burst < 200 && !seen(); ++burst) {
    gort::wait_group wg;
    for (int i = 0; i < 2000; ++i) {
      wg.add();
      gort::go([&] {
        volatile unsigned long x = 0;
        for (int half = 0; half < 2; ++half) {
          for (int k = 0; k < 10000; ++k) x = x * 31 + k;
          if (half == 0) gort::yield();  // to the queue's tail: may be stolen there
        }
        sink += x;
        wg.done();
      });
    }
    wg.wait();
  }
}
}  // namespace

TEST(Stats, StealsHappenUnderImbalance) {
  gort::run(
      [] {
        imbalanced_bursts([] { return gort::stats().steals > 0; });
        EXPECT_GT(gort::stats().steals, 0u);
      },
      {.workers = 2});
}

// A fiber that ran on one worker, yielded to the tail of its queue and was
// stolen there resumes on the other: a migration.
TEST(Stats, MigrationsCountFibersResumedElsewhere) {
  gort::run(
      [] {
        imbalanced_bursts([] { return gort::stats().migrations > 0; });
        const gort::sched_stats s = gort::stats();
        EXPECT_GT(s.migrations, 0u);
        EXPECT_LE(s.migrations, s.switches);
        auto j = nlohmann::json::parse(s.to_json());
        EXPECT_EQ(j["migrations"].get<std::uint64_t>(), s.migrations);
        EXPECT_EQ(j["per_worker"][0]["migrations"].get<std::uint64_t>() +
                      j["per_worker"][1]["migrations"].get<std::uint64_t>(),
                  s.migrations);
      },
      {.workers = 2});
}

TEST(Stats, ToJsonParses) {
  gort::run(
      [] {
        gated_fiber blocked;
        gort::yield();
        auto s = gort::stats();
        auto j = nlohmann::json::parse(s.to_json());
        EXPECT_EQ(j["workers"], 2);
        EXPECT_EQ(j["live"].get<std::size_t>(), s.live);
        EXPECT_TRUE(j["blocked_by_reason"].is_object());
        ASSERT_EQ(j["per_worker"].size(), 2u);
        EXPECT_TRUE(j["per_worker"][0].contains("busy_ns"));
        blocked.release();
      },
      {.workers = 2});
}

TEST(Stats, CallableFromForeignThread) {
  gort::run(
      [] {
        gort::sched_stats s;
        std::thread t([&] { s = gort::stats(); });
        t.join();
        EXPECT_EQ(s.workers, 2u);
        EXPECT_GE(s.live, 1u);
      },
      {.workers = 2});
}

TEST(Dump, ListsBlockedFibersWithReasonsAndCreators) {
  gort::run(
      [] {
        gated_fiber blocked;
        gort::go([] { gort::sleep_for(1h); });  // unwound at exit: uses nothing of ours
        for (int i = 0; i < 10000 && gort::stats().blocked < 2; ++i)
          gort::sleep_for(std::chrono::microseconds(500));
        std::ostringstream os;
        gort::dump_fibers(os);
        std::string d = os.str();
        EXPECT_NE(d.find("goroutine 1 [running"), std::string::npos) << d;
        EXPECT_NE(d.find("[sync.WaitGroup.Wait]:\n"), std::string::npos) << d;
        EXPECT_NE(d.find("[sleep]:\n"), std::string::npos) << d;
        EXPECT_NE(d.find("created by goroutine 1 at"), std::string::npos) << d;
        EXPECT_NE(d.find("stats_test.cpp:"), std::string::npos) << d;
        blocked.release();
      },
      {.workers = 1, .on_deadlock = gort::deadlock_policy::raise});
}

namespace {
// Death-test helpers for GORT_SCHEDTRACE: run `body` with stderr captured
// in a file, then replay it on the real stderr and return it.
template <class F>
std::string capture_stderr(F&& body) {
  std::string path = testing::TempDir() + "gort_schedtrace_" + std::to_string(getpid()) + ".txt";
  int file = ::open(path.c_str(), O_CREAT | O_TRUNC | O_RDWR, 0600);
  int saved = ::dup(2);
  ::dup2(file, 2);
  body(path);
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(file);
  std::ifstream in(path);
  std::string out(std::istreambuf_iterator<char>(in), {});
  ::unlink(path.c_str());
  std::fputs(out.c_str(), stderr);
  return out;
}

// The SCHED lines of `out`, as (stamp in ms, line). Exits 3 on a malformed
// stamp.
std::vector<std::pair<long, std::string>> sched_lines(const std::string& out) {
  std::vector<std::pair<long, std::string>> lines;
  for (std::size_t at = out.find("SCHED "); at != std::string::npos; at = out.find("SCHED ", at + 1)) {
    std::size_t end = 0;
    long ms = std::stol(out.substr(at + 6), &end);
    if (out.compare(at + 6 + end, 3, "ms:") != 0) {
      std::fprintf(stderr, "malformed SCHED stamp at offset %zu\n", at);
      std::exit(3);
    }
    lines.emplace_back(ms, out.substr(at, out.find('\n', at) - at));
  }
  return lines;
}

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "%s\n", why.c_str());
  std::exit(3);
}
}  // namespace

TEST(SchedtraceDeathTest, PrintsSchedLinesAtThePeriod) {
  gort_test::threadsafe_death_tests();
  constexpr long period_ms = 20;
  EXPECT_EXIT(
      {
        setenv("GORT_SCHEDTRACE", std::to_string(period_ms).c_str(), 1);
        // Run until two periodic lines are there (bounded: 10 s); no guess
        // at how many periods a busy machine fits into a fixed sleep.
        std::string out = capture_stderr([](const std::string& path) {
          auto count = [&path] {
            std::ifstream in(path);
            std::string text(std::istreambuf_iterator<char>(in), {});
            return sched_lines(text).size();
          };
          gort::run(
              [&] {
                auto give_up = std::chrono::steady_clock::now() + 10s;
                while (count() < 3 && std::chrono::steady_clock::now() < give_up) gort::sleep_for(5ms);
              },
              {.workers = 2});
        });
        // The start line, at least two periodic ones, the exit line. The
        // monitor prints its first line a period after the start, and each
        // next one only once a period has passed since the previous one (it
        // waits a full period between looks at the clock), so those are at
        // least a period apart; load can only make the gaps longer. The
        // exit line may come at any time.
        auto lines = sched_lines(out);
        if (lines.size() < 4) fail(std::to_string(lines.size()) + " SCHED lines, wanted at least 4");
        if (lines[0].first >= period_ms) fail("start line at " + std::to_string(lines[0].first) + "ms");
        if (lines[1].first < period_ms)
          fail("first periodic line at " + std::to_string(lines[1].first) + "ms");
        for (std::size_t i = 2; i + 1 < lines.size(); ++i) {
          if (lines[i].first - lines[i - 1].first < period_ms)
            fail("SCHED lines at " + std::to_string(lines[i - 1].first) + "ms and " +
                 std::to_string(lines[i].first) + "ms: less than the period apart");
        }
        if (lines.back().first < lines[lines.size() - 2].first)
          fail("the exit line comes before the last one");
        std::fflush(stderr);
        std::exit(0);
      },
      testing::ExitedWithCode(0),
      "SCHED [0-9]+ms: workers=2 idle=[0-9]+ spinning=[0-9]+ live=1 running=[0-9]+ runnable=[0-9]+ "
      "global=[0-9]+ runqueues=\\[[0-9]+ [0-9]+\\] switches=[0-9]+ steals=[0-9]+ threads=[0-9]+ "
      "handoffs=[0-9]+\n(.|\n)*SCHED");
}

// A program shorter than the period still prints two lines: one as run()
// starts, one as it ends (after the main fiber returned: nothing lives or
// runs then).
TEST(SchedtraceDeathTest, ShortProgramPrintsStartAndExitLines) {
  gort_test::threadsafe_death_tests();
  EXPECT_EXIT(
      {
        setenv("GORT_SCHEDTRACE", "1000", 1);
        for (unsigned workers : gort_test::k_worker_counts) {
          auto t0 = std::chrono::steady_clock::now();
          std::string out = capture_stderr(
              [&](const std::string&) { gort::run([] { gort::sleep_for(10ms); }, {.workers = workers}); });
          const long took_ms = long(
              std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
                  .count());
          auto lines = sched_lines(out);
          const std::string at = " (workers=" + std::to_string(workers) + ")";
          if (lines.size() != 2) fail(std::to_string(lines.size()) + " SCHED lines, wanted 2" + at);
          if (lines[0].first >= 10) fail("start line at " + std::to_string(lines[0].first) + "ms" + at);
          if (lines[1].first < 10 || lines[1].first > took_ms)
            fail("exit line at " + std::to_string(lines[1].first) + "ms, the run took " +
                 std::to_string(took_ms) + "ms" + at);
          const std::string w = "workers=" + std::to_string(workers) + " ";
          if (lines[0].second.find(w) == std::string::npos ||
              lines[0].second.find(" running=") == std::string::npos)
            fail("start line: " + lines[0].second + at);
          if (lines[1].second.find(w) == std::string::npos ||
              lines[1].second.find(" live=0 running=0 ") == std::string::npos)
            fail("exit line: " + lines[1].second + at);
        }
        std::fflush(stderr);
        std::exit(0);
      },
      testing::ExitedWithCode(0), "SCHED [0-9]+ms: workers=1 (.|\n)*SCHED [0-9]+ms: workers=4 ");
}

TEST(Stats, RunningCountsFibersOnAThreadNow) {
  gort_test::run_at_each_worker_count([](unsigned workers) {
    EXPECT_EQ(gort::stats().running, 1u);  // the caller
    gated_fiber blocked;
    for (int i = 0; i < 10000 && gort::stats().blocked < 1; ++i)
      gort::sleep_for(std::chrono::microseconds(100));
    ASSERT_EQ(gort::stats().blocked, 1u);
    EXPECT_EQ(gort::stats().running, 1u);  // a parked fiber does not run
    if (workers >= 2) {
      // A fiber computing on another worker while this one asks.
      std::atomic<bool> started{false}, stop{false};
      auto spinner = gort::spawn([&] {
        started = true;
        while (!stop.load()) {}
      });
      while (!started.load()) gort::yield();
      const gort::sched_stats s = gort::stats();
      stop = true;
      spinner.join();
      EXPECT_EQ(s.running, 2u);
      EXPECT_EQ(nlohmann::json::parse(s.to_json())["running"].get<std::size_t>(), 2u);
    }
    blocked.release();
  });
}

TEST(Schedtrace, RejectsBadPeriod) {
  gort_test::scoped_env bad("GORT_SCHEDTRACE", "often");
  try {
    gort::run([] {});
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("\"often\""), std::string::npos);
  }
}

// Tracing does not change the schedule (handoffs go on), so which workers
// run fibers is up to the scheduler: the trace has slices on exactly those.
TEST(Trace, FileParsesAndHasSlicesFromEveryWorkerThatRan) {
  std::string path = testing::TempDir() + "gort_trace_test.json";
  std::set<int> ran;
  {
    gort_test::scoped_env trace("GORT_TRACE", path.c_str());
    gort::run(
        [&] {
          gort::wait_group wg;
          for (int i = 0; i < 400; ++i) {
            wg.add();
            gort::go([&] {
              volatile unsigned long x = 0;
              for (int k = 0; k < 20000; ++k) x = x * 31 + k;
              gort::sleep_for(100us);
              wg.done();
            });
          }
          wg.wait();
          const auto s = gort::stats();
          for (int w = 0; w < 2; ++w)
            if (s.per_worker[w].switches > 0) ran.insert(w);
        },
        {.workers = 2});
  }
  ASSERT_FALSE(ran.empty());
  std::ifstream f(path);
  ASSERT_TRUE(f.good());
  auto j = nlohmann::json::parse(f);
  std::set<int> tids_with_slices;
  bool park = false, timer = false;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] == "X") tids_with_slices.insert(e["tid"].get<int>());
    if (e["ph"] == "i" && e["name"].get<std::string>().rfind("park: ", 0) == 0) park = true;
    if (e["ph"] == "i" && e["name"] == "timer wakeup") timer = true;
  }
  EXPECT_EQ(tids_with_slices, ran);
  EXPECT_TRUE(park);
  EXPECT_TRUE(timer);
  std::remove(path.c_str());
}

// The main fiber's slices are named by run()'s caller (this file), as every
// other fiber's by its go() call site.
TEST(Trace, MainFiberIsNamedByRunsCaller) {
  std::string path = testing::TempDir() + "gort_trace_main_test.json";
  int line = 0;
  {
    gort_test::scoped_env trace("GORT_TRACE", path.c_str());
    line = __LINE__, gort::run([] { gort::yield(); }, {.workers = 1});
  }
  std::ifstream f(path);
  ASSERT_TRUE(f.good());
  auto j = nlohmann::json::parse(f);
  const std::string want = "goroutine 1 (" + std::string(__FILE__) + ":" + std::to_string(line) + ")";
  std::set<std::string> main_names;
  for (const auto& e : j["traceEvents"]) {
    const auto name = e["name"].get<std::string>();
    if (e["ph"] == "X" && name.rfind("goroutine 1 (", 0) == 0) main_names.insert(name);
  }
  EXPECT_EQ(main_names, (std::set<std::string>{want}));
  std::remove(path.c_str());
}
