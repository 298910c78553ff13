// Call stacks in reports (docs/api.md, "Call stacks"): the user's frames by
// name, innermost first, with file:line; gort's and the C++ library's
// frames hidden unless GORT_TRACEBACK=system; the user's line where the C++
// library took the blocking call's location (std::lock_guard); panics at
// the throw; SIGQUIT inherited as ignored; fibers that migrated; folding of
// repeated stacks; the duration formatter; and dumps racing thousands of
// fibers that park and wake.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <cctype>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "runtime/sanitizer.hpp"
#include "runtime/traceback.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using gort_test::threadsafe_death_tests;

namespace {

// Runs `fn` under the raise policy and returns the deadlock report.
template <class F>
std::string deadlock_report_of(F fn, unsigned workers) {
  try {
    gort::run(fn, {.workers = workers, .on_deadlock = gort::deadlock_policy::raise});
  } catch (const gort::deadlock_error& e) {
    return e.what();
  }
  return {};
}

// The "function\n\tfile:line" pair of a frame, as a regex (file: this one).
std::string frame_re(const std::string& function, int line) {
  return "(\\(anonymous namespace\\)::)?" + function +
         "\n\t[^\n]*traceback_test\\.cpp:" + std::to_string(line) + "\n";
}

bool contains_re(const std::string& s, const std::string& re) { return std::regex_search(s, std::regex(re)); }
// Does a `[running...]` block of `report` start with a frame naming `fn`?
// Line by line, as ids_named (a dump of thousands of fibers is too long for
// std::regex's recursion).
bool running_in(const std::string& report, const std::string& fn) {
  std::istringstream lines(report);
  bool after_running_header = false;
  for (std::string line; std::getline(lines, line);) {
    if (after_running_header && line.find(fn) != std::string::npos) return true;
    after_running_header = line.rfind("goroutine ", 0) == 0 && line.find(" [running") != std::string::npos &&
                           line.size() >= 2 && line.compare(line.size() - 2, 2, "]:") == 0;
  }
  return false;
}

// The lines of `report` that name a function (not indented, not a header).
std::vector<std::string> function_lines(const std::string& report) {
  std::vector<std::string> out;
  std::istringstream in(report);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '\t' || line.rfind("goroutine ", 0) == 0 ||
        line.rfind("created by", 0) == 0 || line.rfind("fatal error", 0) == 0)
      continue;
    out.push_back(line);
  }
  return out;
}

// ---- a chain of named calls ------------------------------------------------
int g_inner_line = 0, g_middle_line = 0, g_outer_line = 0;

// Not inlined, not tail calls (the asm after each call): each keeps its frame.
__attribute__((noinline)) void inner_wait(gort::chan<int>& never) {
  g_inner_line = __LINE__ + 1;
  never.recv();
  asm volatile("");
}
__attribute__((noinline)) void middle_wait(gort::chan<int>& never) {
  g_middle_line = __LINE__ + 1;
  inner_wait(never);
  asm volatile("");
}
__attribute__((noinline)) void outer_wait(gort::chan<int>& never) {
  g_outer_line = __LINE__ + 1;
  middle_wait(never);
  asm volatile("");
}

}  // namespace

TEST(Traceback, DeadlockShowsUserFramesInnermostFirstWithLines) {
  gort_test::for_each_worker_count([](unsigned w) {
    std::string r = deadlock_report_of(
        [] {
          gort::chan<int> never;
          gort::go([&] { outer_wait(never); });
          gort::select();
        },
        w);
    // The fiber's block starts with the user's innermost frame: gort's own
    // (park, the channel) are hidden.
    const std::string chain = "\\[chan receive\\]:\n" +
                              frame_re("inner_wait\\(gort::chan<int>&\\)", g_inner_line) +
                              frame_re("middle_wait\\(gort::chan<int>&\\)", g_middle_line) +
                              frame_re("outer_wait\\(gort::chan<int>&\\)", g_outer_line);
    EXPECT_TRUE(contains_re(r, chain)) << r;
    // main's lambda ends in a tail call: its one line is where it blocked.
    EXPECT_TRUE(contains_re(
        r, "goroutine 1 \\[select \\(no cases\\)\\]:\n([^\t\n]+\n)?\t[^\n]*traceback_test\\.cpp:[0-9]+\n"))
        << r;
  });
}

