// GORT_TRACE as a flight recorder (the file is written also when the program
// dies: deadlock, partial deadlock, panic, SIGQUIT), the ring's bound, and
// live captures of a window while the program runs (what gort::debug serves
// at /debug/gort/trace).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gort/detail/race.hpp"
#include "gort/gort.hpp"
#include "runtime/fiber.hpp"
#include "runtime/machine.hpp"
#include "runtime/park.hpp"
#include "runtime/trace.hpp"
#include "runtime/trace_writer.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using gort::detail::capture_status;

namespace {

std::string temp_path(const std::string& name) {
  return testing::TempDir() + "gort_trace_test_" + std::to_string(getpid()) + "_" + name + ".json";
}

// The trace file of a death test: a death test's child re-runs the test
// body, so the parent hands it its path through the environment.
std::string death_test_path(const std::string& name) {
  const std::string var = "GORT_TRACE_TEST_FILE_" + name;
  if (const char* p = std::getenv(var.c_str())) return p;  // the child
  std::string path = temp_path(name);
  setenv(var.c_str(), path.c_str(), 1);
  return path;
}

nlohmann::json load(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << "no trace file " << path;
  if (!f.good()) return {};
  return nlohmann::json::parse(f);  // throws (fails the test) unless it is whole JSON
}

// Switches on every worker: pairs of fibers playing ping-pong.
void churn(int pairs, int rounds) {
  gort::wait_group wg;
  for (int p = 0; p < pairs; ++p) {
    gort::chan<int> ping, pong;
    wg.add(2);
    gort::go([=, &wg]() mutable {
      for (int r = 0; r < rounds; ++r) {
        ping.send(r);
        pong.recv();
      }
      wg.done();
    });
    gort::go([=, &wg]() mutable {
      for (int r = 0; r < rounds; ++r) {
        ping.recv();
        pong.send(r);
      }
      wg.done();
    });
  }
  wg.wait();
}

bool has_event(const nlohmann::json& j, const std::string& ph, const std::string& name_prefix) {
  for (const auto& e : j["traceEvents"])
    if (e["ph"] == ph && e["name"].get<std::string>().rfind(name_prefix, 0) == 0) return true;
  return false;
}

// The slice of goroutine `id` marked as still running when the file was written.
bool has_running_slice(const nlohmann::json& j, std::uint64_t id) {
  for (const auto& e : j["traceEvents"])
    if (e["ph"] == "X" &&
        e["name"].get<std::string>().rfind("goroutine " + std::to_string(id) + " (", 0) == 0 &&
        e.contains("args") && e["args"]["state"] == "running when the trace was written")
      return true;
  return false;
}

}  // namespace

TEST(FlightRecorderDeathTest, DeadlockWritesTheTrace) {
  gort_test::threadsafe_death_tests();
  const std::string path = death_test_path("deadlock");
  std::remove(path.c_str());
  {
    gort_test::scoped_env trace("GORT_TRACE", path.c_str());
    EXPECT_EXIT(gort::run(
                    [] {
                      churn(8, 50);
                      gort::chan<int> never;
                      never.recv();
                    },
                    {.workers = 2}),
                testing::ExitedWithCode(2), "all goroutines are asleep - deadlock!");
  }
  nlohmann::json j = load(path);
  EXPECT_TRUE(has_event(j, "X", "goroutine 1 (")) << "no slice of the main fiber";
  EXPECT_TRUE(has_event(j, "i", "park: chan receive")) << "no park of the main fiber";
  std::remove(path.c_str());
}

TEST(FlightRecorderDeathTest, PartialDeadlockWritesTheTrace) {
  gort_test::threadsafe_death_tests();
  const std::string path = death_test_path("partial");
  std::remove(path.c_str());
  {
    gort_test::scoped_env trace("GORT_TRACE", path.c_str());
    gort_test::scoped_env partial("GORT_DEADLOCK", "partial");
    EXPECT_EXIT(gort::run(
                    [] {
                      gort::mutex a, b;
                      gort::wait_group both;
                      both.add(2);
                      gort::go([&] {
                        a.lock();
                        both.done();
                        both.wait();
                        b.lock();
                      });
                      gort::go([&] {
                        b.lock();
                        both.done();
                        both.wait();
                        a.lock();
                      });
                      for (;;) gort::sleep_for(10ms);  // alive: only the pair is stuck
                    },
                    {.workers = 2}),
                testing::ExitedWithCode(2), "fatal error: deadlock cycle");
  }
  nlohmann::json j = load(path);
  EXPECT_TRUE(has_event(j, "i", "park: sync.Mutex.Lock"));
  EXPECT_TRUE(has_event(j, "i", "timer wakeup"));
  std::remove(path.c_str());
}

