// boostfiber-bench: gort-bench's workloads written on Boost.Fiber, the C++
// peer gort is measured against. Same CLI and same output line as gort-bench
// and bench/go:
//
//   boostfiber-bench <workload> [--workers N] [--size N]   (bench/cli.hpp)
//   BENCH name=<w> workers=<n> ops=<ops> ns_per_op=<x> check=<value>
//
// Scheduling: N threads (main + N-1 helpers) each install
// boost::fibers::algo::work_stealing(N), as Boost.Fiber's documentation and
// its examples/work_stealing.cpp do; the library's defaults are kept
// (suspend = false: an idle thread keeps polling for work to steal, and the
// default fixedsize_stack). At 1 worker the default round_robin scheduler is
// used instead: Boost 1.74's work_stealing(1) spins forever looking for a
// victim other than itself as soon as its queue runs empty (idle never ends). Channels are
// boost::fibers::unbuffered_channel and buffered_channel; the mutex is boost::fibers::mutex. Boost.Fiber has
// no wait group, so the usual atomic counter + fiber condition variable is used.
//
// Only the workload is timed, as in gort-bench. The process then ends with
// _Exit: Boost.Fiber's scheduler destructor waits for every fiber attached to
// the thread to finish, and sieve (like Go's original) leaves its filters
// blocked forever, so a normal exit would never return.
#include <sys/resource.h>

#include <atomic>
#include <boost/fiber/all.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli.hpp"

namespace bf = boost::fibers;

namespace {

struct result {
  std::uint64_t ops = 0;
  std::string check;
  double ns_override = -1;  // >= 0: replaces the timed ns/op (idle reports CPU ns)
};

// Go's sync.WaitGroup on Boost.Fiber primitives.
class wait_group {
 public:
  void add(long n) { n_.fetch_add(n, std::memory_order_relaxed); }
  void done() {
    if (n_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::unique_lock lk(mu_);
      cv_.notify_all();
    }
  }
  void wait() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return n_.load(std::memory_order_acquire) == 0; });
  }

 private:
  std::atomic<long> n_{0};
  bf::mutex mu_;
  bf::condition_variable cv_;
};

// Starts a detached fiber (launch::post, the default: the caller goes on).
template <typename F>
void go(F&& f) {
  bf::fiber(std::forward<F>(f)).detach();
}

// Starts a detached fiber that runs at once (launch::dispatch), the caller
// being queued. Used by spawn and skynet: Boost.Fiber allocates a fiber's
// stack when the fiber is created, so with launch::post all their fibers
// would hold a stack at the same time (measured at 1 worker: spawn 20.6 us/op
// and 9.3 GB RSS, skynet 50 us/op and 10.9 GB). dispatch is what a Boost.Fiber
// user spawning a million fibers would pick.
template <typename F>
void go_now(F&& f) {
  bf::fiber(bf::launch::dispatch, std::forward<F>(f)).detach();
}

// spawn: 1,000,000 fibers (--size) each doing wg.done(); every 1000th adds its index to
// a shared sum. check = 499500000.
result spawn(unsigned) {
  const int n = int(gort_bench::size_or(1'000'000));
  wait_group wg;
  std::atomic<std::uint64_t> sum{0};
  wg.add(n);
  for (int i = 0; i < n; ++i) {
    go_now([&wg, &sum, i] {
      if (i % 1000 == 0) sum.fetch_add(std::uint64_t(i), std::memory_order_relaxed);
      wg.done();
    });
  }
  wg.wait();
  return {std::uint64_t(n), std::to_string(sum.load())};
}

// yield: two fibers each yielding 1,000,000 times (--size). ops = 2,000,000; check =
// the total number of yields.
result yield(unsigned) {
  const int n = int(gort_bench::size_or(1'000'000));
  wait_group wg;
  std::atomic<std::uint64_t> total{0};
  wg.add(2);
  for (int f = 0; f < 2; ++f) {
    go([&] {
      std::uint64_t mine = 0;
      for (int i = 0; i < n; ++i) {
        boost::this_fiber::yield();
        ++mine;
      }
      total.fetch_add(mine);
      wg.done();
    });
  }
  wg.wait();
  return {2 * std::uint64_t(n), std::to_string(total.load())};
}

