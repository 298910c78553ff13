// soak: a long mixed workload on gort, measured every second, that fails on
// growth beyond the bounds below or on any lost request or wrong result.
//
//   soak --server-exe PATH [--seconds N] [--out DIR] [--connections N] [--rps N] [--workers N]
//
// It starts the http_server demo (PATH) as a child process and, in one
// gort::run of its own:
//   - HTTP: --connections client fibers (default 16) send GET / at --rps
//     requests per second in all (default 2000), keep-alive, each connection
//     replaced after 100 requests; every response must be 200 with the
//     server's visit number, and at the end the highest visit number must
//     equal the number of answered requests (none lost or doubled inside);
//   - pipelines: source -> square -> sink over unbuffered channels, 1000
//     values per round, two at a time, the sum checked, 2 ms apart;
//   - timers: sleeps and select with after() for random 1-20 ms, never early;
//     a 10 ms ticker;
//   - mutex contention: 8 fibers incrementing one counter, yielding while
//     holding the lock, the total checked;
//   - fibers stuck in OS calls: two fibers calling std::this_thread::sleep_for
//     (25 ms, as a blocking syscall would), one calling gort::blocking;
//   - fiber churn: 100 short fibers spawned and joined every 10 ms.
// Every second it samples RSS, descriptors and threads of both processes
// (/proc) and their live fibers (gort::stats() here, the server's
// /debug/gort/stats, served by gort::debug on --debug-addr), and writes a row
// of DIR/soak.csv. At the end it prints a markdown table and the verdict.
//
// Bounds, comparing the median of the samples right after the warm-up (the
// first 10 % of the run, at least 5 s) with the median of the last 10 %: RSS
// may grow by at most 20 % + 8 MiB, descriptors by 16, threads by 8, live
// fibers by 8 (server) or 128 (this program, whose churn makes it vary).
// --seconds defaults to $SOAK_SECONDS, else 600.
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "soak.hpp"

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

using soak::counters;
using soak::options;
using soak::row;

void http_loop(const std::string& addr, const options& o, counters& c) {
  soak::http_client client(addr);
  const auto interval = std::chrono::duration_cast<steady::duration>(1s * double(o.connections) / o.rps);
  auto next = steady::now();
  for (std::uint64_t n = 0; !c.stop.load(std::memory_order_relaxed); ++n) {
    next += interval;
    gort::sleep_until(next);
    if (n % 100 == 0) client.reconnect();
    try {
      const soak::http_response r = client.get("/", 5s);
      const std::string prefix = "hello world, visit ";
      if (r.status != 200 || r.body.rfind(prefix, 0) != 0)
        throw std::runtime_error("bad response: " + r.body);
      const std::uint64_t visit = std::strtoull(r.body.c_str() + prefix.size(), nullptr, 10);
      for (std::uint64_t m = c.max_visit.load(); visit > m && !c.max_visit.compare_exchange_weak(m, visit);) {
      }
      ++c.ok;
    } catch (const std::exception& e) {
      ++c.lost;
      c.error(std::string("HTTP request lost: ") + e.what());
    }
  }
}

void pipeline_loop(counters& c) {
  while (!c.stop.load(std::memory_order_relaxed)) {
    gort::chan<long> numbers, squares;
    gort::go([numbers] {
      for (long i = 1; i <= 1000; ++i) numbers.send(i);
      numbers.close();
    });
    gort::go([numbers, squares] {
      for (long v : numbers) squares.send(v * v);
      squares.close();
    });
    long sum = 0;
    for (long v : squares) sum += v;
    if (sum != 333'833'500) c.error("pipeline sum " + std::to_string(sum));
    ++c.pipelines;
    gort::sleep_for(2ms);  // a steady load, not a saturating one
  }
}

void timer_loop(unsigned id, counters& c) {
  std::uint64_t x = id * 0x9E3779B97F4A7C15ull + 1;
  gort::chan<int> never;
  while (!c.stop.load(std::memory_order_relaxed)) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const auto d = std::chrono::milliseconds(1 + x % 20);
    const auto t0 = steady::now();
    if (x & 1) {
      gort::sleep_for(d);
    } else {
      gort::select(gort::recv_case(never, [](auto) {}), gort::recv_case(gort::after(d), [](auto) {}));
    }
    if (steady::now() - t0 < d) ++c.early;
    ++c.timers;
  }
}

void ticker_loop(counters& c) {
  gort::ticker t(10ms);
  while (!c.stop.load(std::memory_order_relaxed)) {
    t.c().recv();
    ++c.ticks;
  }
  t.stop();
}

void stuck_loop(counters& c, bool use_blocking) {
  while (!c.stop.load(std::memory_order_relaxed)) {
    if (use_blocking) {
      gort::blocking([] { std::this_thread::sleep_for(10ms); });
      ++c.blocking_calls;
    } else {
      std::this_thread::sleep_for(25ms);  // holds the worker, as a blocking syscall would
      ++c.stuck_calls;
    }
    gort::sleep_for(100ms);
  }
}

