// skynet: the classic fiber benchmark. One fiber spawns 10 children, each of
// those 10 more, down to 1,000,000 leaves (1,111,111 fibers in all); each
// leaf sends its number, each parent sums its children's and sends the sum
// up. Prints 499999500000 and the time it took.
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "gort/gort.hpp"

void skynet(gort::send_chan<std::int64_t> out, std::int64_t num, std::int64_t size, std::int64_t div) {
  if (size == 1) {
    out.send(num);
    return;
  }
  gort::chan<std::int64_t> children;
  for (std::int64_t i = 0; i < div; ++i) gort::go(skynet, children, num + i * (size / div), size / div, div);
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < div; ++i) sum += *children.recv();
  out.send(sum);
}

int main() {
  return gort::run([] {
    auto start = std::chrono::steady_clock::now();
    gort::chan<std::int64_t> result;
    gort::go(skynet, result, std::int64_t(0), std::int64_t(1'000'000), std::int64_t(10));
    std::int64_t sum = *result.recv();
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("Result: %lld in %.0f ms (%u workers)\n", (long long)sum, ms, gort::num_workers());
  });
}