TEST(Traceback, SystemFramesHiddenByDefaultShownWithGortTracebackSystem) {
  auto report = [] {
    return deadlock_report_of(
        [] {
          gort::chan<int> never;
          gort::go([&] { outer_wait(never); });
          gort::select();
        },
        2);
  };
  std::string user = report();
  for (const std::string& f : function_lines(user)) {
    EXPECT_EQ(f.rfind("gort::", 0), std::string::npos) << f << "\n" << user;
    EXPECT_EQ(f.rfind("std::", 0), std::string::npos) << f << "\n" << user;
  }
  gort_test::scoped_env system("GORT_TRACEBACK", "system");
  std::string all = report();
  // gort's park, with its file and line (the whole park runs in one frame).
  EXPECT_TRUE(contains_re(all, "\ngort::detail::machine::park_current\\([^\n]*\n\t[^\n]*machine\\.cpp:[0-9]+\n")) << all;
  EXPECT_TRUE(contains_re(all, "\ngort::detail::fiber_entry_\\(")) << all;
  // The user's frames are still there, in the same order.
  EXPECT_TRUE(contains_re(all, frame_re("inner_wait\\(gort::chan<int>&\\)", g_inner_line) +
                                   frame_re("middle_wait\\(gort::chan<int>&\\)", g_middle_line)))
      << all;
}

// ---- std::lock_guard: the location is the user's ------------------------------
namespace {
gort::mutex g_a, g_b;
int g_ab_line = 0, g_ba_line = 0;

__attribute__((noinline)) void lock_a_then_b(gort::wait_group& both) {
  std::lock_guard la(g_a);
  both.done();
  both.wait();
  g_ab_line = __LINE__ + 1;
  std::lock_guard lb(g_b);
  asm volatile("");
}
__attribute__((noinline)) void lock_b_then_a(gort::wait_group& both) {
  std::lock_guard lb(g_b);
  both.done();
  both.wait();
  g_ba_line = __LINE__ + 1;
  std::lock_guard la(g_a);
  asm volatile("");
}
}  // namespace

TEST(Traceback, LockGuardDeadlockIsReportedAtTheUsersLines) {
  gort_test::for_each_worker_count([](unsigned w) {
    std::string r = deadlock_report_of(
        [] {
          gort::wait_group both, done;
          both.add(2);
          done.add(2);
          gort::go([&] { lock_a_then_b(both), done.done(); });
          gort::go([&] { lock_b_then_a(both), done.done(); });
          done.wait();
        },
        w);
    // Each fiber's block starts with its user frame at the lock_guard line,
    // not with the C++ library's header where the lock was called.
    EXPECT_TRUE(contains_re(
        r, "\\[sync.Mutex.Lock\\]:\n" + frame_re("lock_a_then_b\\(gort::wait_group&\\)", g_ab_line)))
        << r;
    EXPECT_TRUE(contains_re(
        r, "\\[sync.Mutex.Lock\\]:\n" + frame_re("lock_b_then_a\\(gort::wait_group&\\)", g_ba_line)))
        << r;
    EXPECT_TRUE(contains_re(r, "\theld by goroutine [0-9]+\n")) << r;
    EXPECT_EQ(r.find("std_mutex.h"), std::string::npos) << r;
    EXPECT_EQ(r.find("/c++/"), std::string::npos) << r;
  });
}

// ---- panics ------------------------------------------------------------------
namespace {
int g_throw_line = 0;
__attribute__((noinline)) void parse_config(int bad) {
  g_throw_line = __LINE__ + 1;
  if (bad) throw std::runtime_error("bad config");
  asm volatile("");
}
__attribute__((noinline)) void load_settings(int bad) {
  parse_config(bad);
  asm volatile("");
}
}  // namespace

TEST(TracebackDeathTest, PanicShowsTheNamedFunctionAtTheThrow) {
  threadsafe_death_tests();
  EXPECT_EXIT(
      gort::run(
          [] {
            gort::go([] { load_settings(1); });
            gort::sleep_for(10s);
          },
          {.workers = 2}),
      testing::ExitedWithCode(2),
      "panic: bad config\n\ngoroutine [0-9]+ \\[running\\]:\n[^\n]*parse_config\\(int\\)[^\n]*\n\t[^\n]*\n"
      "[^\n]*load_settings\\(int\\)\n\t[^\n]*traceback_test.cpp:[0-9]+\n");
}

