// context_timeout: a search that gives up after a deadline (Go's context
// package in the style of the "Go Concurrency Patterns: Context" post).
// Several replicas are asked at once; the first answer wins; when the
// deadline passes first, the search gives up. Either way the replicas still
// working are told to stop through the context, and the search waits until
// every one of them has returned, answered or cancelled.
//
//   first search:  every replica is slower than the 100 ms deadline: give up
//   second search: one replica answers in 10 ms; the other two are cancelled
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "gort/gort.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// A request-scoped value, found by type (context.WithValue).
struct query {
  std::string text;
};

struct tally {
  std::atomic<int> answered{0}, cancelled{0};
};

// One replica: "works" for `latency` unless the context is done first, then
// offers its answer (the results channel has room for every replica, so no
// one blocks on a result that nobody reads any more).
void replica(gort::context ctx, std::string name, std::chrono::milliseconds latency,
             gort::send_chan<std::string> results, tally* t, gort::wait_group* wg) {
  gort::select(gort::recv_case(gort::after(latency),
                               [&](auto) {
                                 results.send(ctx.value<query>()->text + " result from " + name);
                                 ++t->answered;
                               }),
               gort::recv_case(ctx.done(), [&](auto) { ++t->cancelled; }));
  wg->done();
}

void search(std::chrono::milliseconds deadline, const std::vector<std::chrono::milliseconds>& latencies) {
  std::printf("search \"gort\", %lld ms deadline, %zu replicas:\n", static_cast<long long>(deadline.count()),
              latencies.size());
  const auto t0 = clock_type::now();
  auto [ctx, cancel] = gort::with_timeout(gort::background(), deadline);
  gort::context req = gort::with_value(ctx, query{"gort"});
  gort::chan<std::string> results(latencies.size());
  tally t;
  gort::wait_group wg;
  for (std::size_t i = 0; i < latencies.size(); ++i) {
    wg.add(1);
    gort::go(
        [=, &t, &wg] { replica(req, "replica-" + std::to_string(i + 1), latencies[i], results, &t, &wg); });
  }
  auto ms = [&] { return static_cast<long long>((clock_type::now() - t0) / 1ms); };
  gort::select(
      gort::recv_case(results,
                      [&](auto r) { std::printf("  first answer after %lld ms: %s\n", ms(), r->c_str()); }),
      gort::recv_case(ctx.done(), [&, ctx = ctx](auto) {
        std::printf("  gave up after %lld ms: %s\n", ms(), ctx.err().message().c_str());
      }));
  cancel();   // the replicas still working stop now (defer cancel() in Go)
  wg.wait();  // and every one of them has returned
  std::printf("  %zu searchers returned: %d answered, %d cancelled\n", latencies.size(), t.answered.load(),
              t.cancelled.load());
}

}  // namespace

int main() {
  return gort::run([] {
    search(100ms, {2000ms, 3000ms, 5000ms});
    search(10'000ms, {10ms, 3000ms, 5000ms});
  });
}
