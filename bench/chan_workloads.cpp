// Channel workloads: skynet, pingpong, sieve, mpmc. Definitions
// mirror bench/go/main.go line for line.
#include <atomic>
#include <cstdint>
#include <string>

#include "bench.hpp"
#include "cli.hpp"
#include "gort/gort.hpp"

namespace {

// skynet: 1,000,000 leaves (--size, a power of 10), fan-out 10, one unbuffered result channel per
// parent. ops = 1,111,111 fibers; check = 499999500000.
void skynet_node(gort::send_chan<std::int64_t> out, std::int64_t num, std::int64_t size, std::int64_t div) {
  if (size == 1) {
    out.send(num);
    return;
  }
  gort::chan<std::int64_t> rc;
  for (std::int64_t i = 0; i < div; ++i)
    gort::go(&skynet_node, gort::send_chan<std::int64_t>(rc), num + i * (size / div), size / div, div);
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < div; ++i) sum += *rc.recv();
  out.send(sum);
}

gort_bench::result skynet(unsigned) {
  const auto leaves = std::int64_t(gort_bench::size_or(1'000'000));
  gort::chan<std::int64_t> c;
  gort::go(&skynet_node, gort::send_chan<std::int64_t>(c), std::int64_t(0), leaves, std::int64_t(10));
  return {std::uint64_t(leaves * 10 - 1) / 9, std::to_string(*c.recv())};
}

// pingpong: two fibers, two unbuffered channels of ints, 1,000,000 round
// trips (--size) (ping sends v, pong answers v+1). ops = round trips; check = the final
// value, 1000000.
gort_bench::result pingpong(unsigned) {
  const int n = int(gort_bench::size_or(1'000'000));
  gort::chan<int> ping, pong, done;
  gort::go([=]() mutable {  // pong
    for (int v : ping) pong.send(v + 1);
  });
  gort::go([=]() mutable {  // ping
    int v = 0;
    for (int i = 0; i < n; ++i) {
      ping.send(v);
      v = *pong.recv();
    }
    ping.close();
    done.send(v);
  });
  return {std::uint64_t(n), std::to_string(*done.recv())};
}

// sieve: Go's concurrent prime sieve (a generator and one filter fiber per
// prime over unbuffered channels), the first 1,000 primes (--size). ops = 1000; check =
// the 1000th prime, 7919. The fibers are left blocked, as in Go's example
// (run() unwinds them at exit).
gort_bench::result sieve(unsigned) {
  const int n = int(gort_bench::size_or(1000));
  gort::chan<int> ch;
  gort::go(
      [](gort::send_chan<int> out) {
        for (int i = 2;; ++i) out.send(i);
      },
      gort::send_chan<int>(ch));
  int prime = 0;
  for (int i = 0; i < n; ++i) {
    prime = *ch.recv();
    gort::chan<int> ch1;
    gort::go(
        [](gort::recv_chan<int> in, gort::send_chan<int> out, int p) {
          for (;;) {
            int v = *in.recv();
            if (v % p != 0) out.send(v);
          }
        },
        gort::recv_chan<int>(ch), gort::send_chan<int>(ch1), prime);
    ch = ch1;
  }
  return {std::uint64_t(n), std::to_string(prime)};
}

// mpmc: one channel of capacity 1024, 4 producers each sending 1..2,500,000
// (--size), 4 consumers summing. ops = 10,000,000; check = 12500005000000.
gort_bench::result mpmc(unsigned) {
  constexpr int producers = 4, consumers = 4;
  const auto per = std::int64_t(gort_bench::size_or(2'500'000));
  gort::chan<std::int64_t> ch(1024);
  gort::wait_group pwg, cwg;
  std::atomic<std::int64_t> total{0};
  pwg.add(producers);
  for (int p = 0; p < producers; ++p) {
    gort::go([&] {
      for (std::int64_t v = 1; v <= per; ++v) ch.send(v);
      pwg.done();
    });
  }
  cwg.add(consumers);
  for (int c = 0; c < consumers; ++c) {
    gort::go([&] {
      std::int64_t sum = 0;
      for (std::int64_t v : ch) sum += v;
      total.fetch_add(sum);
      cwg.done();
    });
  }
  pwg.wait();
  ch.close();
  cwg.wait();
  return {std::uint64_t(producers * per), std::to_string(total.load())};
}

GORT_BENCH_WORKLOAD("skynet", skynet);
GORT_BENCH_WORKLOAD("pingpong", pingpong);
GORT_BENCH_WORKLOAD("sieve", sieve);
GORT_BENCH_WORKLOAD("mpmc", mpmc);

}  // namespace