// ---- SIGQUIT -----------------------------------------------------------------
namespace {
__attribute__((noinline)) void hold_and_wait(gort::mutex& m, gort::chan<int>& never) {
  std::lock_guard l(m);
  never.recv();
  asm volatile("");
}
__attribute__((noinline)) void wait_for_lock(gort::mutex& m) {
  std::lock_guard l(m);
  asm volatile("");
}
}  // namespace

// Started in the background by a shell, a program inherits SIGQUIT as
// ignored: gort installs its dump anyway (only the program's own handler
// stops it). Fibers by id, main first, with stacks and the lock holder.
TEST(TracebackDeathTest, SigquitInheritedAsIgnoredStillDumps) {
  threadsafe_death_tests();
  EXPECT_EXIT(
      {
        signal(SIGQUIT, SIG_IGN);
        gort::run(
            [] {
              static gort::mutex m;
              static gort::chan<int> never;
              gort::go([] { hold_and_wait(m, never); });
              gort_test::wait_blocked("chan receive", 1);
              gort::go([] { wait_for_lock(m); });
              gort_test::wait_blocked("sync.Mutex.Lock", 1);
              raise(SIGQUIT);
              gort::sleep_for(20s);
            },
            {.workers = 2});
      },
      testing::ExitedWithCode(2),
      "SIGQUIT: quit\n\ngoroutine 1 \\[[^\n]*\n(.|\n)*goroutine 2 \\[chan receive\\]:\n[^\n]*hold_and_wait\\("
      "(.|\n)*goroutine [0-9]+ "
      "\\[sync.Mutex.Lock\\]:\n[^\n]*wait_for_lock\\(gort::mutex&\\)\n\t[^\n]*traceback_test."
      "cpp:[0-9]+\n(.|\n)*\theld by goroutine 2\n");
}

// ---- a fiber that migrated -----------------------------------------------------
namespace {
// Not inlined: the compiler may not reuse a thread's identity across a
// switch (pthread_self is declared const, so std::this_thread::get_id may be).
__attribute__((noinline)) long thread_id() { return syscall(SYS_gettid); }
__attribute__((noinline)) void park_in_named_function(gort::chan<int>& c) {
  c.recv();
  asm volatile("");
}
}  // namespace

// Bursts of fibers that compute, yield to their queue's tail and compute
// again on two workers: the idle worker steals, so some fiber resumes on
// another thread than it yielded on (bursts repeat until one does, as a
// loaded machine may run a whole burst on one thread). The first such fiber
// parks in a named function; its saved context, from the other worker,
// still unwinds.
TEST(Traceback, DumpOfAFiberThatMigrated) {
  gort::run(
      [] {
        std::atomic<bool> claimed{false};
        std::atomic<std::uint64_t> moved_id{0};
        std::atomic<unsigned long> sink{0};
        gort::chan<int> last;
        for (int burst = 0; burst < 200 && !claimed.load(); ++burst) {
          gort::wait_group wg;
          for (int i = 0; i < 2000; ++i) {
            wg.add();
            gort::go([&] {
              volatile unsigned long x = 0;
              for (int k = 0; k < 10000; ++k) x = x * 31 + k;
              const long before = thread_id();
              gort::yield();
              const bool mine = thread_id() != before && !claimed.exchange(true);
              if (mine) moved_id.store(gort::fiber_id());
              for (int k = 0; k < 10000; ++k) x = x * 31 + k;
              sink += x;
              wg.done();
              if (mine) park_in_named_function(last);
            });
          }
          wg.wait();
        }
        std::string d;
        if (claimed.load()) {
          gort_test::wait_blocked("chan receive", 1);
          std::ostringstream os;
          gort::dump_fibers(os);
          d = os.str();
        }
        last.close();
        ASSERT_TRUE(claimed.load()) << "no fiber ever ran on another thread";
        EXPECT_TRUE(
            contains_re(d, "goroutine " + std::to_string(moved_id.load()) +
                               " \\[chan receive\\]:\n[^\n]*park_in_named_function\\(gort::chan<int>&\\)\n"
                               "\t[^\n]*traceback_test.cpp:[0-9]+\n"))
            << d;
      },
      {.workers = 2});
}

