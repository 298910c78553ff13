// asio-bench: gort-bench's workloads written on Boost.Asio with C++20
// coroutines (co_spawn, awaitable, use_awaitable), the C++ default a network
// service would be written in. Same command line and output line as
// gort-bench and the other peers (bench/cli.hpp):
//
//   asio-bench <workload> [--workers N] [--size N]
//   BENCH name=<w> workers=<n> ops=<ops> ns_per_op=<x> check=<value>
//
// Threads: ONE io_context shared by N threads that all call run() (the main
// thread and N-1 helpers), the thread pool of Asio's documentation ("Threads
// and Boost.Asio": multiple threads may call io_context::run() to set up a
// pool from which completion handlers are invoked; all threads of the pool
// are equivalent). Every workload here has coroutines talking to each other,
// which a shared io_context balances over the threads the way gort's and
// Go's schedulers do; one io_context per thread would leave each coroutine
// on the thread it was spawned on, with no load balancing. The io_context's
// concurrency hint is N (1: Asio assumes a single thread).
//
// Each Go construct becomes its natural Asio form:
//   go f()         co_spawn(executor, f(), handler)
//   chan, WaitGroup  asio_peer::channel / wait_group (bench/asio/channel.hpp:
//                  Boost 1.74 has no asio::experimental::channel)
//   runtime.Gosched  co_await asio::post(use_awaitable)
//   sync.Mutex     a strand: the critical section is posted to it and the
//                  coroutine awaits its completion (async_on_strand)
//   time.Sleep     co_await steady_timer::async_wait
//
// Only the workload is timed, from inside its top-level coroutine. That
// coroutine then stops the io_context and the process ends with _Exit, like
// boostfiber-bench: sieve (like Go's original) leaves its filters waiting on
// their channels forever, holding outstanding work.
#include <sys/resource.h>

// Before Asio: Boost 1.74's awaitable.hpp uses std::exchange without <utility>.
#include <utility>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "channel.hpp"
#include "cli.hpp"

namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio_peer::channel;
using asio_peer::wait_group;
using boost::system::error_code;

struct result {
  std::uint64_t ops = 0;
  std::string check;
  double ns_override = -1;  // >= 0: replaces the timed ns/op (idle reports CPU ns)
};

// The completion handler of every co_spawn: a coroutine that throws ends the
// program (the exception leaves io_context::run()), never silently as with
// asio::detached.
void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

template <typename T>
using chan_ptr = std::shared_ptr<channel<T>>;  // shared by the coroutines using it, like a Go chan

// spawn: 1,000,000 coroutines (--size) each doing wg.done(); every 1000th adds
// its index to a shared sum. check = 499500000.
awaitable<void> spawn_task(int i, wait_group& wg, std::atomic<std::uint64_t>& sum) {
  if (i % 1000 == 0) sum.fetch_add(std::uint64_t(i), std::memory_order_relaxed);
  wg.done();
  co_return;
}

awaitable<result> spawn(asio::io_context&) {
  const int n = int(gort_bench::size_or(1'000'000));
  auto ex = co_await asio::this_coro::executor;
  wait_group wg;
  std::atomic<std::uint64_t> sum{0};
  wg.add(n);
  for (int i = 0; i < n; ++i) asio::co_spawn(ex, spawn_task(i, wg, sum), rethrow);
  co_await wg.async_wait(use_awaitable);
  co_return result{std::uint64_t(n), std::to_string(sum.load())};
}

// yield: two coroutines each yielding 1,000,000 times (--size), a yield being
// a post of the coroutine's continuation. ops = 2,000,000; check = the total.
awaitable<void> yielder(int n, wait_group& wg, std::atomic<std::uint64_t>& total) {
  std::uint64_t mine = 0;
  for (int i = 0; i < n; ++i) {
    co_await asio::post(use_awaitable);
    ++mine;
  }
  total.fetch_add(mine);
  wg.done();
}