TEST(FlightRecorderDeathTest, PanicWritesTheTraceWithThePanickingSlice) {
  gort_test::threadsafe_death_tests();
  const std::string path = death_test_path("panic");
  std::remove(path.c_str());
  {
    gort_test::scoped_env trace("GORT_TRACE", path.c_str());
    EXPECT_EXIT(gort::run(
                    [] {
                      churn(4, 20);
                      gort::go([] { throw std::runtime_error("boom"); });
                      gort::chan<int> never;
                      never.recv();
                    },
                    {.workers = 2}),
                testing::ExitedWithCode(2), "panic: boom");
  }
  nlohmann::json j = load(path);
  bool panicking = false;
  for (const auto& e : j["traceEvents"])
    if (e["ph"] == "X" && e.contains("args") && e["args"]["state"] == "running when the trace was written" &&
        e["name"].get<std::string>().find("trace_test.cpp") != std::string::npos)
      panicking = true;
  EXPECT_TRUE(panicking) << "the panicking fiber's slice is missing";
  std::remove(path.c_str());
}

// SIGQUIT arrives while a fiber runs: the signal handler writes the file with
// that fiber's slice still open.
TEST(FlightRecorderDeathTest, SigquitWritesTheTraceFromTheHandler) {
  gort_test::threadsafe_death_tests();
  const std::string path = death_test_path("sigquit");
  std::remove(path.c_str());
  {
    gort_test::scoped_env trace("GORT_TRACE", path.c_str());
    EXPECT_EXIT(gort::run(
                    [] {
                      churn(4, 20);
                      raise(SIGQUIT);
                    },
                    {.workers = 2}),
                testing::ExitedWithCode(2), "SIGQUIT: quit");
  }
  nlohmann::json j = load(path);
  EXPECT_TRUE(has_running_slice(j, 1));
  EXPECT_TRUE(has_event(j, "i", "park: "));
  std::remove(path.c_str());
}

// A full ring keeps the newest events (all but the slot its writer owns)
// and says how many it lost.
TEST(FlightRecorder, FullRingKeepsTheLastEvents) {
  gort::detail::worker_trace ring(8);
  gort::detail::fiber f;
  f.id_ = 7;
  f.created_at_ = gort::location::current();
  for (int i = 0; i < 10; ++i) {
    ring.run_begin(f, 1000 * i);
    ring.run_end(1000 * i + 500);
    ring.park(f, gort::detail::wait_reason::chan_send, 1000 * i + 500);
  }
  std::string json;
  char buf[64];
  gort::detail::trace_writer out(
      buf, sizeof buf,
      [](void* ctx, const char* d, std::size_t n) noexcept {
        static_cast<std::string*>(ctx)->append(d, n);
        return true;
      },
      &json);
  out.put('[');
  bool first = true;
  ring.write_json(out, 0, 0, INT64_MIN, INT64_MAX, 0, 0, first);
  out.put(']');
  ASSERT_TRUE(out.finish());
  nlohmann::json j = nlohmann::json::parse(json);
  ASSERT_EQ(j.size(), 1u + 7u + 1u) << j.dump(1);  // the track name, 7 events, the note
  EXPECT_EQ(j[1]["name"], "park: chan send");      // event 13 of 20: the park of pass 6
  EXPECT_EQ(j[1]["ts"], 6.5);                      // µs
  EXPECT_EQ(j[2]["ph"], "X");                      // the run of pass 7
  EXPECT_EQ(j[2]["ts"], 7.0);
  EXPECT_EQ(j[2]["dur"], 0.5);
  EXPECT_EQ(j[7]["name"], "park: chan send");
  EXPECT_EQ(j[7]["ts"], 9.5);
  EXPECT_EQ(j[8]["name"], "trace ring full: 13 earlier events of this worker were overwritten");
}