// ---- running fibers, sampled on their own threads ----------------------------
namespace {
// Computes, never switching, until `stop` is set (each check is a call, so
// the loop keeps this frame).
__attribute__((noinline)) void spin_in_named_function(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_acquire)) {
  }
  asm volatile("");
}

// Computes until `stop` is set, yielding between rounds: running or runnable
// when a dump looks, and switching while one samples it.
__attribute__((noinline)) void compute_and_yield(const std::atomic<bool>& stop, std::atomic<std::uint64_t>& sink) {
  for (std::uint64_t r = 0; !stop.load(std::memory_order_acquire); ++r) {
    volatile std::uint64_t x = r;
    for (int k = 0; k < 2000; ++k) x = x * 31 + std::uint64_t(k);
    sink.fetch_add(x, std::memory_order_relaxed);
    gort::yield();
  }
  asm volatile("");
}
}  // namespace

// A stall report samples the stuck fiber on its thread: the function it is
// stuck in is named, with its line.
TEST(TracebackDeathTest, StallReportShowsTheStuckFunction) {
  threadsafe_death_tests();
  EXPECT_EXIT(
      {
        std::atomic<bool> stop{false};
        gort::run(
            [&] {
              gort::go([&] { spin_in_named_function(stop); });
              gort::sleep_for(300ms);
              stop.store(true, std::memory_order_release);
            },
            {.workers = 2, .stall_report = 40ms});
        std::exit(0);
      },
      testing::ExitedWithCode(0),
      "gort: stall: goroutine 2 has run [0-9]+ ms without switching[^\n]*\ngoroutine 2 \\[running[^\n]*\\]:\n"
      "[^\n]*spin_in_named_function\\(std::atomic<bool> const&\\)\n\t[^\n]*traceback_test.cpp:[0-9]+\n");
}

// dump_fibers from a fiber: another fiber computing on another worker is
// sampled there (a signal to its thread), and named where it computes.
TEST(Traceback, DumpSamplesAFiberRunningElsewhere) {
  for (unsigned w : {2u, 4u}) {
    SCOPED_TRACE("workers=" + std::to_string(w));
    // Outside run: the spinner may still read it after the main fiber, whose
    // stack goes back to the pool when it returns, has ended.
    std::atomic<bool> stop{false};
    gort::run(
        [&] {
          gort::go([&] { spin_in_named_function(stop); });
          std::string d;
          // Until the spinner is running (it may not have started yet).
          for (int i = 0; i < 2000 && d.find("spin_in_named_function") == std::string::npos; ++i) {
            std::ostringstream os;
            gort::dump_fibers(os);
            d = os.str();
            if (d.find("spin_in_named_function") == std::string::npos) gort::sleep_for(1ms);
          }
          stop.store(true, std::memory_order_release);
          EXPECT_TRUE(contains_re(d, "goroutine 2 \\[running[^\n]*\\]:\n[^\n]*spin_in_named_function\\(std::atomic<bool> "
                                     "const&\\)\n\t[^\n]*traceback_test.cpp:[0-9]+\n"))
              << d;
          // The dumping fiber itself, taken in place: gort::dump_fibers' caller.
          EXPECT_TRUE(contains_re(d, "goroutine 1 \\[running[^\n]*\\]:\n[^\n]*TestBody[^\n]*\n\t[^\n]*traceback_test.cpp:"))
              << d;
        },
        {.workers = w});
  }
}

// ---- deep stacks -------------------------------------------------------------
namespace {
__attribute__((noinline)) int recurse_then_park(int depth, gort::chan<int>& c) {
  if (depth == 0) return c.recv().value_or(0);
  const int r = recurse_then_park(depth - 1, c);
  asm volatile("");
  return r + 1;
}
}  // namespace

// Past 100 frames a stack is cut as Go cuts it.
TEST(Traceback, DeepStacksAreCutAtAHundredFrames) {
  gort::run(
      [] {
        gort::chan<int> never;
        gort::go([&] { recurse_then_park(150, never); });
        gort_test::wait_blocked("chan receive", 1);
        std::ostringstream os;
        gort::dump_fibers(os);
        never.close();
        const std::string d = os.str();
        const std::size_t at = d.find("goroutine 2 [chan receive]:\n");
        ASSERT_NE(at, std::string::npos) << d;
        const std::string block = d.substr(at, d.find("\n\n", at) - at);
        std::size_t frames = 0;
        for (std::size_t p = 0; (p = block.find("recurse_then_park(int, gort::chan<int>&)\n\t", p)) != std::string::npos; ++p)
          ++frames;
        EXPECT_EQ(frames, 100u) << block;
        EXPECT_NE(block.find("\n...additional frames elided...\n"), std::string::npos) << block;
        EXPECT_NE(block.find("\ncreated by goroutine 1 at "), std::string::npos) << block;
      },
      {.workers = 2});
}