awaitable<result> yield(asio::io_context&) {
  const int n = int(gort_bench::size_or(1'000'000));
  auto ex = co_await asio::this_coro::executor;
  wait_group wg;
  std::atomic<std::uint64_t> total{0};
  wg.add(2);
  for (int f = 0; f < 2; ++f) asio::co_spawn(ex, yielder(n, wg, total), rethrow);
  co_await wg.async_wait(use_awaitable);
  co_return result{2 * std::uint64_t(n), std::to_string(total.load())};
}

// skynet: 1,000,000 leaves (--size, a power of 10), fan-out 10, one
// unbuffered result channel per parent. ops = 1,111,111 coroutines; check =
// 499999500000.
awaitable<void> skynet_node(chan_ptr<std::int64_t> out, std::int64_t num, std::int64_t size,
                            std::int64_t div) {
  if (size == 1) {
    co_await out->async_send(num, use_awaitable);
    co_return;
  }
  auto rc = std::make_shared<channel<std::int64_t>>();
  auto ex = co_await asio::this_coro::executor;
  for (std::int64_t i = 0; i < div; ++i)
    asio::co_spawn(ex, skynet_node(rc, num + i * (size / div), size / div, div), rethrow);
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < div; ++i) sum += co_await rc->async_receive(use_awaitable);
  co_await out->async_send(sum, use_awaitable);
}

awaitable<result> skynet(asio::io_context&) {
  const auto leaves = std::int64_t(gort_bench::size_or(1'000'000));
  auto ex = co_await asio::this_coro::executor;
  auto c = std::make_shared<channel<std::int64_t>>();
  asio::co_spawn(ex, skynet_node(c, 0, leaves, 10), rethrow);
  std::int64_t sum = co_await c->async_receive(use_awaitable);
  co_return result{std::uint64_t(leaves * 10 - 1) / 9, std::to_string(sum)};
}

// pingpong: two coroutines, two unbuffered channels of ints, 1,000,000 round
// trips (--size; ping sends v, pong answers v+1). ops = round trips; check =
// the final value, 1000000.
awaitable<void> pong_side(chan_ptr<int> ping, chan_ptr<int> pong) {
  for (;;) {
    error_code ec;
    int v = co_await ping->async_receive(asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::eof) co_return;  // ping closed
    co_await pong->async_send(v + 1, use_awaitable);
  }
}

awaitable<void> ping_side(int n, chan_ptr<int> ping, chan_ptr<int> pong, chan_ptr<int> done) {
  int v = 0;
  for (int i = 0; i < n; ++i) {
    co_await ping->async_send(v, use_awaitable);
    v = co_await pong->async_receive(use_awaitable);
  }
  ping->close();
  co_await done->async_send(v, use_awaitable);
}

awaitable<result> pingpong(asio::io_context&) {
  const int n = int(gort_bench::size_or(1'000'000));
  auto ex = co_await asio::this_coro::executor;
  auto ping = std::make_shared<channel<int>>(), pong = std::make_shared<channel<int>>(),
       done = std::make_shared<channel<int>>();
  asio::co_spawn(ex, pong_side(ping, pong), rethrow);
  asio::co_spawn(ex, ping_side(n, ping, pong, done), rethrow);
  int v = co_await done->async_receive(use_awaitable);
  co_return result{std::uint64_t(n), std::to_string(v)};
}

// sieve: Go's concurrent prime sieve (a generator and one filter coroutine
// per prime over unbuffered channels), the first 1,000 primes (--size). ops =
// 1000; check = the 1000th prime, 7919. The coroutines are left waiting, as
// in Go's example.
awaitable<void> generate(chan_ptr<int> out) {
  for (int i = 2;; ++i) co_await out->async_send(i, use_awaitable);
}

awaitable<void> filter(chan_ptr<int> in, chan_ptr<int> out, int prime) {
  for (;;) {
    int v = co_await in->async_receive(use_awaitable);
    if (v % prime != 0) co_await out->async_send(v, use_awaitable);
  }
}