// ---- live captures --------------------------------------------------------

// A window recorded while the program runs, with tracing otherwise off: the
// trace parses, holds slices inside the window, and recording stops after it.
TEST(TraceCapture, RecordsTheWindowThenStops) {
  gort_test::scoped_env trace("GORT_TRACE", nullptr);
  gort_test::run_at_each_worker_count([](unsigned workers) {
    std::atomic<bool> stop{false};
    gort::wait_group wg;
    wg.add();
    gort::go([&] {
      while (!stop.load()) {
        churn(4, 10);
        gort::sleep_for(1ms);
      }
      wg.done();
    });
    std::string json;
    ASSERT_EQ(gort::detail::capture_trace(200ms, json), capture_status::ok);
    stop = true;
    wg.wait();
    EXPECT_EQ(gort::detail::machine_of_thread()->p()->trace(), nullptr) << "recording did not stop";
    nlohmann::json j = nlohmann::json::parse(json);
    std::set<int> tids;
    for (const auto& e : j["traceEvents"]) {
      if (e["ph"] == "M") continue;
      const double ts = e["ts"].get<double>();
      EXPECT_GE(ts, 0.0);
      if (e["ph"] == "X") {
        tids.insert(e["tid"].get<int>());
        EXPECT_LE(ts + e["dur"].get<double>(),
                  200'000.0 + 50'000.0);  // µs; the window, and slack for wake-up
      }
    }
    EXPECT_FALSE(tids.empty());
    for (int t : tids) EXPECT_LT(t, int(workers));
  });
}

TEST(TraceCapture, OneAtATime) {
  gort_test::scoped_env trace("GORT_TRACE", nullptr);
  gort::run(
      [] {
        gort::chan<capture_status> first(1);
        gort::go([&] {
          std::string json;
          first.send(gort::detail::capture_trace(300ms, json));
        });
        gort_test::wait_blocked("sleep", 1);  // the first capture's window
        std::string json;
        EXPECT_EQ(gort::detail::capture_trace(10ms, json), capture_status::busy);
        EXPECT_EQ(first.recv(), capture_status::ok);
        EXPECT_EQ(gort::detail::capture_trace(10ms, json), capture_status::ok);  // free again
      },
      {.workers = 2});
}

// With GORT_TRACE set, a capture reads the same rings and the file is still
// written at exit.
TEST(TraceCapture, WorksAlongsideGortTrace) {
  const std::string path = temp_path("both");
  {
    gort_test::scoped_env trace("GORT_TRACE", path.c_str());
    gort::run(
        [] {
          gort::go([] { churn(4, 200); });
          std::string json;
          ASSERT_EQ(gort::detail::capture_trace(50ms, json), capture_status::ok);
          EXPECT_TRUE(nlohmann::json::accept(json));
          bool recording;
          {
            gort::detail::race_ignored internal;  // TSan: the runtime's own objects, read by a test
            recording = gort::detail::machine_of_thread()->p()->trace() != nullptr;
          }
          EXPECT_TRUE(recording) << "GORT_TRACE recording stopped";
        },
        {.workers = 2});
  }
  nlohmann::json j = load(path);
  EXPECT_TRUE(has_event(j, "X", "goroutine 1 ("));
  std::remove(path.c_str());
}

TEST(TraceCapture, OutsideAFiberFails) {
  std::string json;
  EXPECT_EQ(gort::detail::capture_trace(1ms, json), capture_status::failed);
  EXPECT_TRUE(json.empty());
}

