// Context workload: cancellation's fixed costs. Mirrors bench/go/main.go.
#include <cstdint>
#include <string>

#include "bench.hpp"
#include "gort/gort.hpp"

namespace {

// context: 1,000,000 times, a child of a long-lived cancellable context is
// made (WithCancel, which links it into the parent) and cancelled at once
// with nobody waiting on it (which unlinks it). ops = 1,000,000; check = the
// children whose err() was canceled afterwards, 1000000.
gort_bench::result context_cancel(unsigned) {
  constexpr int n = 1'000'000;
  auto [parent, cancel_parent] = gort::with_cancel(gort::background());
  std::uint64_t canceled = 0;
  for (int i = 0; i < n; ++i) {
    auto [ctx, cancel] = gort::with_cancel(parent);
    cancel();
    canceled += ctx.err() == gort::context_errc::canceled;
  }
  cancel_parent();
  return {n, std::to_string(canceled)};
}

GORT_BENCH_WORKLOAD("context", context_cancel);

}  // namespace