// ---- many fibers with one stack --------------------------------------------------
namespace {
// Every goroutine id a report names: in its own block or in a folded list.
// Line by line: a folded list of thousands of ids is one long line, which
// std::regex would match by recursion deep enough to overflow the stack.
std::multiset<std::uint64_t> ids_named(const std::string& report) {
  std::multiset<std::uint64_t> ids;
  std::istringstream lines(report);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("goroutine ", 0) == 0) {
      const std::size_t digits = line.find_first_not_of("0123456789", 10);
      if (digits != 10 && digits != std::string::npos && line.compare(digits, 2, " [") == 0)
        ids.insert(std::stoull(line.substr(10, digits - 10)));
      continue;
    }
    const std::size_t more = line.find(" more goroutines ");
    const std::size_t colon = line.rfind(": ");
    if (line.empty() || !std::isdigit(static_cast<unsigned char>(line[0])) || more == std::string::npos ||
        colon == std::string::npos || line.find_first_not_of("0123456789") != more)
      continue;
    std::istringstream in(line.substr(colon + 2));
    for (std::string range; std::getline(in, range, ',');) {
      const auto dash = range.find('-');
      const std::uint64_t lo = std::stoull(range.substr(0, dash));
      const std::uint64_t hi = dash == std::string::npos ? lo : std::stoull(range.substr(dash + 1));
      for (std::uint64_t id = lo; id <= hi; ++id) ids.insert(id);
    }
  }
  return ids;
}
}  // namespace

TEST(Traceback, RepeatedStacksAreFoldedNeverDropped) {
  gort::run(
      [] {
        constexpr int k_fibers = 50;
        gort::chan<int> never;
        for (int i = 0; i < k_fibers; ++i) gort::go([&] { park_in_named_function(never); });
        gort_test::wait_blocked("chan receive", k_fibers);
        std::ostringstream os;
        gort::dump_fibers(os);
        const std::string d = os.str();
        // Five blocks in full, then one line for the other 45.
        EXPECT_TRUE(contains_re(
            d, "\n45 more goroutines \\[chan receive\\] with the same stack as goroutine [0-9]+: "))
            << d;
        std::multiset<std::uint64_t> ids = ids_named(d);
        EXPECT_EQ(ids.size(), std::size_t(k_fibers + 1)) << d;  // and main
        EXPECT_EQ(std::set<std::uint64_t>(ids.begin(), ids.end()).size(), ids.size()) << d;
        never.close();
      },
      {.workers = 2});
}

// ---- the duration formatter --------------------------------------------------
TEST(Traceback, BlockedForAMinuteOrMoreSaysSo) {
  using gort::detail::block_status;
  using gort::detail::wait_duration_text;
  constexpr std::int64_t k_s = 1'000'000'000;
  EXPECT_EQ(wait_duration_text(0), "");
  EXPECT_EQ(wait_duration_text(59 * k_s), "");
  EXPECT_EQ(wait_duration_text(60 * k_s), "1 minute");
  EXPECT_EQ(wait_duration_text(3 * 60 * k_s + 59 * k_s), "3 minutes");
  EXPECT_EQ(wait_duration_text(125 * 60 * k_s), "125 minutes");
  EXPECT_EQ(block_status("chan receive", wait_duration_text(3 * 60 * k_s), false), "chan receive, 3 minutes");
  EXPECT_EQ(block_status("chan receive", wait_duration_text(30 * k_s), false), "chan receive");
  EXPECT_EQ(block_status("IO wait", "", true), "IO wait, system");
  EXPECT_EQ(block_status("IO wait", "2 minutes", true), "IO wait, 2 minutes, system");
}

