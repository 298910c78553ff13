// Stall workloads: how late a timer fires, and how fast a ping-pong runs,
// while fibers hold their workers' threads (blocked in the kernel, or
// computing without switching). Definitions mirror bench/go/main.go.
//
//   stall_block     `workers` fibers each block their thread in nanosleep for
//                   --size ms (default 200); main sleeps 10 ms. ns_per_op =
//                   how late main woke (wall time from before the fibers
//                   started, minus 10 ms); check = the timer's ms, 10.
//   stall_spin      the same with fibers that spin for --size ms; main sleeps
//                   20 ms (check = 20).
//   stall_pingpong  `workers` fibers spin until main is done; main runs
//                   --size ping-pong round trips (default 1,000,000, as
//                   `pingpong`) with a partner fiber. ns_per_op = ns per
//                   round trip, the 10 ms before the first handoff included;
//                   check = the round trips (compare with `pingpong`).
//
// The lateness workloads print their own BENCH line, as `idle` does (the
// harness's would time the whole call), then point stdout at /dev/null.
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

#include "bench.hpp"
#include "cli.hpp"
#include "gort/gort.hpp"

namespace {

using clk = std::chrono::steady_clock;

// Blocks the calling OS thread (not the fiber's worker queue's business).
void os_sleep(std::chrono::milliseconds d) {
  timespec ts{time_t(d.count() / 1000), long(d.count() % 1000) * 1'000'000};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

void spin_for(std::chrono::milliseconds d) {
  const auto until = clk::now() + d;
  while (clk::now() < until) {
  }
}

void print_lateness(const char* name, unsigned workers, clk::duration late, unsigned check) {
  std::printf("BENCH name=%s workers=%u ops=1 ns_per_op=%.2f check=%u\n", name, workers,
              double(std::chrono::duration_cast<std::chrono::nanoseconds>(late).count()), check);
  std::fflush(stdout);
  if (!std::freopen("/dev/null", "w", stdout)) std::fclose(stdout);
}

// Starts `workers` fibers running stall(), sleeps `timer`, and reports how
// late it woke.
template <class Stall>
gort_bench::result lateness(const char* name, unsigned workers, std::chrono::milliseconds timer, Stall stall) {
  gort::wait_group wg;
  const auto t0 = clk::now();
  for (unsigned i = 0; i < workers; ++i) {
    wg.add(1);
    gort::go([&] {
      stall();
      wg.done();
    });
  }
  gort::sleep_for(timer);
  const auto late = clk::now() - t0 - timer;
  wg.wait();
  const unsigned ms = unsigned(timer.count());
  print_lateness(name, workers, late, ms);
  return {1, std::to_string(ms)};
}

gort_bench::result stall_block(unsigned workers) {
  const std::chrono::milliseconds d(gort_bench::size_or(200));
  return lateness("stall_block", workers, std::chrono::milliseconds(10), [d] { os_sleep(d); });
}

gort_bench::result stall_spin(unsigned workers) {
  const std::chrono::milliseconds d(gort_bench::size_or(200));
  return lateness("stall_spin", workers, std::chrono::milliseconds(20), [d] { spin_for(d); });
}

gort_bench::result stall_pingpong(unsigned workers) {
  const int n = int(gort_bench::size_or(1'000'000));
  // On a cache line of its own: the spinners read it all the time, and a
  // line shared with main's stack would be written on every round trip.
  struct alignas(64) flag {
    std::atomic<bool> v{false};
  } done_line;
  std::atomic<bool>& done = done_line.v;
  gort::wait_group spinners;
  for (unsigned i = 0; i < workers; ++i) {
    spinners.add(1);
    gort::go([&] {
      while (!done.load(std::memory_order_relaxed)) {
      }
      spinners.done();
    });
  }
  gort::chan<int> ping, pong;
  gort::go([&] {
    while (auto v = ping.recv()) pong.send(*v);
  });
  long sum = 0;
  for (int i = 0; i < n; ++i) {
    ping.send(i);
    sum += pong.recv().value_or(0) == i;
  }
  ping.close();
  done.store(true, std::memory_order_relaxed);
  spinners.wait();
  return {std::uint64_t(n), std::to_string(sum)};
}

}  // namespace

GORT_BENCH_WORKLOAD("stall_block", stall_block);
GORT_BENCH_WORKLOAD("stall_spin", stall_spin);
GORT_BENCH_WORKLOAD("stall_pingpong", stall_pingpong);