// skynet: 1,000,000 leaves (--size, a power of 10), fan-out 10, one unbuffered result channel per
// parent. ops = 1,111,111 fibers; check = 499999500000.
using i64_chan = bf::unbuffered_channel<std::int64_t>;

void skynet_node(i64_chan* out, std::int64_t num, std::int64_t size, std::int64_t div) {
  if (size == 1) {
    out->push(num);
    return;
  }
  i64_chan rc;  // outlives its children: the parent receives from all of them
  for (std::int64_t i = 0; i < div; ++i)
    go_now([&rc, num, i, size, div] { skynet_node(&rc, num + i * (size / div), size / div, div); });
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < div; ++i) sum += rc.value_pop();
  out->push(sum);
}

result skynet(unsigned) {
  const auto leaves = std::int64_t(gort_bench::size_or(1'000'000));
  i64_chan c;
  go_now([&c, leaves] { skynet_node(&c, 0, leaves, 10); });
  return {std::uint64_t(leaves * 10 - 1) / 9, std::to_string(c.value_pop())};
}

// pingpong: two fibers, two unbuffered channels of ints, 1,000,000 round
// trips (--size) (ping sends v, pong answers v+1). ops = round trips; check = 1000000.
result pingpong(unsigned) {
  const int n = int(gort_bench::size_or(1'000'000));
  bf::unbuffered_channel<int> ping, pong, done;
  go([&] {  // pong
    int v;
    while (ping.pop(v) == bf::channel_op_status::success) pong.push(v + 1);
  });
  go([&] {  // ping
    int v = 0;
    for (int i = 0; i < n; ++i) {
      ping.push(v);
      v = pong.value_pop();
    }
    ping.close();
    done.push(v);
  });
  return {std::uint64_t(n), std::to_string(done.value_pop())};
}

// sieve: Go's concurrent prime sieve (a generator and one filter fiber per
// prime over unbuffered channels), the first 1,000 primes (--size). ops = 1000; check =
// 7919. The fibers are left blocked, as in Go's example; the channels are
// leaked on purpose (the process _Exits right after).
result sieve(unsigned) {
  const int n = int(gort_bench::size_or(1000));
  using chan = bf::unbuffered_channel<int>;
  auto* ch = new chan;
  go([ch] {
    for (int i = 2;; ++i) ch->push(i);
  });
  int prime = 0;
  for (int i = 0; i < n; ++i) {
    prime = ch->value_pop();
    auto* ch1 = new chan;
    go([in = ch, out = ch1, p = prime] {
      for (;;) {
        int v = in->value_pop();
        if (v % p != 0) out->push(v);
      }
    });
    ch = ch1;
  }
  return {std::uint64_t(n), std::to_string(prime)};
}

// mpmc: one channel of capacity 1024 (a Boost.Fiber buffered_channel of
// capacity 1024 holds 1023 values), 4 producers each sending 1..2,500,000
// (--size), 4 consumers summing. ops = 10,000,000; check = 12500005000000.
result mpmc(unsigned) {
  constexpr int producers = 4, consumers = 4;
  const auto per = std::int64_t(gort_bench::size_or(2'500'000));
  bf::buffered_channel<std::int64_t> ch(1024);
  wait_group pwg, cwg;
  std::atomic<std::int64_t> total{0};
  pwg.add(producers);
  for (int p = 0; p < producers; ++p) {
    go([&] {
      for (std::int64_t v = 1; v <= per; ++v) ch.push(v);
      pwg.done();
    });
  }
  cwg.add(consumers);
  for (int c = 0; c < consumers; ++c) {
    go([&] {
      std::int64_t sum = 0, v;
      while (ch.pop(v) == bf::channel_op_status::success) sum += v;
      total.fetch_add(sum);
      cwg.done();
    });
  }
  pwg.wait();
  ch.close();
  cwg.wait();
  return {std::uint64_t(producers * per), std::to_string(total.load())};
}