awaitable<result> sieve(asio::io_context&) {
  const int n = int(gort_bench::size_or(1000));
  auto ex = co_await asio::this_coro::executor;
  auto ch = std::make_shared<channel<int>>();
  asio::co_spawn(ex, generate(ch), rethrow);
  int prime = 0;
  for (int i = 0; i < n; ++i) {
    prime = co_await ch->async_receive(use_awaitable);
    auto ch1 = std::make_shared<channel<int>>();
    asio::co_spawn(ex, filter(ch, ch1, prime), rethrow);
    ch = ch1;
  }
  co_return result{std::uint64_t(n), std::to_string(prime)};
}

// mpmc: one channel of capacity 1024, 4 producers each sending 1..2,500,000
// (--size), 4 consumers summing. ops = 10,000,000; check = 12500005000000.
awaitable<void> producer(std::int64_t per, chan_ptr<std::int64_t> ch, wait_group& wg) {
  for (std::int64_t v = 1; v <= per; ++v) co_await ch->async_send(v, use_awaitable);
  wg.done();
}

awaitable<void> consumer(chan_ptr<std::int64_t> ch, wait_group& wg, std::atomic<std::int64_t>& total) {
  std::int64_t sum = 0;
  for (;;) {
    error_code ec;
    std::int64_t v = co_await ch->async_receive(asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::eof) break;
    sum += v;
  }
  total.fetch_add(sum);
  wg.done();
}

awaitable<result> mpmc(asio::io_context&) {
  constexpr int producers = 4, consumers = 4;
  const auto per = std::int64_t(gort_bench::size_or(2'500'000));
  auto ex = co_await asio::this_coro::executor;
  auto ch = std::make_shared<channel<std::int64_t>>(1024);
  wait_group pwg, cwg;
  std::atomic<std::int64_t> total{0};
  pwg.add(producers);
  for (int p = 0; p < producers; ++p) asio::co_spawn(ex, producer(per, ch, pwg), rethrow);
  cwg.add(consumers);
  for (int c = 0; c < consumers; ++c) asio::co_spawn(ex, consumer(ch, cwg, total), rethrow);
  co_await pwg.async_wait(use_awaitable);
  ch->close();
  co_await cwg.async_wait(use_awaitable);
  co_return result{std::uint64_t(producers * per), std::to_string(total.load())};
}

// Runs f() on `strand` (so never at the same time as another function posted
// to it), then resumes the caller on its own executor: a strand used as a
// mutex. The resumption is a dispatch, so on an io_context thread the caller
// goes on at once, without another trip through the queue.
template <typename Strand, typename F, typename Token>
auto async_on_strand(const Strand& strand, F f, Token&& token) {
  return asio::async_initiate<Token, void()>(
      [&strand](auto handler, F fn) {
        asio::post(strand, [fn = std::move(fn), h = std::move(handler)]() mutable {
          fn();
          auto ex = asio::get_associated_executor(h);
          asio::dispatch(ex, std::move(h));
        });
      },
      token, std::move(f));
}

// mutex: 100 coroutines each incrementing a shared counter 100,000 times
// (--size), each increment run on one strand. ops = 10,000,000; check =
// 10000000.
using strand_t = asio::strand<asio::io_context::executor_type>;

awaitable<void> incrementer(int per, const strand_t& strand, std::uint64_t& counter, wait_group& wg) {
  for (int i = 0; i < per; ++i)
    co_await async_on_strand(
        strand, [&counter] { ++counter; }, use_awaitable);
  wg.done();
}

