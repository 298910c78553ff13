// atomic_sum: 1..100 summed by two fibers, each adding its half to one
// std::atomic<int> with fetch_add (Go's atomic.AddInt32). Prints 5050.
#include <atomic>
#include <cstdio>

#include "gort/gort.hpp"

int main() {
  return gort::run([] {
    std::atomic<int> total{0};
    gort::wait_group wg;
    auto add_range = [&](int from, int to) {
      for (int i = from; i <= to; ++i) total.fetch_add(i);  // atomic.AddInt32(&total, i)
      wg.done();
    };
    wg.add(2);
    gort::go(add_range, 1, 50);
    gort::go(add_range, 51, 100);
    wg.wait();
    std::printf("%d\n", total.load());
  });
}