// mutex: 100 fibers each incrementing a shared counter 100,000 times (--size)
// under one boost::fibers::mutex. ops = 10,000,000; check = 10000000.
result mutex_counter(unsigned) {
  constexpr int fibers = 100;
  const int per_fiber = int(gort_bench::size_or(100'000));
  bf::mutex mu;
  wait_group wg;
  std::uint64_t counter = 0;  // guarded by mu
  wg.add(fibers);
  for (int f = 0; f < fibers; ++f) {
    go([&] {
      for (int i = 0; i < per_fiber; ++i) {
        std::lock_guard g(mu);
        ++counter;
      }
      wg.done();
    });
  }
  wg.wait();
  std::lock_guard g(mu);
  return {std::uint64_t(fibers) * per_fiber, std::to_string(counter)};
}

// splitmix64, balance's generator (bench/go uses the same one).
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

void busy(std::chrono::nanoseconds d) {
  auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < d) {}
}

// balance: one fiber spawns 100,000 tasks (--size) of 1-20 us of busy work, task i
// taking 1 + (the i-th splitmix64 output from seed 42) % 20 us. ops = 100,000;
// check = the total work in us, 1053836.
result balance(unsigned) {
  const int n = int(gort_bench::size_or(100'000));
  wait_group wg;
  std::uint64_t total = 0;
  wg.add(1);
  go([&] {  // the spawner
    splitmix64 rng{42};
    wg.add(n);
    for (int i = 0; i < n; ++i) {
      std::uint64_t us = 1 + rng.next() % 20;
      total += us;
      go([&wg, us] {
        busy(std::chrono::microseconds(us));
        wg.done();
      });
    }
    wg.done();
  });
  wg.wait();
  return {std::uint64_t(n), std::to_string(total)};
}

std::int64_t cpu_nanos() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) {
    return std::int64_t(tv.tv_sec) * 1'000'000'000 + std::int64_t(tv.tv_usec) * 1000;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

// idle: nothing to do for 1 s (--size ms; the main fiber sleeps). ops = 1;
// ns_per_op = the CPU ns the process used meanwhile; check = the ms slept, 1000.
result idle(unsigned) {
  const std::uint64_t ms = gort_bench::size_or(1000);
  std::int64_t before = cpu_nanos();
  boost::this_fiber::sleep_for(std::chrono::milliseconds(ms));
  return {1, std::to_string(ms), double(cpu_nanos() - before)};
}

const std::map<std::string, std::function<result(unsigned)>> workloads = {
    {"spawn", spawn},         {"yield", yield},     {"skynet", skynet},
    {"pingpong", pingpong},   {"sieve", sieve},     {"mpmc", mpmc},
    {"mutex", mutex_counter}, {"balance", balance}, {"idle", idle},
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> names;
  for (auto& [name, fn] : workloads) names.push_back(name);
  gort_bench::cli_args args;
  if (int rc = gort_bench::parse_cli("boostfiber-bench", argc, argv, names, args)) return rc;
  const std::string& name = args.workload;
  const unsigned workers = args.workers;
  auto it = workloads.find(name);

  // The helper threads join the work-stealing group, then park their main
  // fiber until the end, running (and stealing) fibers meanwhile.
  bf::mutex stop_mu;
  bf::condition_variable_any stop_cv;
  bool stop = false;
  std::vector<std::thread> helpers;
  for (unsigned t = 1; t < workers; ++t) {
    helpers.emplace_back([&] {
      bf::use_scheduling_algorithm<bf::algo::work_stealing>(workers);
      std::unique_lock lk(stop_mu);
      stop_cv.wait(lk, [&] { return stop; });
    });
  }
  if (workers > 1) bf::use_scheduling_algorithm<bf::algo::work_stealing>(workers);

  auto t0 = std::chrono::steady_clock::now();
  result r = it->second(workers);
  auto t1 = std::chrono::steady_clock::now();
  double ns = double(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  double per_op = r.ns_override >= 0 ? r.ns_override / double(r.ops) : r.ops ? ns / double(r.ops) : 0.0;
  std::printf("BENCH name=%s workers=%u ops=%llu ns_per_op=%.2f check=%s\n", name.c_str(), workers,
              static_cast<unsigned long long>(r.ops), per_op, r.check.c_str());
  std::fflush(stdout);
  std::_Exit(0);
}