// ---- without debug information ---------------------------------------------------
// tests/traceback_target.cpp built with -g0: function names from the symbol
// table, innermost first, each with its offset and the binary.
TEST(Traceback, WithoutDebugInfoFunctionNamesRemain) {
  FILE* p = popen(TRACEBACK_TARGET_NODEBUG " 2>&1", "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 2) << out;
  const std::string bin = "\n\t[^\n]*traceback_target_nodebug\\+0x[0-9a-f]+\n";
  EXPECT_TRUE(contains_re(
      out, "goroutine 1 \\[chan receive\\]:\ntraceback_inner\\(gort::chan<int>&\\)\\+0x[0-9a-f]+" + bin +
               "traceback_middle\\(gort::chan<int>&\\)\\+0x[0-9a-f]+" + bin +
               "traceback_outer\\(gort::chan<int>&\\)\\+0x[0-9a-f]+" + bin))
      << out;
}

// ---- dumps while thousands of fibers park and wake ---------------------------------
// A plain thread dumps again and again while every fiber parks and is woken
// over and over. Nothing crashes (ASan, TSan in CI), no fiber is resumed by
// a dump (each receives exactly what was sent to it, in order), and every
// dump names every fiber once (in a block or a folded list).
TEST(TracebackStress, DumpsWhileFibersParkAndWake) {
#if GORT_TSAN
  constexpr int k_fibers = 1000;  // TSan keeps state per fiber: the suite stays under 2,000
#else
  constexpr int k_fibers = 10000;
#endif
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  gort_test::run_at_each_worker_count([&](unsigned) {
    constexpr int k_rounds = 20;
    std::vector<gort::chan<int>> inbox(k_fibers);
    std::vector<int> got(k_fibers, 0);
    std::atomic<int> out_of_order{0};
    gort::wait_group done;
    done.add(k_fibers);
    for (int i = 0; i < k_fibers; ++i) {
      inbox[i] = gort::chan<int>(1);
      gort::go([&, i] {
        for (int r = 0; r < k_rounds; ++r) {
          if (*inbox[i].recv() != r) out_of_order.fetch_add(1);
          ++got[i];
        }
        done.done();
      });
    }
    // Fibers computing meanwhile: a dump samples them on their threads while
    // they run, and some switch out while being sampled.
    constexpr int k_spinners = 4;
    std::atomic<bool> spin_stop{false};
    std::atomic<std::uint64_t> sink{0};
    gort::wait_group spinners;
    spinners.add(k_spinners);
    for (int i = 0; i < k_spinners; ++i)
      gort::go([&] {
        compute_and_yield(spin_stop, sink);
        spinners.done();
      });
    std::atomic<int> dumps{0};
    std::atomic<bool> stop{false}, sampled{false};
    std::string bad;
    gort::thread dumper([&] {
      while (!stop.load()) {
        std::ostringstream os;
        gort::dump_fibers(os);
        const std::string d = os.str();
        std::multiset<std::uint64_t> ids = ids_named(d);
        if (std::set<std::uint64_t>(ids.begin(), ids.end()).size() != ids.size() && bad.empty()) bad = d;
        if (running_in(d, "compute_and_yield(")) sampled.store(true);
        dumps.fetch_add(1);
      }
    });
    std::mt19937_64 rng(seed);
    for (int r = 0; r < k_rounds; ++r) {
      // Wake every fiber once per round, in a random order.
      std::vector<int> order(k_fibers);
      for (int i = 0; i < k_fibers; ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), rng);
      for (int i : order) inbox[i].send(r);
      if (r % 4 == 0) gort::yield();
    }
    done.wait();
    while (dumps.load() < 2) gort::sleep_for(1ms);  // at least one dump overlapped the churn's end
    // Until a dump caught a computing fiber running (bounded: a loaded
    // machine may keep missing them).
    for (int i = 0; i < 10000 && !sampled.load(); ++i) gort::sleep_for(1ms);
    stop.store(true);
    dumper.join();
    spin_stop.store(true, std::memory_order_release);
    spinners.wait();
    EXPECT_TRUE(sampled.load()) << "no dump showed a computing fiber's stack";
    EXPECT_EQ(out_of_order.load(), 0);
    for (int i = 0; i < k_fibers; ++i) ASSERT_EQ(got[i], k_rounds) << "fiber " << i;
    EXPECT_TRUE(bad.empty()) << "a dump named a fiber twice:\n" << bad.substr(0, 4000);
  });
}
