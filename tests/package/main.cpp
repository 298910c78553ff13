// The package test's consumer: runs fibers through the installed headers and
// library and checks the result (exit 0 only if everything adds up).
#include <gort/gort.hpp>

#include <atomic>
#include <cstdio>

int main() {
  std::atomic<int> sum{0};
  int r = gort::run(
      [&] {
        gort::wait_group wg;
        for (int i = 1; i <= 100; ++i) {
          wg.add(1);
          gort::go([&sum, &wg, i] {
            gort::yield();
            sum.fetch_add(i);
            wg.done();
          });
        }
        wg.wait();
        auto t = gort::spawn([] { return gort::fiber_id() > 1 ? 42 : -1; });
        return t.join();
      },
      {.workers = 2});
  if (r != 42 || sum.load() != 5050) {
    std::fprintf(stderr, "package consumer: run returned %d, sum %d (want 42, 5050)\n", r, sum.load());
    return 1;
  }
  std::puts("package consumer: ok (42, 5050)");
  return 0;
}