void churn_loop(counters& c) {
  while (!c.stop.load(std::memory_order_relaxed)) {
    gort::wait_group wg;
    std::atomic<int> ran{0};
    for (int i = 0; i < 100; ++i) {
      wg.add();
      gort::go([&] {
        ran.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
    if (ran.load() != 100) c.error("churn: " + std::to_string(ran.load()) + " of 100 fibers ran");
    c.churned += 100;
    gort::sleep_for(10ms);
  }
}

// Mutex contention; returns once stopped. Checks the counter at the end.
void mutex_contention(counters& c, gort::wait_group& wg) {
  struct shared {
    gort::mutex mu;
    std::uint64_t value = 0;  // guarded by mu
    std::atomic<std::uint64_t> added{0};
  };
  auto s = std::make_shared<shared>();
  gort::wait_group done;
  for (int f = 0; f < 8; ++f) {
    done.add();
    gort::go([s, &c, &done] {
      while (!c.stop.load(std::memory_order_relaxed)) {
        for (int k = 0; k < 100; ++k) {
          std::lock_guard g(s->mu);
          ++s->value;
          if (k % 10 == 0) gort::yield();
        }
        s->added += 100;
        gort::yield();
      }
      done.done();
    });
  }
  done.wait();
  if (s->value != s->added.load())
    c.error("mutex counter " + std::to_string(s->value) + " != " + std::to_string(s->added.load()));
  wg.done();
}

std::int64_t server_fibers(soak::http_client& stats, counters& c) {
  try {
    const soak::http_response r = stats.get("/debug/gort/stats", 5s);
    const std::size_t at = r.body.find("\"live\":");
    if (r.status == 200 && at != std::string::npos) return std::strtoll(r.body.c_str() + at + 7, nullptr, 10);
  } catch (const std::exception&) {}
  ++c.stats_failures;
  return -1;
}

// The main fiber: starts the workload, samples every second, stops it.
std::vector<row> run_workload(const options& o, soak::server_process& server, counters& c) {
  gort::wait_group wg;
  auto start_fiber = [&](auto f) {
    wg.add();
    gort::go([&wg, f] {
      f();
      wg.done();
    });
  };
  for (unsigned i = 0; i < o.connections; ++i) start_fiber([&] { http_loop(server.address(), o, c); });
  for (int i = 0; i < 2; ++i) start_fiber([&] { pipeline_loop(c); });
  for (unsigned i = 0; i < 4; ++i) start_fiber([&, i] { timer_loop(i, c); });
  start_fiber([&] { ticker_loop(c); });
  for (int i = 0; i < 3; ++i) start_fiber([&, i] { stuck_loop(c, i == 2); });
  start_fiber([&] { churn_loop(c); });
  wg.add();
  gort::go([&] { mutex_contention(c, wg); });

  std::vector<row> rows;
  soak::http_client stats(server.debug_address());
  const auto t0 = steady::now();
  for (int s = 1; s <= int(o.seconds); ++s) {
    gort::sleep_until(t0 + std::chrono::seconds(s));
    row r{};
    r.t = std::chrono::duration<double>(steady::now() - t0).count();
    r.self = soak::sample_process(0);
    r.server = soak::sample_process(server.pid());
    r.self_fibers = std::int64_t(gort::stats().live);
    r.server_fibers = server_fibers(stats, c);
    r.ok = c.ok.load();
    r.lost = c.lost.load();
    rows.push_back(r);
    std::string why;
    if (!server.alive(&why)) {
      c.error("the server " + why);
      break;
    }
  }
  c.stop.store(true);
  wg.wait();
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (const char* s = std::getenv("SOAK_SECONDS")) o.seconds = std::atof(s);
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], v = argv[i + 1];
    if (flag == "--server-exe")
      o.server_exe = v;
    else if (flag == "--seconds")
      o.seconds = std::atof(v.c_str());
    else if (flag == "--out")
      o.out_dir = v;
    else if (flag == "--connections")
      o.connections = unsigned(std::atoi(v.c_str()));
    else if (flag == "--rps")
      o.rps = unsigned(std::atoi(v.c_str()));
    else if (flag == "--workers")
      o.workers = unsigned(std::atoi(v.c_str()));
    else {
      std::fprintf(stderr, "soak: unknown flag '%s'\n", flag.c_str());
      return 2;
    }
  }
  if (argc % 2 == 0 || o.server_exe.empty() || o.seconds < 10 || o.connections == 0 || o.rps == 0) {
    std::fprintf(
        stderr,
        "usage: soak --server-exe PATH [--seconds N (>= 10)] [--out DIR] [--connections N] [--rps N] "
        "[--workers N]\n");
    return 2;
  }
  soak::server_process server(o.server_exe, 2);
  std::printf("soak: %.0f s against %s (pid %d); samples in %s/soak.csv\n", o.seconds,
              server.address().c_str(), int(server.pid()), o.out_dir.c_str());
  std::fflush(stdout);
  counters c;
  gort::sched_stats st;
  std::vector<row> rows;
  gort::config cfg;
  cfg.workers = o.workers;
  gort::run(
      [&] {
        rows = run_workload(o, server, c);
        st = gort::stats();
      },
      cfg);
  return soak::report(o, rows, c, st);
}
