// waitgroup_sum: sum(1,100) in a fiber and sum(1,10) in main. First the
// "not-so-elegant" way (main sleeps and hopes the fiber is done), then with a
// wait_group, which waits exactly as long as needed. Both print "5050 55".
// The sleep orders nothing: the first way is a data race, which
// -DGORT_SANITIZE=thread reports, as `go run -race` does.
#include <chrono>
#include <cstdio>

#include "gort/gort.hpp"

int sum(int from, int to) {
  int s = 0;
  for (int i = from; i <= to; ++i) s += i;
  return s;
}

int main() {
  return gort::run([] {
    // 1. With a sleep: works only if the fiber finishes within the sleep,
    //    and is a data race on `a` either way.
    int a = 0;
    gort::go([&a] { a = sum(1, 100); });
    gort::sleep_for(std::chrono::milliseconds(100));  // time.Sleep: a guess
    std::printf("sleep:      %d %d\n", a, sum(1, 10));

    // 2. With a wait_group: Add before go, Done in the fiber, Wait in main.
    int b = 0;
    gort::wait_group wg;
    wg.add(1);
    gort::go([&] {
      b = sum(1, 100);
      wg.done();
    });
    int c = sum(1, 10);  // main works meanwhile
    wg.wait();
    std::printf("wait_group: %d %d\n", b, c);
  });
}
