// buffers: a channel of capacity 2 holds 1 and 2 without a receiver; a third
// send would block main forever (run with --deadlock to see gort report it).
// Then the readThem way: a fiber ranges over the channel until it is closed,
// and a wait_group keeps main alive until it is done. Prints 1 to 5.
#include <cstdio>
#include <cstring>

#include "gort/gort.hpp"

void read_them(gort::recv_chan<int> ch, gort::wait_group* wg) {
  for (int v : ch) std::printf("%d\n", v);  // for v := range ch
  wg->done();
}

int main(int argc, char** argv) {
  bool deadlock = argc > 1 && std::strcmp(argv[1], "--deadlock") == 0;
  return gort::run([deadlock] {
    gort::chan<int> ch(2);  // make(chan int, 2)
    ch.send(1);
    ch.send(2);
    std::printf("len %zu cap %zu\n", ch.size(), ch.capacity());
    if (deadlock) ch.send(3);  // no room, no receiver: fatal error, exit 2
    int first = *ch.recv();
    int second = *ch.recv();
    std::printf("%d %d\n", first, second);

    std::printf("-- readThem:\n");
    gort::chan<int> nums(2);
    gort::wait_group wg;
    wg.add(1);
    gort::go(read_them, nums, &wg);
    for (int i = 1; i <= 5; ++i) nums.send(i);
    nums.close();  // ends the range in read_them
    wg.wait();
  });
}
