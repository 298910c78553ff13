// read_them: the final readThem program. main sends 1..5 on an unbuffered
// channel and closes it; read_them (taking a receive-only view, <-chan int)
// prints every value until the close ends its loop; the wait_group makes main
// wait for the last print. Prints 1 2 3 4 5, one per line.
#include <cstdio>
#include <functional>

#include "gort/gort.hpp"

void read_them(gort::recv_chan<int> ch, gort::wait_group& wg) {
  for (int v : ch) std::printf("%d\n", v);
  wg.done();
}

int main() {
  return gort::run([] {
    gort::chan<int> ch;
    gort::wait_group wg;
    wg.add(1);
    gort::go(read_them, ch, std::ref(wg));  // std::ref: arguments are copied otherwise
    for (int i = 1; i <= 5; ++i) ch.send(i);
    ch.close();
    wg.wait();
  });
}