awaitable<result> mutex_counter(asio::io_context& ctx) {
  constexpr int coroutines = 100;
  const int per = int(gort_bench::size_or(100'000));
  auto ex = co_await asio::this_coro::executor;
  strand_t strand = asio::make_strand(ctx);
  std::uint64_t counter = 0;  // touched only on the strand
  wait_group wg;
  wg.add(coroutines);
  for (int c = 0; c < coroutines; ++c) asio::co_spawn(ex, incrementer(per, strand, counter, wg), rethrow);
  co_await wg.async_wait(use_awaitable);
  std::uint64_t final_count = 0;
  co_await async_on_strand(
      strand, [&] { final_count = counter; }, use_awaitable);
  co_return result{std::uint64_t(coroutines) * std::uint64_t(per), std::to_string(final_count)};
}

// splitmix64, balance's generator (bench/go and gort-bench use the same one).
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

// balance: one coroutine spawns 100,000 tasks (--size) of 1-20 us of busy
// work, task i taking 1 + (the i-th splitmix64 output from seed 42) % 20 us.
// ops = 100,000; check = the total work in us, 1053836.
awaitable<void> busy_task(std::uint64_t us, wait_group& wg) {
  busy(std::chrono::microseconds(us));
  wg.done();
  co_return;
}

awaitable<void> spawner(int n, wait_group& wg, std::uint64_t& total) {
  auto ex = co_await asio::this_coro::executor;
  splitmix64 rng{42};
  wg.add(n);
  for (int i = 0; i < n; ++i) {
    std::uint64_t us = 1 + rng.next() % 20;
    total += us;
    asio::co_spawn(ex, busy_task(us, wg), rethrow);
  }
  wg.done();
}

awaitable<result> balance(asio::io_context&) {
  const int n = int(gort_bench::size_or(100'000));
  auto ex = co_await asio::this_coro::executor;
  wait_group wg;
  std::uint64_t total = 0;  // written by the spawner only, read after the wait
  wg.add(1);
  asio::co_spawn(ex, spawner(n, wg, total), rethrow);
  co_await wg.async_wait(use_awaitable);
  co_return result{std::uint64_t(n), std::to_string(total)};
}

std::int64_t cpu_nanos() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) {
    return std::int64_t(tv.tv_sec) * 1'000'000'000 + std::int64_t(tv.tv_usec) * 1000;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

// idle: nothing to do for 1 s (--size ms; the main coroutine waits on a
// timer). ops = 1; ns_per_op = the CPU ns the process used meanwhile; check =
// the ms waited, 1000.
awaitable<result> idle(asio::io_context&) {
  const std::uint64_t ms = gort_bench::size_or(1000);
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  std::int64_t before = cpu_nanos();
  co_await timer.async_wait(use_awaitable);
  co_return result{1, std::to_string(ms), double(cpu_nanos() - before)};
}

using workload_fn = awaitable<result> (*)(asio::io_context&);

const std::map<std::string, workload_fn> workloads = {
    {"spawn", spawn},         {"yield", yield},     {"skynet", skynet},
    {"pingpong", pingpong},   {"sieve", sieve},     {"mpmc", mpmc},
    {"mutex", mutex_counter}, {"balance", balance}, {"idle", idle},
};

// The top-level coroutine: times the workload, then stops the io_context.
awaitable<void> timed(workload_fn fn, asio::io_context& ctx, result& r, double& ns) {
  auto t0 = std::chrono::steady_clock::now();
  r = co_await fn(ctx);
  auto t1 = std::chrono::steady_clock::now();
  ns = double(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  ctx.stop();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> names;
  for (auto& [name, fn] : workloads) names.push_back(name);
  gort_bench::cli_args args;
  if (int rc = gort_bench::parse_cli("asio-bench", argc, argv, names, args)) return rc;
  const unsigned workers = args.workers;

  asio::io_context ctx{int(workers)};  // the concurrency hint
  result r;
  double ns = 0;
  asio::co_spawn(ctx, timed(workloads.at(args.workload), ctx, r, ns), rethrow);
  std::vector<std::thread> helpers;
  for (unsigned t = 1; t < workers; ++t) helpers.emplace_back([&ctx] { ctx.run(); });
  ctx.run();
  for (auto& t : helpers) t.join();

  double per_op = r.ns_override >= 0 ? r.ns_override / double(r.ops) : r.ops ? ns / double(r.ops) : 0.0;
  std::printf("BENCH name=%s workers=%u ops=%llu ns_per_op=%.2f check=%s\n", args.workload.c_str(), workers,
              static_cast<unsigned long long>(r.ops), per_op, r.check.c_str());
  std::fflush(stdout);
  std::_Exit(0);
}
