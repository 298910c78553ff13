// race_condition: next(&a) three times in a row gives 3; in three fibers the
// read-modify-write steps interleave and the result is 1, 2 or 3. A
// gort::mutex around the critical section makes it 3 again.
//
// The racy part is a real data race: build with -DGORT_SANITIZE=thread and
// ThreadSanitizer reports it, as `go run -race` does, at any worker count
// (`race_condition 1` runs on one worker: the fibers take turns, and the
// race is still reported).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "gort/gort.hpp"

// Reads, lets another fiber run (a stand-in for real work), writes back.
void next(int* a) {
  int v = *a;
  gort::yield();
  *a = v + 1;
}

gort::mutex mu;
void safe_next(int* a) {
  std::lock_guard lock(mu);  // the whole read-modify-write under the lock
  next(a);
}

int main(int argc, char** argv) {
  // Workers: the first argument, else one per racing fiber plus main.
  const unsigned workers = argc > 1 ? unsigned(std::strtoul(argv[1], nullptr, 10)) : 4;
  return gort::run(
      [] {
        int a = 0;
        for (int i = 0; i < 3; ++i) next(&a);
        std::printf("sequential: %d\n", a);

        int b = 0;
        gort::wait_group wg;
        // The three start together, on different workers when there are
        // enough, as goroutines would on GOMAXPROCS cores. (The start line is a
        // relaxed counter: it orders nothing, so the race below stays a race.
        // On fewer workers a fiber spinning on it is handed off to another
        // thread after 10 ms, so the others still get to start.)
        std::atomic<int> at_start{0};
        for (int i = 0; i < 3; ++i) {
          wg.add(1);
          gort::go([&] {
            at_start.fetch_add(1, std::memory_order_relaxed);
            while (at_start.load(std::memory_order_relaxed) < 3) {}
            next(&b);  // races with the other two
            wg.done();
          });
        }
        wg.wait();
        std::printf(
            "racy fibers: %d (1, 2 or 3; build with -DGORT_SANITIZE=thread to see the race reported)\n", b);

        int c = 0;
        for (int i = 0; i < 3; ++i) {
          wg.add(1);
          gort::go([&] {
            safe_next(&c);
            wg.done();
          });
        }
        wg.wait();
        std::printf("with mutex: %d\n", c);
      },
      {.workers = workers});
}