// The seqlock: readers copy events out of a small ring that its writer keeps
// overwriting. A torn copy would pair one fiber's id with another's creation
// line, or an instant's name with a slice: every event read must be whole.
TEST(TraceRing, StressReadersNeverSeeTornEvents) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  gort_test::for_each_worker_count([seed](unsigned readers) {
    gort::detail::worker_trace ring(64);
    constexpr int k_fibers = 16;
    gort::detail::fiber fibers[k_fibers];
    for (int i = 0; i < k_fibers; ++i) {
      fibers[i].id_ = 100 + i;
      fibers[i].created_at_ = gort::location::current();  // the same file and line for all
    }
    std::atomic<bool> stop{false};
    std::atomic<long> reads{0};
    std::thread writer([&] {
      std::mt19937_64 rng(seed);
      std::int64_t ts = 0;
      // Until every reader has had many turns (they may start late).
      for (long n = 0; n < 300'000 || reads.load() < 50 * long(readers); ++n) {
        const gort::detail::fiber& f = fibers[rng() % k_fibers];
        ring.run_begin(f, ts);
        ts += 10;
        ring.run_end(ts);  // a slice of f.id_ whose duration is 10 ns
        ring.park(f, gort::detail::wait_reason(1 + f.id_ % 5), ts);  // reason tied to the id
      }
      stop = true;
    });
    std::vector<std::thread> rs;
    std::atomic<long> checked{0}, bad{0};  // events read, and torn ones
    for (unsigned r = 0; r < readers; ++r)
      rs.emplace_back([&] {
        char buf[256];
        std::string text;
        while (!stop.load()) {
          text.clear();
          gort::detail::trace_writer out(
              buf, sizeof buf,
              [](void* ctx, const char* d, std::size_t n) noexcept {
                static_cast<std::string*>(ctx)->append(d, n);
                return true;
              },
              &text);
          out.put('[');
          bool first = true;
          ring.write_json(out, 0, 0, INT64_MIN, INT64_MAX, 0, 0, first);
          out.put(']');
          out.finish();
          ++reads;
          for (const auto& e : nlohmann::json::parse(text)) {
            if (e["ph"] == "M" || (e["ph"] == "i" && !e.contains("args"))) continue;  // the track, the note
            ++checked;
            const std::string name = e["name"];
            if (e["ph"] == "X") {
              const std::uint64_t id = std::stoull(name.substr(10));
              if (id < 100 || id >= 100 + k_fibers || e["dur"] != 0.01 ||
                  name.find("trace_test.cpp:") == std::string::npos)
                ++bad;
            } else {
              const std::uint64_t id = e["args"]["goroutine"];
              const auto why = gort::detail::wait_reason(1 + id % 5);
              if (name != "park: " + std::string(gort::detail::wait_reason_text(why))) ++bad;
            }
          }
        }
      });
    writer.join();
    for (auto& t : rs) t.join();
    EXPECT_EQ(bad.load(), 0) << "of " << checked.load() << " events read";
    EXPECT_GT(checked.load(), 0);
  });
}

// Live captures read rings that busy workers write: at each worker count
// the trace parses and every slice names its own fiber's creation line.
TEST(TraceCapture, StressWhileFibersRun) {
  gort_test::scoped_env trace("GORT_TRACE", nullptr);
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  gort_test::run_at_each_worker_count([seed](unsigned) {
    std::mt19937_64 rng(seed);
    gort::mutex mu;
    std::map<std::uint64_t, int> line_of;  // guarded by mu
    std::atomic<bool> stop{false};
    gort::wait_group wg;
    auto spin = [&](int line) {
      {
        std::lock_guard g(mu);
        line_of[gort::fiber_id()] = line;
      }
      while (!stop.load()) {
        gort::yield();
        gort::sleep_for(std::chrono::microseconds(50));
      }
      wg.done();
    };
    const int line_a = __LINE__ + 3, line_b = __LINE__ + 4;
    for (int i = 0; i < 16; ++i) {
      wg.add(2);
      gort::go(spin, line_a);
      gort::go(spin, line_b);
    }
    for (int round = 0; round < 5; ++round) {
      std::string json;
      ASSERT_EQ(gort::detail::capture_trace(std::chrono::milliseconds(5 + rng() % 30), json),
                capture_status::ok);
      nlohmann::json j = nlohmann::json::parse(json);
      std::lock_guard g(mu);
      for (const auto& e : j["traceEvents"]) {
        if (e["ph"] != "X") continue;
        const std::string name = e["name"];  // goroutine N (file:line)
        auto it = line_of.find(std::stoull(name.substr(10)));
        if (it == line_of.end()) continue;  // the main fiber
        EXPECT_NE(name.find("trace_test.cpp:" + std::to_string(it->second) + ")"), std::string::npos) << name;
      }
    }
    stop = true;
    wg.wait();
  });
}
