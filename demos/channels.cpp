// channels: make(chan int, 1). A buffered channel with room for one value:
// main can send and then receive by itself, and prints 1. With an unbuffered
// channel a send waits for a receiver, so the value must come from another
// fiber (sending and receiving in main alone is the `deadlock` demo).
#include <cstdio>

#include "gort/gort.hpp"

int main() {
  return gort::run([] {
    gort::chan<int> buffered(1);  // make(chan int, 1)
    buffered.send(1);             // fits in the buffer: does not block
    std::printf("buffered: %d\n", *buffered.recv());

    gort::chan<int> unbuffered;  // make(chan int)
    gort::go([unbuffered]() mutable { unbuffered.send(1); });  // blocks until main receives
    std::printf("unbuffered: %d\n", *unbuffered.recv());
  });
}
