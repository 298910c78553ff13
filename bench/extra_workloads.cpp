// Benchmark-suite workloads: balance, idle and dump.
// Definitions mirror bench/go/main.go exactly (same tasks, same check values).
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>

#include "bench.hpp"
#include "cli.hpp"
#include "gort/gort.hpp"

namespace {

// splitmix64, the generator bench/go uses, so both run the same tasks.
struct splitmix64 {
  std::uint64_t s;
  std::uint64_t next() {
    s += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

// Spins for `d` on the monotonic clock; never blocks or yields.
void busy(std::chrono::nanoseconds d) {
  auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < d) {}
}

// balance: one fiber spawns 100,000 tasks (--size) of 1-20 us of busy work, task i
// taking 1 + (the i-th splitmix64 output from seed 42) % 20 us. ops = 100,000
// tasks; check = the total work in us, 1053836 (the 2-worker speedup is
// ns_per_op at 1 worker over ns_per_op at 2, computed by scripts/bench.py).
gort_bench::result balance(unsigned) {
  const int n = int(gort_bench::size_or(100'000));
  gort::wait_group wg;
  std::uint64_t total = 0;  // written by the spawner only, read after wg.wait()
  wg.add(1);
  gort::go([&] {  // the spawner
    splitmix64 rng{42};
    wg.add(n);
    for (int i = 0; i < n; ++i) {
      std::uint64_t us = 1 + rng.next() % 20;
      total += us;
      gort::go([&wg, us] {
        busy(std::chrono::microseconds(us));
        wg.done();
      });
    }
    wg.done();
  });
  wg.wait();
  return {std::uint64_t(n), std::to_string(total)};
}

// The process's user + system CPU time so far, in ns.
std::int64_t cpu_nanos() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) {
    return std::int64_t(tv.tv_sec) * 1'000'000'000 + std::int64_t(tv.tv_usec) * 1000;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

// idle: the runtime has nothing to do for 1 s (--size ms; the main fiber
// sleeps). ops = 1; ns_per_op = the CPU nanoseconds the process used meanwhile
// (target: under 0.01 s); check = the milliseconds slept, 1000.
//
// gort_bench::result has no way to replace the timed ns/op, so this workload
// prints its own BENCH line (the format of bench/gort_bench.cpp) and then
// points stdout at /dev/null, so that the harness's wall-clock line that
// follows is dropped. The runtime still shuts down normally.
gort_bench::result idle(unsigned workers) {
  const std::uint64_t ms = gort_bench::size_or(1000);
  std::int64_t before = cpu_nanos();
  gort::sleep_for(std::chrono::milliseconds(ms));
  double used = double(cpu_nanos() - before);
  std::printf("BENCH name=idle workers=%u ops=1 ns_per_op=%.2f check=%llu\n", workers, used,
              static_cast<unsigned long long>(ms));
  std::fflush(stdout);
  if (!std::freopen("/dev/null", "w", stdout)) std::fclose(stdout);
  return {1, std::to_string(ms)};
}

// dump's fibers park here, two calls below their entry, so that each stack
// has frames of the program's own to symbolize.
[[gnu::noinline]] void dump_wait(gort::chan<int>& gate, gort::wait_group& started) {
  started.done();
  (void)gate.recv();
  asm volatile("");  // not a tail call: this frame stays on the stack
}
[[gnu::noinline]] void dump_fiber(gort::chan<int>& gate, gort::wait_group& started) {
  dump_wait(gate, started);
  asm volatile("");
}

// dump: 10,000 fibers (--size) parked on a channel; one dump of every
// fiber's call stack into memory (gort::dump_fibers; Go: runtime.Stack with
// all=true), the first of the process, symbolization included. ops = 1;
// ns_per_op = the dump's wall time; check = the fibers parked, 10000.
// Prints its own BENCH line, as idle does.
gort_bench::result dump(unsigned workers) {
  const int n = int(gort_bench::size_or(10'000));
  gort::chan<int> gate;
  gort::wait_group started, finished;
  started.add(n);
  finished.add(n);
  for (int i = 0; i < n; ++i) {
    gort::go([&] {
      dump_fiber(gate, started);
      finished.done();
    });
  }
  started.wait();
  std::ostringstream out;
  auto t0 = std::chrono::steady_clock::now();
  gort::dump_fibers(out);
  double ns = double(std::chrono::nanoseconds(std::chrono::steady_clock::now() - t0).count());
  gate.close();
  finished.wait();
  if (out.str().find("dump_wait") == std::string::npos) {
    std::fprintf(stderr, "dump: the dump names no parked fiber's frame\n");
    std::abort();
  }
  std::printf("BENCH name=dump workers=%u ops=1 ns_per_op=%.2f check=%d\n", workers, ns, n);
  std::fflush(stdout);
  if (!std::freopen("/dev/null", "w", stdout)) std::fclose(stdout);
  return {1, std::to_string(n)};
}

GORT_BENCH_WORKLOAD("balance", balance);
GORT_BENCH_WORKLOAD("idle", idle);
GORT_BENCH_WORKLOAD("dump", dump);

}  // namespace
